import type { Alert } from "../../domain/alerts.js";
import type { Meter } from "../../domain/meter.js";
import type { UsageTotals } from "../../domain/usage-record.js";
import { candidateSeries, choosePrices } from "../../domain/price-selection.js";
import { billLinesBeforeAndAfter, linesToPrice, meterAlertsReached, type ReachedAlert, toAlert, totalAlertsReached, type TotalsChange } from "../alert-decisions.js";
import { type Row, toCustomer, toMeter, toPrice, toTotals } from "../store-rows.js";
import { effectivePricesQuery, type Queryable } from "./postgres-rows.js";

/**
 * The usage writes' part of the alerts on PostgreSQL, inside the write's
 * transaction. A meter alert is decided under the lock the write already
 * holds on the meter's totals row, so writers of that total on any replica
 * take turns and exactly one of them sees the crossing. A bill total depends
 * on every meter of the customer's period: a write to a customer with a
 * bill-total alert first takes an advisory lock of each (customer, period) it
 * writes, before any totals row (so the lock order is always the same), and
 * reads the period's other totals under it.
 */

const keyOf = (...parts: string[]) => parts.join("\u0000");

/** The alerts of the customers a write touches, by (scope, customer); one round trip, whatever the group. */
export async function alertsOfCustomers(client: Queryable, customers: [scope: string, customerId: string][]): Promise<Map<string, Alert[]>> {
  const alerts = new Map<string, Alert[]>();
  if (customers.length === 0) return alerts;
  const { rows } = await client.query(
    `SELECT * FROM alerts WHERE (tenant_id, customer_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY seq`,
    [customers.map(([scope]) => scope), customers.map(([, customerId]) => customerId)],
  );
  for (const row of rows as Row[]) {
    const key = keyOf(String(row.tenant_id), String(row.customer_id));
    const list = alerts.get(key) ?? [];
    list.push(toAlert(row));
    alerts.set(key, list);
  }
  return alerts;
}

/** Whether the customer has a bill-total alert. */
export function watchesTotal(alerts: Map<string, Alert[]>, scope: string, customerId: string): boolean {
  return alerts.get(keyOf(scope, customerId))?.some((alert) => alert.meterKey === "") ?? false;
}

/** Locks each (scope, customer, period) for its bill-total alerts, in the order of the locks' ids. */
export async function lockBillTotals(client: Queryable, keys: [scope: string, customerId: string, period: string][]): Promise<void> {
  if (keys.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(id) FROM (SELECT DISTINCT hashtextextended(k, 0) AS id FROM unnest($1::text[]) AS k ORDER BY 1) locks`,
    [keys.map((key) => JSON.stringify(["bill-total", ...key]))],
  );
}

/** Decides the alerts of a write's changed totals and records an event for each one reached. */
export async function decideAlerts(client: Queryable, changes: TotalsChange[], alerts: Map<string, Alert[]>): Promise<void> {
  const watched = changes.filter((change) => alerts.has(keyOf(change.scope, change.after.customerId)));
  if (watched.length === 0) return;
  const meterKeys = new Map<string, [string, string]>();
  const totalPeriods = new Map<string, [string, string, string]>();
  for (const change of watched) {
    const { customerId, period, meterKey } = change.after;
    meterKeys.set(keyOf(change.scope, meterKey), [change.scope, meterKey]);
    if (watchesTotal(alerts, change.scope, customerId)) totalPeriods.set(keyOf(change.scope, customerId, period), [change.scope, customerId, period]);
  }
  // The stored totals of each watched bill (read under its lock), and every meter they name.
  const storedTotals = new Map<string, UsageTotals[]>();
  if (totalPeriods.size > 0) {
    const periods = [...totalPeriods.values()];
    const { rows } = await client.query(
      `SELECT * FROM usage_totals WHERE (tenant_id, customer_id, period) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
      [0, 1, 2].map((column) => periods.map((key) => key[column]!)),
    );
    const { rows: combinationRows } = await client.query(
      `SELECT * FROM usage_dimension_totals WHERE (tenant_id, customer_id, period) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
      [0, 1, 2].map((column) => periods.map((key) => key[column]!)),
    );
    rows.push(...combinationRows);
    for (const row of rows as Row[]) {
      const scope = String(row.tenant_id);
      const totals = toTotals(row);
      const key = keyOf(scope, totals.customerId, totals.period);
      storedTotals.set(key, [...(storedTotals.get(key) ?? []), totals]);
      meterKeys.set(keyOf(scope, totals.meterKey), [scope, totals.meterKey]);
    }
  }
  const meterList = [...meterKeys.values()];
  const meters = new Map<string, Meter>();
  const { rows: meterRows } = await client.query(
    `SELECT * FROM meters WHERE (tenant_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [meterList.map(([scope]) => scope), meterList.map(([, key]) => key)],
  );
  for (const row of meterRows as Row[]) meters.set(keyOf(String(row.tenant_id), String(row.key)), toMeter(row));

  const reached: ReachedAlert[] = [];
  for (const change of watched) {
    const customerAlerts = alerts.get(keyOf(change.scope, change.after.customerId))!;
    const meter = meters.get(keyOf(change.scope, change.after.meterKey))!;
    reached.push(...meterAlertsReached(customerAlerts, change, meter));
  }
  for (const [scope, customerId, period] of totalPeriods.values()) {
    const { rows: customerRows } = await client.query(`SELECT * FROM customers WHERE tenant_id = $1 AND id = $2`, [scope, customerId]);
    const customer = toCustomer(customerRows[0] as Row);
    const periodChanges = watched.filter((change) => change.scope === scope && change.after.customerId === customerId && change.after.period === period);
    const stored = storedTotals.get(keyOf(scope, customerId, period)) ?? [];
    const billMeters = new Map<string, Meter>();
    for (const totals of [...stored, ...periodChanges.map((change) => change.after)]) billMeters.set(totals.meterKey, meters.get(keyOf(scope, totals.meterKey))!);
    const { before, after } = billLinesBeforeAndAfter(stored, periodChanges, billMeters);
    const lines = linesToPrice([...before, ...after], billMeters);
    const series = candidateSeries(lines, customer.id);
    const { rows: priceRows } = await client.query(...effectivePricesQuery(scope, customer.currencyCode, period, series));
    const prices = choosePrices(lines, customer.id, (priceRows as Row[]).map(toPrice));
    reached.push(...totalAlertsReached(customerAlertsOf(alerts, scope, customerId), { scope, customer, period, before, after, meters: billMeters, prices }));
  }
  if (reached.length === 0) return;
  const now = Date.now();
  await client.query(
    `INSERT INTO alert_events (tenant_id, alert_id, customer_id, meter_key, period, value, crossed_time)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
     ON CONFLICT (tenant_id, alert_id, period) DO NOTHING`,
    [
      reached.map((event) => event.scope),
      reached.map((event) => event.alert.id),
      reached.map((event) => event.alert.customerId),
      reached.map((event) => event.alert.meterKey),
      reached.map((event) => event.period),
      reached.map((event) => event.value),
      reached.map(() => now),
    ],
  );
}

function customerAlertsOf(alerts: Map<string, Alert[]>, scope: string, customerId: string): Alert[] {
  return alerts.get(keyOf(scope, customerId)) ?? [];
}
