import { type BillingPeriod, finalizeTime, isFinalized, periodEnd, periodStart } from "./billing-period.js";
import type { Customer } from "./customer.js";
import { Decimal } from "./decimal.js";
import type { Meter } from "./meter.js";
import { mapInSlices } from "./event-loop-slices.js";
import { roundToMinorUnit } from "./money.js";
import { chargePrice, exactAmount, type Price, type TierCharge } from "./price.js";
import { compareDimensionValues, dimensionKeyOf, dimensionsOf } from "./dimensions.js";
import { aggregatedQuantity, type UsageTotals } from "./usage-record.js";

/** What one meter's usage in the period costs (one combination of its dimension values, for a meter with dimensions). */
export interface BillLine {
  meterKey: string;
  /** The combination's values by dimension, e.g. {"region": "eu-west-1"}; {} for a meter without dimensions. */
  dimensions: Record<string, string>;
  displayName: string;
  unit: string;
  /** The meter's aggregation of the period's non-voided events. */
  quantity: Decimal;
  /** The tiers' exact amounts summed, rounded once to the currency's minor unit. */
  amount: string;
  /** 0 and "" when the meter has no price in the currency for the period. */
  priceVersion: number;
  priceId: string;
  /** Every tier of the price and what it charges under the price's model (none when unpriced). */
  tiers: TierCharge[];
}

/** What a customer owes for one period. Times are epoch milliseconds. */
export interface Bill {
  customerId: string;
  period: BillingPeriod;
  status: "draft" | "finalized";
  currencyCode: string;
  /** One per meter with usage (per combination, for a meter with dimensions), ordered by meter key, then combination. */
  lines: BillLine[];
  /** The sum of the lines' (rounded) amounts. */
  total: string;
  /** What credit grants pay of the total (src/domain/credits.ts); "0" until credits are applied. */
  creditsApplied: string;
  /** total - creditsApplied, never below 0. */
  amountDue: string;
  /** 0 for a draft; 1 as finalized; each correction after adds one (src/domain/bill-revisions.ts). */
  revision: number;
  asOfTime: number;
  startTime: number;
  endTime: number;
  finalizeTime: number;
}

/** Everything a bill is computed from; a bill is a pure function of these. */
export interface BillInputs {
  customer: Customer;
  period: BillingPeriod;
  /** Each line's totals: a meter's own, or for a meter with dimensions each combination's. */
  totals: UsageTotals[];
  meters: Map<string, Meter>;
  /** The price of each line in the customer's currency, by lineKey (the meter key, for a meter without dimensions). */
  prices: ReadonlyMap<string, Price>;
  now: number;
  finalizeGraceMs: number;
}

/**
 * Prices a period's totals. Rounding happens once per line, half to even, to
 * the currency's minor unit; the total is the sum of the rounded lines, so
 * the lines always add up to it.
 */
export async function computeBill({ customer, period, totals, meters, prices, now, finalizeGraceMs }: BillInputs): Promise<Bill> {
  const sorted = [...totals].sort((a, b) =>
    a.meterKey < b.meterKey ? -1 : a.meterKey > b.meterKey ? 1 : compareDimensionValues(a.dimensionValues, b.dimensionValues),
  );
  // A bill of a thousand 32-tier lines takes tens of ms: it is priced in slices, letting other calls run between them.
  const lines = await mapInSlices(sorted, (lineTotals) => priceLine(lineTotals, meters, prices, customer.currencyCode));
  const total = totalOf(lines, customer.currencyCode);
  const finalized = isFinalized(period, now, finalizeGraceMs);
  const finalizesAt = finalizeTime(period, finalizeGraceMs);
  return {
    customerId: customer.id,
    period,
    status: finalized ? "finalized" : "draft",
    currencyCode: customer.currencyCode,
    lines,
    total,
    creditsApplied: roundToMinorUnit(Decimal.ZERO, customer.currencyCode),
    amountDue: total,
    revision: 0,
    asOfTime: finalized ? finalizesAt : now,
    startTime: periodStart(period),
    endTime: periodEnd(period),
    finalizeTime: finalizesAt,
  };
}

/**
 * One bill line: its totals' quantity (a meter's own, or a combination's),
 * priced by the price chosen for the line (unpriced without one). computeBill
 * maps every line through it; a bill-total alert prices the write's bill with
 * it inside the write's transaction.
 */
export function priceLine(lineTotals: UsageTotals, meters: Map<string, Meter>, prices: ReadonlyMap<string, Price>, currencyCode: string): BillLine {
  const meter = meters.get(lineTotals.meterKey);
  if (meter === undefined) throw new Error(`totals name an unknown meter "${lineTotals.meterKey}"`);
  const quantity = aggregatedQuantity(meter.aggregation, lineTotals);
  const price = prices.get(lineKey(meter.key, lineTotals.dimensionValues));
  const tiers = price === undefined ? [] : chargePrice(quantity, price);
  return {
    meterKey: meter.key,
    dimensions: dimensionsOf(meter, lineTotals.dimensionValues),
    displayName: meter.displayName,
    unit: meter.unit,
    quantity,
    amount: roundToMinorUnit(exactAmount(tiers), currencyCode),
    priceVersion: price?.version ?? 0,
    priceId: price?.id ?? "",
    tiers,
  };
}

/** A bill's total: the sum of its lines' rounded amounts, written to the currency's minor unit. */
export function totalOf(lines: readonly BillLine[], currencyCode: string): string {
  return roundToMinorUnit(
    lines.reduce((sum, line) => sum.add(Decimal.parse(line.amount)!), Decimal.ZERO),
    currencyCode,
  );
}

/** Which line of a bill a price is chosen for: the meter key, and the combination's values when it has any. */
export function lineKey(meterKey: string, dimensionValues: readonly string[]): string {
  return dimensionValues.length === 0 ? meterKey : `${meterKey}\u0000${dimensionKeyOf(dimensionValues)}`;
}
