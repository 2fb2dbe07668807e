import { Decimal } from "../domain/decimal.js";
import type { SimulatedMeter } from "./simulated-catalog.js";

/**
 * What a line of `quantity` must cost under a simulated price, worked out here
 * rather than by the server's pricing code so that the bill check is an
 * independent opinion, straight from DESIGN.md's "Prices": graduated prices
 * each unit by its tier and adds the flat fee of every tier reached; volume
 * prices all of it by the tier the total falls in, plus that tier's fee;
 * package counts started packages. Nothing is charged for 0. The exact sum is
 * rounded once, half to even, to `minorUnitDigits` (the README's rule), and
 * written with exactly that many digits after the point, as bills are ("12.50").
 */
export function exactLineAmount(quantity: Decimal, price: Pick<SimulatedMeter, "model" | "tiers" | "packageSize">, minorUnitDigits: number): string {
  const exact = quantity.isZero() ? Decimal.ZERO : modelAmount(quantity, price);
  return exact.roundHalfEven(minorUnitDigits).toFixed(minorUnitDigits);
}

function modelAmount(quantity: Decimal, { model, tiers, packageSize }: Pick<SimulatedMeter, "model" | "tiers" | "packageSize">): Decimal {
  if (model === "package") {
    // Both as whole units of 10^-12 (no quantity or package size has more digits), then a ceiling division.
    const units = (value: Decimal) => BigInt(value.toFixed(12).replace(".", ""));
    const size = units(parseExact(packageSize ?? ""));
    const packages = (units(quantity) + size - 1n) / size;
    return Decimal.fromInteger(packages).mul(parseExact(tiers[0]!.unitAmount));
  }
  let exact = Decimal.ZERO;
  let floor = Decimal.ZERO;
  for (const tier of tiers) {
    const ceiling = tier.upTo === undefined ? quantity : quantity.min(parseExact(tier.upTo));
    const flatAmount = tier.flatAmount === undefined ? Decimal.ZERO : parseExact(tier.flatAmount);
    if (model === "volume" && (tier.upTo === undefined || quantity.compare(parseExact(tier.upTo)) <= 0)) {
      return quantity.mul(parseExact(tier.unitAmount)).add(flatAmount);
    }
    if (model === "graduated" && ceiling.compare(floor) > 0) {
      exact = exact.add(ceiling.sub(floor).mul(parseExact(tier.unitAmount))).add(flatAmount);
    }
    if (tier.upTo === undefined) break;
    floor = parseExact(tier.upTo);
  }
  return exact;
}

function parseExact(text: string): Decimal {
  const value = Decimal.parse(text);
  if (value === undefined) throw new RangeError(`not a decimal: "${text}"`);
  return value;
}
