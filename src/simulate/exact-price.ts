import { Decimal } from "../domain/decimal.js";
import type { SimulatedTier } from "./simulated-catalog.js";

/**
 * What a line of `quantity` must cost under graduated `tiers`, worked out
 * here rather than by the server's pricing code so that the bill check is an
 * independent opinion: each unit is priced by the tier it falls in, the tier
 * amounts are summed exactly, and the sum is rounded once, half to even, to
 * `minorUnitDigits` (the README's rule). Written with exactly that many digits
 * after the point, as bills are ("12.50").
 */
export function exactLineAmount(quantity: Decimal, tiers: readonly SimulatedTier[], minorUnitDigits: number): string {
  let exact = Decimal.ZERO;
  let floor = Decimal.ZERO;
  for (const tier of tiers) {
    const ceiling = tier.upTo === undefined ? quantity : quantity.min(parseExact(tier.upTo));
    if (ceiling.compare(floor) > 0) exact = exact.add(ceiling.sub(floor).mul(parseExact(tier.unitAmount)));
    if (tier.upTo === undefined) break;
    floor = parseExact(tier.upTo);
  }
  return exact.roundHalfEven(minorUnitDigits).toFixed(minorUnitDigits);
}

function parseExact(text: string): Decimal {
  const value = Decimal.parse(text);
  if (value === undefined) throw new RangeError(`not a decimal: "${text}"`);
  return value;
}
