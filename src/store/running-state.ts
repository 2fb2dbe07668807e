import { type AggregationKeys, combinationsExceeded } from "../domain/dimensions.js";
import { Decimal } from "../domain/decimal.js";
import type { Failure } from "../domain/failure.js";
import type { Meter } from "../domain/meter.js";
import {
  addToTotals,
  aggregatedQuantity,
  meterQuantity,
  needsRemaining,
  type NewUsageRecord,
  remainingOf,
  removeFromTotals,
  type UsageRecord,
  type UsageTotals,
} from "../domain/usage-record.js";

/**
 * The running state both stores keep in each write transaction, and how one
 * event (or its void) changes it. No I/O: each store reads the entries it
 * needs, hands them over through a RunningStateView, and writes the changes
 * back in the same transaction.
 *
 * - A totals row per (tenant, customer, period, meter, dimension key): the
 *   meter's own ("" — usage_totals) and, for a meter with dimensions, its
 *   combination's (usage_dimension_totals).
 * - For UNIQUE_COUNT meters, the live count of each value in each of those
 *   rows (usage_distinct_values): a value going 0 -> 1 adds one to the row's
 *   distinct count, 1 -> 0 takes one off.
 */

/** Where an event of a meter without dimensions, unique attribute or latest event counts: its meter's totals alone. */
export const PLAIN_KEYS: AggregationKeys = { dimensionValues: [], dimensionKey: "", uniqueValue: null, tracksLatest: false };
/** Where an event of a LATEST meter without dimensions counts. */
export const LATEST_KEYS: AggregationKeys = { dimensionValues: [], dimensionKey: "", uniqueValue: null, tracksLatest: true };

/**
 * A totals row's key: its tenant, customer id, period, meter key and
 * dimension key ("" for the meter's own totals) joined by NUL, which none of
 * them holds (ids and keys are checked when created, a dimension key is JSON).
 * One string per row an event touches, built once: both stores use it as the
 * row's Map key as it is, and take it apart (totalsKeyParts) only to read or
 * write the row. NUL sorts first, so keys sort as their parts do.
 */
export type TotalsKey = string;
/** A distinct value's key: its row's TotalsKey, NUL, the value (valueKeyParts). */
export type ValueKey = string;

const SEPARATOR = "\u0000";

export function totalsKeyOf(tenant: string, customerId: string, period: string, meterKey: string, dimensionKey: string): TotalsKey {
  return `${tenant}${SEPARATOR}${customerId}${SEPARATOR}${period}${SEPARATOR}${meterKey}${SEPARATOR}${dimensionKey}`;
}

/** [tenant, customerId, period, meterKey, dimensionKey]. */
export function totalsKeyParts(key: TotalsKey): [string, string, string, string, string] {
  return key.split(SEPARATOR) as [string, string, string, string, string];
}

/** Whether the key is a meter's own totals row's (dimension key ""), not a combination's. */
export function isMeterTotalsKey(key: TotalsKey): boolean {
  return key.endsWith(SEPARATOR);
}

/** [tenant, customerId, period, meterKey, dimensionKey, value]: the value is everything after the fifth NUL. */
export function valueKeyParts(key: ValueKey): [string, string, string, string, string, string] {
  const parts = key.split(SEPARATOR);
  return [parts[0]!, parts[1]!, parts[2]!, parts[3]!, parts[4]!, parts.slice(5).join(SEPARATOR)];
}

/** The entries the store has read (or changed earlier in the transaction). */
export interface RunningStateView {
  totals(key: TotalsKey): UsageTotals | undefined;
  /** 0 for a value no live event holds. */
  liveCount(key: ValueKey): number;
}

/** What to write back. */
export interface RunningStateChanges {
  totals: [TotalsKey, UsageTotals][];
  liveCounts: [ValueKey, number][];
}

/** The totals rows an event counts in: its meter's, then its combination's (if the meter has dimensions). */
export function totalsKeysOf(scope: string, record: Pick<NewUsageRecord, "customerId" | "period" | "meterKey">, keys: AggregationKeys): TotalsKey[] {
  const meterKey = totalsKeyOf(scope, record.customerId, record.period, record.meterKey, "");
  if (keys.dimensionValues.length === 0) return [meterKey];
  return [meterKey, meterKey + keys.dimensionKey];
}

/** The distinct-value entries an event of a UNIQUE_COUNT meter counts in (none for other meters). */
export function valueKeysOf(totalsKeys: readonly TotalsKey[], keys: AggregationKeys): ValueKey[] {
  return keys.uniqueValue === null ? [] : totalsKeys.map((key) => valueKeyOf(key, keys.uniqueValue!));
}

export function valueKeyOf(totalsKey: TotalsKey, value: string): ValueKey {
  return `${totalsKey}${SEPARATOR}${value}`;
}

/**
 * The period's aggregated quantity of a meter over all its combinations, as
 * the write transaction sees it (earlier events of the same transaction
 * included), in O(1) for every aggregation: read from the meter's own totals
 * row, which every event of the meter updates whatever its combination (the
 * distinct count there counts each value once across combinations). This is
 * the quantity a usage limit or a meter alert compares: in SQLite's writer
 * pass the write's `view` (stateOverlay), in PostgreSQL's usage batcher the
 * call's `view`; there the meter's row is locked (in sorted order) before it
 * is read, so the check and the write are one step on every replica.
 */
export function meterPeriodQuantity(view: RunningStateView, scope: string, customerId: string, period: string, meter: Pick<Meter, "key" | "aggregation">): Decimal {
  return meterQuantity(meter, view.totals(totalsKeyOf(scope, customerId, period, meter.key, "")));
}

/** The meter's period quantity once `changes` (from recordingChanges or voidingChanges of one of its events) apply. */
export function meterQuantityAfter(changes: RunningStateChanges, meter: Pick<Meter, "aggregation">): Decimal {
  // The meter's own totals row always comes first (totalsKeysOf).
  return aggregatedQuantity(meter.aggregation, changes.totals[0]![1]);
}

/**
 * What recording `record` changes; TOTAL_OVERFLOW when a sum would outgrow
 * its bound, DIMENSION_COMBINATIONS_EXCEEDED when it would open a combination
 * of its meter's dimension values past `maxCombinations`.
 */
export function recordingChanges(
  view: RunningStateView,
  scope: string,
  record: NewUsageRecord,
  keys: AggregationKeys,
  maxCombinations = Number.POSITIVE_INFINITY,
): RunningStateChanges | Failure {
  const changes: RunningStateChanges = { totals: [], liveCounts: [] };
  const rows = totalsKeysOf(scope, record, keys);
  const current = rows.map((key) => view.totals(key));
  // The event opens a combination (a bill line) when it is the first live one there.
  const opensCombination = rows.length > 1 && (current[1]?.count ?? 0) === 0;
  if (opensCombination && (current[0]?.combinations ?? 0) >= maxCombinations) return combinationsExceeded(record.meterKey, maxCombinations);
  for (const [index, totalsKey] of rows.entries()) {
    let distinctChanged = false;
    if (keys.uniqueValue !== null) {
      const valueKey = valueKeyOf(totalsKey, keys.uniqueValue);
      const live = view.liveCount(valueKey);
      changes.liveCounts.push([valueKey, live + 1]);
      distinctChanged = live === 0;
    }
    const ownTotals = isMeterTotalsKey(totalsKey);
    const next = addToTotals(current[index], record, {
      dimensionValues: ownTotals ? [] : keys.dimensionValues,
      distinctChanged,
      tracksLatest: keys.tracksLatest,
      combinationChanged: ownTotals && opensCombination,
    });
    if ("reason" in next) return next;
    changes.totals.push([totalsKey, next]);
  }
  return changes;
}

/**
 * Whether voiding `record` moves a maximum or a latest event, which only the
 * remaining live events can tell (the store then reads them for voidingChanges).
 */
export function voidNeedsRemaining(view: RunningStateView, scope: string, record: UsageRecord, keys: AggregationKeys): boolean {
  return totalsKeysOf(scope, record, keys).some((key) => needsRemaining(view.totals(key)!, record));
}

/**
 * What voiding `record` changes. `remaining`: the other live events of its
 * (customer, period, meter) in recording order, with their keys; needed only
 * when voidNeedsRemaining says so (else null).
 */
export function voidingChanges(
  view: RunningStateView,
  scope: string,
  record: UsageRecord,
  keys: AggregationKeys,
  remaining: readonly { record: UsageRecord; keys: AggregationKeys }[] | null,
): RunningStateChanges {
  const changes: RunningStateChanges = { totals: [], liveCounts: [] };
  const rows = totalsKeysOf(scope, record, keys);
  // The event closes its combination (a bill line) when it is the last live one there.
  const closesCombination = rows.length > 1 && view.totals(rows[1]!)?.count === 1;
  for (const totalsKey of rows) {
    const totals = view.totals(totalsKey);
    if (totals === undefined) throw new Error(`the totals of usage record ${record.id} are missing`);
    let distinctChanged = false;
    if (keys.uniqueValue !== null) {
      const valueKey = valueKeyOf(totalsKey, keys.uniqueValue);
      const live = view.liveCount(valueKey);
      changes.liveCounts.push([valueKey, live - 1]);
      distinctChanged = live === 1;
    }
    const ownTotals = isMeterTotalsKey(totalsKey);
    const combinationChanged = ownTotals && closesCombination;
    let left = { max: totals.max, latest: totals.latest, distinctChanged, combinationChanged };
    if (needsRemaining(totals, record)) {
      if (remaining === null) throw new Error("voidingChanges needs the remaining events");
      const inRow = ownTotals ? remaining : remaining.filter((other) => other.keys.dimensionKey === keys.dimensionKey);
      left = { ...remainingOf(inRow.map((other) => other.record), keys.tracksLatest, distinctChanged), combinationChanged };
    }
    changes.totals.push([totalsKey, removeFromTotals(totals, record.quantity, left)]);
  }
  return changes;
}
