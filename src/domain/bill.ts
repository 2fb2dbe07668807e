import { type BillingPeriod, finalizeTime, isFinalized, periodEnd, periodStart } from "./billing-period.js";
import type { Customer } from "./customer.js";
import { Decimal } from "./decimal.js";
import type { Meter } from "./meter.js";
import { mapInSlices } from "./event-loop-slices.js";
import { roundToMinorUnit } from "./money.js";
import { chargePrice, exactAmount, type Price, type TierCharge } from "./price.js";
import type { UsageTotals } from "./usage-record.js";

/** What one meter's usage in the period costs. */
export interface BillLine {
  meterKey: string;
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
  /** One per meter with usage, ordered by meter key. */
  lines: BillLine[];
  /** The sum of the lines' (rounded) amounts. */
  total: string;
  asOfTime: number;
  startTime: number;
  endTime: number;
  finalizeTime: number;
}

/** Everything a bill is computed from; a bill is a pure function of these. */
export interface BillInputs {
  customer: Customer;
  period: BillingPeriod;
  totals: UsageTotals[];
  meters: Map<string, Meter>;
  /** The effective price of each meter in the customer's currency, by meter key. */
  prices: Map<string, Price>;
  now: number;
  finalizeGraceMs: number;
}

/**
 * Prices a period's totals. Rounding happens once per line, half to even, to
 * the currency's minor unit; the total is the sum of the rounded lines, so
 * the lines always add up to it.
 */
export async function computeBill({ customer, period, totals, meters, prices, now, finalizeGraceMs }: BillInputs): Promise<Bill> {
  const sorted = [...totals].sort((a, b) => (a.meterKey < b.meterKey ? -1 : a.meterKey > b.meterKey ? 1 : 0));
  // A bill of a thousand 32-tier lines takes tens of ms: it is priced in slices, letting other calls run between them.
  const lines = await mapInSlices(sorted, (meterTotals): BillLine => {
    const meter = meters.get(meterTotals.meterKey);
    if (meter === undefined) throw new Error(`totals name an unknown meter "${meterTotals.meterKey}"`);
    const quantity = billableQuantity(meter, meterTotals);
    const price = prices.get(meter.key);
    const tiers = price === undefined ? [] : chargePrice(quantity, price);
    return {
      meterKey: meter.key,
      displayName: meter.displayName,
      unit: meter.unit,
      quantity,
      amount: roundToMinorUnit(exactAmount(tiers), customer.currencyCode),
      priceVersion: price?.version ?? 0,
      priceId: price?.id ?? "",
      tiers,
    };
  });
  const total = lines.reduce((sum, line) => sum.add(Decimal.parse(line.amount)!), Decimal.ZERO);
  const finalized = isFinalized(period, now, finalizeGraceMs);
  const finalizesAt = finalizeTime(period, finalizeGraceMs);
  return {
    customerId: customer.id,
    period,
    status: finalized ? "finalized" : "draft",
    currencyCode: customer.currencyCode,
    lines,
    total: roundToMinorUnit(total, customer.currencyCode),
    asOfTime: finalized ? finalizesAt : now,
    startTime: periodStart(period),
    endTime: periodEnd(period),
    finalizeTime: finalizesAt,
  };
}

/** The meter's aggregation of the totals: the sum, the count or the largest event. */
export function billableQuantity(meter: Meter, totals: UsageTotals): Decimal {
  switch (meter.aggregation) {
    case "sum":
      return totals.sum;
    case "count":
      return Decimal.fromInteger(totals.count);
    case "max":
      return totals.max;
  }
}
