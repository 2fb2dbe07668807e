import type { BillingPeriod } from "./billing-period.js";
import { Decimal } from "./decimal.js";
import { type Failure, failure } from "./failure.js";

/** One usage event in the ledger. Times are epoch milliseconds. */
export interface UsageRecord {
  id: string;
  requestId: string;
  customerId: string;
  meterKey: string;
  quantity: Decimal;
  /** When the usage happened (the caller's event_time, or the receipt time). */
  eventTime: number;
  /** The event_time the caller sent; null when it was left to default. Kept to judge retries. */
  requestedEventTime: number | null;
  createTime: number;
  period: BillingPeriod;
  attributes: Record<string, string>;
  voided: boolean;
  voidReason: string;
  voidTime: number | null;
}

/** A record about to be written: everything but the void, which only a later void adds. */
export type NewUsageRecord = Omit<UsageRecord, "voided" | "voidReason" | "voidTime">;

/** A new record as it stands once written: not voided. (Fields listed, not spread: every event passes here.) */
export function recordedUsage(record: NewUsageRecord): UsageRecord {
  return {
    id: record.id,
    requestId: record.requestId,
    customerId: record.customerId,
    meterKey: record.meterKey,
    quantity: record.quantity,
    eventTime: record.eventTime,
    requestedEventTime: record.requestedEventTime,
    createTime: record.createTime,
    period: record.period,
    attributes: record.attributes,
    voided: false,
    voidReason: "",
    voidTime: null,
  };
}

/**
 * The running totals of one (customer, meter, period) over its non-voided
 * events, kept in the same transaction as every record so a bill costs
 * O(meters) to read.
 */
export interface UsageTotals {
  customerId: string;
  meterKey: string;
  period: BillingPeriod;
  sum: Decimal;
  count: number;
  max: Decimal;
}

/** The most digits before the point a running total may reach. */
export const MAX_TOTAL_INTEGER_DIGITS = 20;

/**
 * Adds one event to its totals (undefined: the first event of the period).
 * A sum that outgrows MAX_TOTAL_INTEGER_DIGITS is refused, never wrapped or
 * truncated.
 */
export function addToTotals(totals: UsageTotals | undefined, record: NewUsageRecord): UsageTotals | Failure {
  const current = totals ?? {
    customerId: record.customerId,
    meterKey: record.meterKey,
    period: record.period,
    sum: Decimal.ZERO,
    count: 0,
    max: Decimal.ZERO,
  };
  const sum = current.sum.add(record.quantity);
  if (sum.integerDigits > MAX_TOTAL_INTEGER_DIGITS) {
    return failure(
      "TOTAL_OVERFLOW",
      `meter "${record.meterKey}" would total more than ${MAX_TOTAL_INTEGER_DIGITS} digits for customer ${record.customerId} in ${record.period}`,
      "quantity",
    );
  }
  return { ...current, sum, count: current.count + 1, max: current.max.max(record.quantity) };
}

/**
 * Takes a voided event out of its totals. The new maximum cannot be derived
 * from the totals alone, so the caller supplies it from the remaining events.
 */
export function removeFromTotals(totals: UsageTotals, quantity: Decimal, remainingMax: Decimal): UsageTotals {
  return { ...totals, sum: totals.sum.sub(quantity), count: totals.count - 1, max: remainingMax };
}

/** The totals of a set of events, computed from scratch (what the running totals must equal). */
export function totalsOf(records: readonly NewUsageRecord[]): UsageTotals[] {
  const byKey = new Map<string, UsageTotals>();
  for (const record of records) {
    const key = `${record.customerId}\u0000${record.meterKey}\u0000${record.period}`;
    const next = addToTotals(byKey.get(key), record);
    if ("reason" in next) throw new RangeError(next.message);
    byKey.set(key, next);
  }
  return [...byKey.values()];
}

/**
 * The fields in which a retried request differs from the record its
 * request_id created; empty means an identical retry. Values are compared, not
 * spellings: "1.50" repeats "1.5", and a customer named by external_id repeats
 * one named by Tally id.
 */
export function usageDifferences(stored: NewUsageRecord, retry: NewUsageRecord): string[] {
  const differences: string[] = [];
  if (stored.customerId !== retry.customerId) differences.push("customer_id");
  if (stored.meterKey !== retry.meterKey) differences.push("meter_key");
  if (!stored.quantity.equals(retry.quantity)) differences.push("quantity");
  if (stored.requestedEventTime !== retry.requestedEventTime) differences.push("event_time");
  if (!sameAttributes(stored.attributes, retry.attributes)) differences.push("attributes");
  return differences;
}

function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
