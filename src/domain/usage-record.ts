import type { BillingPeriod } from "./billing-period.js";
import { Decimal } from "./decimal.js";
import { type AggregationKeys, aggregationKeysOf } from "./dimensions.js";
import { type Failure, failure } from "./failure.js";
import type { Aggregation, Meter } from "./meter.js";

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

/** The live event a LATEST meter bills: the greatest event_time, ties to the one recorded last. */
export interface LatestEvent {
  recordId: string;
  eventTime: number;
  quantity: Decimal;
}

/**
 * The running totals of one (customer, meter, period) over its non-voided
 * events, kept in the same transaction as every record so a bill costs
 * O(lines) to read. A meter with dimensions also has totals per combination
 * of their values (`dimensionValues`), beside its own over all of them.
 */
export interface UsageTotals {
  customerId: string;
  meterKey: string;
  period: BillingPeriod;
  /** The combination's values in the meter's dimension order; [] for the meter's totals over all its usage. */
  dimensionValues: string[];
  sum: Decimal;
  count: number;
  max: Decimal;
  /** unique_count meters: distinct values of the unique attribute among the live events; 0 otherwise. */
  distinct: number;
  /** latest meters: the live event with the greatest event_time (ties: recorded last); null otherwise or when none. */
  latest: LatestEvent | null;
  /** A dimensioned meter's own totals: how many combinations of its values have live usage (bill lines); 0 otherwise. */
  combinations: number;
}

/** What one event changes in a totals row, beyond its quantity. */
export interface TotalsChange {
  /** The row's combination; [] (the default) for the meter's own totals. */
  dimensionValues?: string[];
  /** unique_count: the event's value was not live in this row before it (adding), or is live no more (removing). */
  distinctChanged?: boolean;
  /** latest meters: the row tracks the latest event. */
  tracksLatest?: boolean;
  /** A meter's own totals: the event is the first live one of its combination (adding), or was the last (removing). */
  combinationChanged?: boolean;
}

/** The most digits before the point a running total may reach. */
export const MAX_TOTAL_INTEGER_DIGITS = 20;

/** Totals with no event yet. */
export function emptyTotals(customerId: string, meterKey: string, period: BillingPeriod, dimensionValues: string[] = []): UsageTotals {
  return { customerId, meterKey, period, dimensionValues, sum: Decimal.ZERO, count: 0, max: Decimal.ZERO, distinct: 0, latest: null, combinations: 0 };
}

/**
 * Adds one event to its totals (undefined: the first event of the period).
 * A sum that outgrows MAX_TOTAL_INTEGER_DIGITS is refused, never wrapped or
 * truncated. Events come in the order they are recorded, so an event as late
 * as the latest one takes its place.
 */
export function addToTotals(totals: UsageTotals | undefined, record: NewUsageRecord, change: TotalsChange = {}): UsageTotals | Failure {
  const current = totals ?? emptyTotals(record.customerId, record.meterKey, record.period, change.dimensionValues ?? []);
  const sum = current.sum.add(record.quantity);
  if (sum.integerDigits > MAX_TOTAL_INTEGER_DIGITS) {
    return failure(
      "TOTAL_OVERFLOW",
      `meter "${record.meterKey}" would total more than ${MAX_TOTAL_INTEGER_DIGITS} digits for customer ${record.customerId} in ${record.period}`,
      "quantity",
    );
  }
  const latest =
    change.tracksLatest === true && (current.latest === null || record.eventTime >= current.latest.eventTime)
      ? { recordId: record.id, eventTime: record.eventTime, quantity: record.quantity }
      : current.latest;
  // Every field spelled out, here and in removeFromTotals: `{ ...current, sum, ... }` costs V8 about 1 µs per
  // call (a slow path for a spread followed by its own keys), and this runs for every totals row of every event.
  return {
    customerId: current.customerId,
    meterKey: current.meterKey,
    period: current.period,
    dimensionValues: current.dimensionValues,
    sum,
    count: current.count + 1,
    max: current.max.max(record.quantity),
    distinct: change.distinctChanged === true ? current.distinct + 1 : current.distinct,
    latest,
    combinations: change.combinationChanged === true ? current.combinations + 1 : current.combinations,
  };
}

/** What a void leaves behind that the totals alone cannot tell: the caller works it out from the remaining live events. */
export interface Remaining {
  /** The largest remaining quantity (Decimal.ZERO when none). */
  max: Decimal;
  /** The remaining latest event (null when none, or not tracked). */
  latest: LatestEvent | null;
  /** unique_count: the voided event's value is live no more in this row. */
  distinctChanged: boolean;
  /** A meter's own totals: the voided event was its combination's last live one. */
  combinationChanged?: boolean;
}

/**
 * Takes a voided event out of its totals. The new maximum and latest event
 * cannot be derived from the totals alone, so the caller supplies them from
 * the remaining events (it need look only when the voided event was the
 * largest or the latest: see needsRemaining).
 */
export function removeFromTotals(totals: UsageTotals, quantity: Decimal, remaining: Remaining): UsageTotals {
  return {
    customerId: totals.customerId,
    meterKey: totals.meterKey,
    period: totals.period,
    dimensionValues: totals.dimensionValues,
    sum: totals.sum.sub(quantity),
    count: totals.count - 1,
    max: remaining.max,
    distinct: remaining.distinctChanged ? totals.distinct - 1 : totals.distinct,
    latest: remaining.latest,
    combinations: remaining.combinationChanged === true ? totals.combinations - 1 : totals.combinations,
  };
}

/** Whether voiding `record` moves the totals' maximum or latest event, which only the remaining events can tell. */
export function needsRemaining(totals: UsageTotals, record: Pick<UsageRecord, "id" | "quantity">): boolean {
  return record.quantity.equals(totals.max) || totals.latest?.recordId === record.id;
}

/**
 * The maximum and latest event of the live events of one totals row, which
 * `records` holds in recording order (voided ones and the one being voided
 * left out).
 */
export function remainingOf(records: readonly Pick<UsageRecord, "id" | "quantity" | "eventTime">[], tracksLatest: boolean, distinctChanged: boolean): Remaining {
  let max = Decimal.ZERO;
  let latest: LatestEvent | null = null;
  for (const record of records) {
    max = max.max(record.quantity);
    if (tracksLatest && (latest === null || record.eventTime >= latest.eventTime)) {
      latest = { recordId: record.id, eventTime: record.eventTime, quantity: record.quantity };
    }
  }
  return { max, latest, distinctChanged };
}

/**
 * The aggregated quantity of a totals row under `aggregation`: the period's
 * quantity of a meter (from its own totals, over all its combinations) or of
 * one combination, in O(1). What a bill line prices, and what a usage limit
 * or an alert on a meter compares: the stores keep these totals up to date in
 * every write transaction, so inside one it is the quantity as of that write.
 */
export function aggregatedQuantity(aggregation: Aggregation, totals: UsageTotals): Decimal {
  switch (aggregation) {
    case "sum":
      return totals.sum;
    case "count":
      return Decimal.fromInteger(totals.count);
    case "max":
      return totals.max;
    case "unique_count":
      return Decimal.fromInteger(totals.distinct);
    case "latest":
      return totals.latest?.quantity ?? Decimal.ZERO;
  }
}

/**
 * A meter's aggregated quantity of a period from its own totals row (over all
 * its combinations), zero before any usage (no row yet): what a usage limit
 * and a meter alert compare, and what GetUsageAllowance reports as used.
 */
export function meterQuantity(meter: Pick<Meter, "aggregation">, totals: UsageTotals | undefined): Decimal {
  return totals === undefined ? Decimal.ZERO : aggregatedQuantity(meter.aggregation, totals);
}

/** How a meter aggregates, as totalsOf needs it: undefined for a plain sum-like meter without dimensions. */
type MeterOf = (meterKey: string) => Meter | undefined;

/**
 * The totals of a set of events, computed from scratch (what the running
 * totals must equal): the meters' own totals, and (`combinations`) the totals
 * per combination of the dimensioned meters. `records` must be in recording
 * order (the latest event's ties go to the one recorded last); `meterOf`
 * gives each meter's aggregation and dimensions (without it, every meter
 * counts as one without dimensions, unique attribute or latest event).
 */
export function recomputeTotals(records: readonly NewUsageRecord[], meterOf: MeterOf = () => undefined): { meters: UsageTotals[]; combinations: UsageTotals[] } {
  const totals = createTotalsAccumulator(meterOf);
  for (const record of records) totals.add(record);
  return totals.result();
}

/**
 * recomputeTotals one event at a time, for events read a page at a time:
 * memory grows with the totals rows (and distinct values), not the events.
 */
export function createTotalsAccumulator(meterOf: MeterOf = () => undefined) {
  const meterTotals = new Map<string, UsageTotals>();
  const combinationTotals = new Map<string, UsageTotals>();
  const liveValues = new Map<string, number>();
  const add = (rows: Map<string, UsageTotals>, rowKey: string, record: NewUsageRecord, dimensionValues: string[], keys: AggregationKeys | null, combinationChanged = false) => {
    let distinctChanged = false;
    if (keys?.uniqueValue != null) {
      const valueKey = `${rowKey}\u0000${keys.uniqueValue}`;
      const live = liveValues.get(valueKey) ?? 0;
      liveValues.set(valueKey, live + 1);
      distinctChanged = live === 0;
    }
    const next = addToTotals(rows.get(rowKey), record, { dimensionValues, distinctChanged, tracksLatest: keys?.tracksLatest ?? false, combinationChanged });
    if ("reason" in next) throw new RangeError(next.message);
    rows.set(rowKey, next);
  };
  return {
    /** Adds the next event, in recording order within its meter. */
    add(record: NewUsageRecord): void {
      const meter = meterOf(record.meterKey);
      const found = meter === undefined ? null : aggregationKeysOf(meter, record.attributes);
      if (found !== null && "reason" in found) throw new RangeError(found.message);
      const keys = found;
      const key = `${record.customerId}\u0000${record.meterKey}\u0000${record.period}`;
      const combinationKey = keys !== null && keys.dimensionValues.length > 0 ? `${key}\u0000${keys.dimensionKey}` : undefined;
      add(meterTotals, key, record, [], keys, combinationKey !== undefined && !combinationTotals.has(combinationKey));
      if (combinationKey !== undefined) add(combinationTotals, combinationKey, record, keys!.dimensionValues, keys);
    },
    /** The totals of the events added so far. */
    result(): { meters: UsageTotals[]; combinations: UsageTotals[] } {
      return { meters: [...meterTotals.values()], combinations: [...combinationTotals.values()] };
    },
  };
}

/** The meters' own totals of a set of events, from scratch (see recomputeTotals). */
export function totalsOf(records: readonly NewUsageRecord[], meterOf?: MeterOf): UsageTotals[] {
  return recomputeTotals(records, meterOf).meters;
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
