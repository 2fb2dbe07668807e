import type { BillingPeriod } from "./billing-period.js";
import { Decimal } from "./decimal.js";
import { priceDimensionKeyOf } from "./dimensions.js";
import { type Failure, failure } from "./failure.js";

/**
 * How a price's tiers turn a billable quantity into an amount (DESIGN.md,
 * "Prices"). Every model prices a quantity of 0 at 0.
 * - graduated: each unit at the unit amount of the tier it falls in, plus the
 *   flat amount of every tier that holds some of the quantity;
 * - volume: all of the quantity at the unit amount of the one tier the total
 *   falls in (up_to inclusive), plus that tier's flat amount;
 * - package: ceil(quantity / packageSize) packages at the one tier's unit amount.
 */
export type PricingModel = "graduated" | "volume" | "package";

/** One band of a price. */
export interface PriceTier {
  /** Inclusive upper bound of billable quantity; null for no bound (last tier only). */
  upTo: Decimal | null;
  /** Price of one unit in this tier (of one package, under the package model). */
  unitAmount: Decimal;
  /** A fixed fee of the tier; null when it has none (never under the package model). */
  flatAmount: Decimal | null;
}

/** One version of a meter's price in one currency. */
export interface Price {
  id: string;
  meterKey: string;
  currencyCode: string;
  model: PricingModel;
  tiers: PriceTier[];
  /** Units in one package: set under the package model, null under the others. */
  packageSize: Decimal | null;
  /**
   * The dimension values of the usage it prices (each key one of the meter's
   * dimensions); {} prices the usage no more specific price covers.
   */
  dimensionValues: Record<string, string>;
  /** The one customer (Tally id) this price is for, winning over the catalog's; "" for the catalog price. */
  customerId: string;
  /** The period from whose start this version applies. */
  effectivePeriod: BillingPeriod;
  /** 1, 2, ... within (meterKey, currencyCode, dimensionValues, customerId). */
  version: number;
  createTime: number;
}

/**
 * What a caller asks for when creating a price; "" effectivePeriod means the
 * current period, and customerId may be the customer's Tally id or external_id.
 */
export type PriceDraft = Pick<Price, "meterKey" | "currencyCode" | "model" | "tiers" | "packageSize" | "effectivePeriod" | "dimensionValues" | "customerId">;

/** What a price charges by: all a bill line needs of it. */
export type PricingTerms = Pick<Price, "model" | "tiers" | "packageSize">;

/**
 * What one tier charges of a line, exactly: amount = quantity x unitAmount +
 * flatAmount, or packages x unitAmount under the package model.
 */
export interface TierCharge {
  upTo: Decimal | null;
  /** The part of the line's quantity this tier prices. */
  quantity: Decimal;
  unitAmount: Decimal;
  /** The tier's flat fee when this line pays it; null when it pays none. */
  flatAmount: Decimal | null;
  /** The package model's ceil(quantity / packageSize); null under the others. */
  packages: Decimal | null;
  amount: Decimal;
}

/** The most tiers a price may have. */
export const MAX_PRICE_TIERS = 32;

/**
 * The most digits before the point of a price's decimals (unit_amount, up_to):
 * 10^30 of any currency, far past any real price or tier bound. With these and
 * the 20 + 9 digits of a quantity total, a tier's exact amount has at most 50
 * + 21 digits, so a bill line costs microseconds however the catalog is set.
 */
export const MAX_PRICE_INTEGER_DIGITS = 30;

/** The most digits after the point of a price's decimals: a unit price of 10^-12 (a millionth of a micro-unit). */
export const MAX_PRICE_FRACTION_DIGITS = 12;

/**
 * A price's terms must price every quantity exactly one way: tiers with
 * strictly ascending, positive bounds, only the last (and always the last)
 * unbounded; a package price has exactly that one tier, a package size above
 * 0 and no flat amount; the other models have no package size.
 */
export function checkPricingTerms({ model, tiers, packageSize }: PricingTerms): Failure | undefined {
  if (model === "package") {
    if (packageSize === null) return failure("INVALID_FIELD", "a PACKAGE price needs a package_size", "price.package_size");
    if (packageSize.isZero()) return failure("INVALID_FIELD", "package_size must be greater than 0", "price.package_size");
    if (tiers.length !== 1) {
      return failure("INVALID_FIELD", "a PACKAGE price has exactly one tier, with an empty up_to", "price.tiers");
    }
    if (tiers[0]!.flatAmount !== null) {
      return failure("INVALID_FIELD", "a PACKAGE price's tier has no flat_amount", "price.tiers[0].flat_amount");
    }
  } else if (packageSize !== null) {
    return failure("INVALID_FIELD", "only a PRICING_MODEL_PACKAGE price has a package_size", "price.package_size");
  }
  return checkTiers(tiers);
}

/**
 * Tiers must have strictly ascending, positive bounds, and only the last may
 * (and must) be unbounded, so that every quantity falls into exactly one tier.
 */
export function checkTiers(tiers: PriceTier[], field = "price.tiers"): Failure | undefined {
  if (tiers.length === 0) return failure("INVALID_FIELD", "a price needs at least one tier", field);
  if (tiers.length > MAX_PRICE_TIERS) return failure("INVALID_FIELD", `a price has at most ${MAX_PRICE_TIERS} tiers`, field);
  let previous = Decimal.ZERO;
  for (const [index, tier] of tiers.entries()) {
    const isLast = index === tiers.length - 1;
    const path = `${field}[${index}].up_to`;
    if (tier.upTo === null) {
      if (!isLast) return failure("INVALID_FIELD", "only the last tier may have no upper bound", path);
      continue;
    }
    if (isLast) return failure("INVALID_FIELD", "the last tier must have no upper bound (empty up_to)", path);
    if (tier.upTo.compare(previous) <= 0) {
      return failure("INVALID_FIELD", `up_to must be greater than ${index === 0 ? "0" : "the previous tier's"}`, path);
    }
    previous = tier.upTo;
  }
  return undefined;
}

/**
 * What a billable quantity costs under a price's terms, tier by tier (every
 * tier of the price, in order, so a bill line shows the whole price). Amounts
 * are exact; rounding happens once, on the line.
 */
export function chargePrice(quantity: Decimal, terms: PricingTerms): TierCharge[] {
  switch (terms.model) {
    case "graduated":
      return chargeGraduated(quantity, terms.tiers);
    case "volume":
      return chargeVolume(quantity, terms.tiers);
    case "package":
      return chargePackage(quantity, terms.tiers[0]!, terms.packageSize!);
  }
}

/** The exact amount of a line: its tiers' amounts summed. */
export function exactAmount(charges: readonly TierCharge[]): Decimal {
  return charges.reduce((sum, charge) => sum.add(charge.amount), Decimal.ZERO);
}

/** Each unit priced by the tier it falls in; a tier holding any of the quantity adds its flat amount. */
function chargeGraduated(quantity: Decimal, tiers: PriceTier[]): TierCharge[] {
  const charges: TierCharge[] = [];
  let lowerBound = Decimal.ZERO;
  for (const tier of tiers) {
    const ceiling = tier.upTo === null ? quantity : tier.upTo.min(quantity);
    const inTier = ceiling.compare(lowerBound) > 0 ? ceiling.sub(lowerBound) : Decimal.ZERO;
    charges.push(tierCharge(tier, inTier));
    if (tier.upTo !== null) lowerBound = tier.upTo;
  }
  return charges;
}

/** All of the quantity priced by the one tier the total falls in (up_to inclusive); the others hold none. */
function chargeVolume(quantity: Decimal, tiers: PriceTier[]): TierCharge[] {
  const chosen = quantity.isZero() ? -1 : tiers.findIndex((tier) => tier.upTo === null || quantity.compare(tier.upTo) <= 0);
  return tiers.map((tier, index) => tierCharge(tier, index === chosen ? quantity : Decimal.ZERO));
}

/** Whole packages, the last one partly used counted in full. */
function chargePackage(quantity: Decimal, tier: PriceTier, packageSize: Decimal): TierCharge[] {
  const packages = quantity.divCeil(packageSize);
  return [{ upTo: tier.upTo, quantity, unitAmount: tier.unitAmount, flatAmount: null, packages, amount: packages.mul(tier.unitAmount) }];
}

/** A tier holding `inTier` of the quantity: its units, plus its flat fee when it holds any. */
function tierCharge(tier: PriceTier, inTier: Decimal): TierCharge {
  const flatAmount = inTier.isZero() ? null : tier.flatAmount;
  const unitsAmount = inTier.mul(tier.unitAmount);
  return {
    upTo: tier.upTo,
    quantity: inTier,
    unitAmount: tier.unitAmount,
    flatAmount,
    packages: null,
    amount: flatAmount === null ? unitsAmount : unitsAmount.add(flatAmount),
  };
}

/** The fields of `draft` that differ from the stored price, for REQUEST_ID_REUSED. */
export function priceDifferences(stored: Price, draft: PriceDraft): string[] {
  const differences: string[] = [];
  if (stored.meterKey !== draft.meterKey) differences.push("price.meter_key");
  if (stored.currencyCode !== draft.currencyCode) differences.push("price.currency_code");
  if (stored.model !== draft.model) differences.push("price.model");
  if (!sameTiers(stored.tiers, draft.tiers)) differences.push("price.tiers");
  if (!sameOptional(stored.packageSize, draft.packageSize)) differences.push("price.package_size");
  if (priceDimensionKeyOf(stored.dimensionValues) !== priceDimensionKeyOf(draft.dimensionValues)) differences.push("price.dimension_values");
  if (stored.customerId !== draft.customerId) differences.push("price.customer_id");
  if (draft.effectivePeriod !== "" && stored.effectivePeriod !== draft.effectivePeriod) {
    differences.push("price.effective_period");
  }
  return differences;
}

function sameTiers(a: PriceTier[], b: PriceTier[]): boolean {
  return (
    a.length === b.length &&
    a.every((tier, index) => {
      const other = b[index]!;
      return sameOptional(tier.upTo, other.upTo) && tier.unitAmount.equals(other.unitAmount) && sameOptional(tier.flatAmount, other.flatAmount);
    })
  );
}

/** Whether two optional decimals are both unset or equal. */
function sameOptional(a: Decimal | null, b: Decimal | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b);
}
