import type { Decimal } from "./decimal.js";
import type { Meter } from "./meter.js";
import { aggregatedQuantity, totalsOf, type UsageRecord } from "./usage-record.js";

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
 * a UNIQUE_COUNT meter each day's distinct values). `records` are in
 * recording order (a LATEST meter's ties go to the one recorded last).
 * Ordered by day, then meter key.
 */
export function dailyUsage(records: readonly UsageRecord[], meters: ReadonlyMap<string, Meter>): DailyUsage[] {
  const byDay = new Map<string, UsageRecord[]>();
  for (const record of records) {
    const key = `${new Date(record.eventTime).toISOString().slice(0, 10)} ${record.meterKey}`;
    const group = byDay.get(key);
    if (group === undefined) byDay.set(key, [record]);
    else group.push(record);
  }
  const days: DailyUsage[] = [];
  for (const [key, group] of byDay) {
    const [date, meterKey] = key.split(" ") as [string, string];
    const meter = meters.get(meterKey);
    if (meter === undefined) throw new Error(`usage names an unknown meter "${meterKey}"`);
    // A day's records form one totals group: same customer, meter and period.
    const [totals] = totalsOf(group, () => meter);
    days.push({ date, meterKey, quantity: aggregatedQuantity(meter.aggregation, totals!), eventCount: group.length });
  }
  return days.sort((a, b) => (a.date === b.date ? (a.meterKey < b.meterKey ? -1 : 1) : a.date < b.date ? -1 : 1));
}
