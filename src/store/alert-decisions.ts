import { type Alert, type AlertEvent, billLineTotals, billTotalValue, thresholdReached } from "../domain/alerts.js";
import type { BillingPeriod } from "../domain/billing-period.js";
import type { Customer } from "../domain/customer.js";
import { Decimal } from "../domain/decimal.js";
import type { Meter } from "../domain/meter.js";
import type { Price } from "../domain/price.js";
import type { LineToPrice } from "../domain/price-selection.js";
import { dimensionKeyOf } from "../domain/dimensions.js";
import type { UsageChange } from "../domain/usage-feed.js";
import { meterQuantity, type UsageTotals } from "../domain/usage-record.js";
import { type Row, toUsageRecord } from "./store-rows.js";

/**
 * What both stores share of the alerts and the feed: which alerts a write's
 * changed totals make fire (each store loads the inputs in the write's
 * transaction and records the events), and the rows of alerts, events and
 * changes.
 */

/** One running total a write changed: as the database held it before, and as the write leaves it. */
export interface TotalsChange {
  scope: string;
  before: UsageTotals | undefined;
  after: UsageTotals;
}

/** An alert that the write makes fire, with the value it reached. */
export interface ReachedAlert {
  scope: string;
  alert: Alert;
  period: BillingPeriod;
  /** The value reached, as the alert event shows it. */
  value: string;
}

/**
 * The meter alerts (of the changed total's meter) that the change makes
 * reach their threshold. Only a meter's own totals row (over all its
 * combinations) carries its period quantity: a combination's row decides
 * nothing here.
 */
export function meterAlertsReached(alerts: readonly Alert[], change: TotalsChange, meter: Pick<Meter, "aggregation">): ReachedAlert[] {
  if (change.after.dimensionValues.length > 0) return [];
  const reached: ReachedAlert[] = [];
  for (const alert of alerts) {
    if (alert.meterKey !== change.after.meterKey) continue;
    const after = meterQuantity(meter, change.after);
    if (thresholdReached(alert.threshold, meterQuantity(meter, change.before), after)) {
      reached.push({ scope: change.scope, alert, period: change.after.period, value: after.toString() });
    }
  }
  return reached;
}

const totalsKeyOf = (totals: UsageTotals) => `${totals.meterKey}\u0000${dimensionKeyOf(totals.dimensionValues)}`;

/**
 * A customer's bill lines of a period before and after a write: from its
 * stored totals rows (own and combinations, as the database held them before
 * the write) with the write's changes laid over them.
 */
export function billLinesBeforeAndAfter(
  stored: readonly UsageTotals[],
  changes: readonly TotalsChange[],
  meters: ReadonlyMap<string, Meter>,
): { before: UsageTotals[]; after: UsageTotals[] } {
  const before = new Map(stored.map((totals) => [totalsKeyOf(totals), totals]));
  const after = new Map(before);
  for (const change of changes) {
    const key = totalsKeyOf(change.after);
    if (change.before === undefined) before.delete(key);
    else before.set(key, change.before);
    after.set(key, change.after);
  }
  return { before: billLineTotals([...before.values()], meters), after: billLineTotals([...after.values()], meters) };
}

/** The bill-total alerts of one customer and period that the write makes reach their threshold. */
export function totalAlertsReached(
  alerts: readonly Alert[],
  inputs: { scope: string; customer: Customer; period: BillingPeriod; before: UsageTotals[]; after: UsageTotals[]; meters: Map<string, Meter>; prices: ReadonlyMap<string, Price> },
): ReachedAlert[] {
  const totalAlerts = alerts.filter((alert) => alert.meterKey === "");
  if (totalAlerts.length === 0) return [];
  const common = { customer: inputs.customer, meters: inputs.meters, prices: inputs.prices };
  const before = Decimal.parse(billTotalValue({ ...common, lines: inputs.before }))!;
  const after = billTotalValue({ ...common, lines: inputs.after });
  return totalAlerts
    .filter((alert) => thresholdReached(alert.threshold, before, Decimal.parse(after)!))
    .map((alert) => ({ scope: inputs.scope, alert, period: inputs.period, value: after }));
}

/** The lines whose prices a bill-total decision needs (each of before and after, once). */
export function linesToPrice(lines: readonly UsageTotals[], meters: ReadonlyMap<string, Meter>): LineToPrice[] {
  const unique = new Map<string, LineToPrice>();
  for (const totals of lines) unique.set(totalsKeyOf(totals), { meter: meters.get(totals.meterKey)!, dimensionValues: totals.dimensionValues });
  return [...unique.values()];
}

export function toAlert(row: Row): Alert {
  return {
    id: String(row.id),
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    threshold: Decimal.parse(String(row.threshold))!,
    createTime: Number(row.create_time),
  };
}

export function toAlertEvent(row: Row, cursor: string): AlertEvent {
  return {
    cursor,
    alertId: String(row.alert_id),
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    period: String(row.period),
    threshold: Decimal.parse(String(row.threshold))!,
    value: String(row.value),
    crossedTime: Number(row.crossed_time),
  };
}

/** A change row (a usage record's columns and `kind`): the record as the change left it. */
export function toUsageChange(row: Row, cursor: string): UsageChange {
  const record = toUsageRecord(row);
  if (row.kind === "recorded") return { cursor, kind: "recorded", record: { ...record, voided: false, voidReason: "", voidTime: null } };
  return { cursor, kind: "voided", record };
}
