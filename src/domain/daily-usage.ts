import type { Decimal } from "./decimal.js";
import type { Meter } from "./meter.js";
import { aggregatedQuantity, createTotalsAccumulator, type UsageRecord } from "./usage-record.js";

/** One meter's usage on one UTC day. */
export interface DailyUsage {
  /** "YYYY-MM-DD", UTC. */
  date: string;
  meterKey: string;
  /** The day's events aggregated as the meter aggregates (sum, count or max). */
  quantity: Decimal;
  eventCount: number;
}

/**
 * Groups a period's non-voided records by UTC day and meter, each group
 * aggregated the way its meter bills (so a MAX meter shows each day's peak,
 * a UNIQUE_COUNT meter each day's distinct values). Records are added one at
 * a time, in recording order within each meter (a LATEST meter's ties go to
 * the one recorded last), so a period of a million events is read a page at
 * a time: what is kept grows with the days and meters, not the events.
 * `meterOf` must know every meter added.
 */
export function createDailyUsage(meterOf: (meterKey: string) => Meter | undefined) {
  const meter = (meterKey: string): Meter => {
    const found = meterOf(meterKey);
    if (found === undefined) throw new Error(`usage names an unknown meter "${meterKey}"`);
    return found;
  };
  // A day's records form one totals group, as a period's do: the day stands in for the period.
  const totals = createTotalsAccumulator(meter);
  return {
    add(record: UsageRecord): void {
      totals.add({ ...record, period: new Date(record.eventTime).toISOString().slice(0, 10) });
    },

    /** The days so far, by day, then meter key. */
    days(): DailyUsage[] {
      return totals
        .result()
        .meters.map((day) => ({
          date: day.period,
          meterKey: day.meterKey,
          quantity: aggregatedQuantity(meter(day.meterKey).aggregation, day),
          eventCount: day.count,
        }))
        .sort((a, b) => (a.date === b.date ? (a.meterKey < b.meterKey ? -1 : 1) : a.date < b.date ? -1 : 1));
    },
  };
}
