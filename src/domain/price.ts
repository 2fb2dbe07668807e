import type { BillingPeriod } from "./billing-period.js";
import { Decimal } from "./decimal.js";
import { type Failure, failure } from "./failure.js";

/** One band of a graduated price. */
export interface PriceTier {
  /** Inclusive upper bound of billable quantity; null for no bound (last tier only). */
  upTo: Decimal | null;
  /** Price of one unit in this tier. */
  unitAmount: Decimal;
}

/** One version of a meter's price in one currency. */
export interface Price {
  id: string;
  meterKey: string;
  currencyCode: string;
  tiers: PriceTier[];
  /** The period from whose start this version applies. */
  effectivePeriod: BillingPeriod;
  /** 1, 2, ... within (meterKey, currencyCode). */
  version: number;
  createTime: number;
}

/** What a caller asks for when creating a price; "" effectivePeriod means the current period. */
export type PriceDraft = Pick<Price, "meterKey" | "currencyCode" | "tiers" | "effectivePeriod">;

/** How much of a quantity fell into one tier, and what it costs, exactly. */
export interface TierCharge {
  upTo: Decimal | null;
  quantity: Decimal;
  unitAmount: Decimal;
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
 * Splits a billable quantity over graduated tiers: each unit is priced by the
 * tier it falls in. Amounts are exact; rounding happens once, on the line.
 */
export function chargeTiers(quantity: Decimal, tiers: PriceTier[]): TierCharge[] {
  const charges: TierCharge[] = [];
  let lowerBound = Decimal.ZERO;
  for (const tier of tiers) {
    const ceiling = tier.upTo === null ? quantity : tier.upTo.min(quantity);
    const inTier = ceiling.compare(lowerBound) > 0 ? ceiling.sub(lowerBound) : Decimal.ZERO;
    charges.push({ upTo: tier.upTo, quantity: inTier, unitAmount: tier.unitAmount, amount: inTier.mul(tier.unitAmount) });
    if (tier.upTo !== null) lowerBound = tier.upTo;
  }
  return charges;
}

/** The fields of `draft` that differ from the stored price, for REQUEST_ID_REUSED. */
export function priceDifferences(stored: Price, draft: PriceDraft): string[] {
  const differences: string[] = [];
  if (stored.meterKey !== draft.meterKey) differences.push("price.meter_key");
  if (stored.currencyCode !== draft.currencyCode) differences.push("price.currency_code");
  if (!sameTiers(stored.tiers, draft.tiers)) differences.push("price.tiers");
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
      const sameBound = tier.upTo === null ? other.upTo === null : other.upTo !== null && tier.upTo.equals(other.upTo);
      return sameBound && tier.unitAmount.equals(other.unitAmount);
    })
  );
}
