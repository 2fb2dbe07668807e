import type Database from "better-sqlite3";
import type { Meter } from "../../domain/meter.js";
import type { Price } from "../../domain/price.js";
import { candidateSeries, choosePrices } from "../../domain/price-selection.js";
import type { UsageTotals } from "../../domain/usage-record.js";
import { billLinesBeforeAndAfter, linesToPrice, meterAlertsReached, type ReachedAlert, toAlert, totalAlertsReached, type TotalsChange } from "../alert-decisions.js";
import { type TotalsKey, totalsKeyParts } from "../running-state.js";
import { type Row, toCustomer, toMeter, toPrice, toTotals } from "../store-rows.js";
import { EFFECTIVE_PRICE_SQL } from "./price-queries.js";
import type { AlertWriteOp, CreateReply } from "./write-messages.js";

/**
 * The writer's part of the usage feed and the alerts, on the writer's
 * connection and inside its group transactions: a change row for every record
 * and void, alerts created, and the alerts each group makes fire decided
 * just before its COMMIT, from the totals the group changed. A customer
 * without alerts costs one indexed lookup per group; a bill total is priced
 * only for customers that have a bill-total alert.
 */
export function createSqliteFeedWrites(db: Database.Database) {
  const prepare = (sql: string) => db.prepare(sql);
  const statements = {
    insertChange: prepare(`INSERT INTO usage_changes (tenant_id, seq, customer_id, record_seq, kind) VALUES (?, ?, ?, ?, ?)`),
    lastChange: prepare(`SELECT last AS seq FROM usage_change_sequence`),
    saveLastChange: prepare(`UPDATE usage_change_sequence SET last = ?`),
    alertByRequestId: prepare(`SELECT * FROM alerts WHERE tenant_id = ? AND request_id = ?`),
    alertsOfCustomer: prepare(`SELECT * FROM alerts WHERE tenant_id = ? AND customer_id = ? ORDER BY seq`),
    countAlerts: prepare(`SELECT count(*) AS count FROM alerts WHERE tenant_id = ? AND customer_id = ?`),
    insertAlert: prepare(
      `INSERT INTO alerts (tenant_id, id, customer_id, meter_key, threshold, create_time, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertEvent: prepare(
      `INSERT INTO alert_events (tenant_id, alert_id, customer_id, meter_key, period, value, crossed_time) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, alert_id, period) DO NOTHING`,
    ),
    meter: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND key = ?`),
    customer: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND id = ?`),
    totalsOfPeriod: prepare(`SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ?`),
    combinationTotalsOfPeriod: prepare(`SELECT * FROM usage_dimension_totals WHERE tenant_id = ? AND customer_id = ? AND period = ?`),
    effectivePrice: prepare(EFFECTIVE_PRICE_SQL),
  };

  // The changes are numbered here, from the last number kept in the database, read once per group that
  // writes changes: inside the group's BEGIN IMMEDIATE transaction, so even another process writing the
  // same file takes the numbers after ours. A write rolled back to its savepoint leaves a gap, which no
  // reader can tell from anything (a cursor only needs to grow).
  let lastSeq: number | undefined;

  function nextSeq(): number {
    lastSeq ??= (statements.lastChange.get() as { seq: number }).seq;
    return ++lastSeq;
  }

  function meterOf(scope: string, key: string): Meter {
    return toMeter(statements.meter.get(scope, key) as Row);
  }

  /** Records the events of the alerts reached; a second one of an (alert, period) inserts nothing. */
  function fire(reached: ReachedAlert[], now: number): void {
    for (const { scope, alert, period, value } of reached) {
      statements.insertEvent.run(scope, alert.id, alert.customerId, alert.meterKey, period, value, now);
    }
  }

  /** Decides the alerts of a group's changed totals. */
  function decideAlerts(changes: TotalsChange[]): void {
    if (changes.length === 0) return;
    const byCustomer = new Map<string, TotalsChange[]>();
    for (const change of changes) {
      const key = `${change.scope}\u0000${change.after.customerId}`;
      const list = byCustomer.get(key);
      if (list === undefined) byCustomer.set(key, [change]);
      else list.push(change);
    }
    const now = Date.now();
    for (const customerChanges of byCustomer.values()) {
      const { scope, after: first } = customerChanges[0]!;
      const alerts = (statements.alertsOfCustomer.all(scope, first.customerId) as Row[]).map(toAlert);
      if (alerts.length === 0) continue;
      for (const change of customerChanges) {
        if (alerts.some((alert) => alert.meterKey === change.after.meterKey)) {
          fire(meterAlertsReached(alerts, change, meterOf(scope, change.after.meterKey)), now);
        }
      }
      if (!alerts.some((alert) => alert.meterKey === "")) continue;
      const customer = toCustomer(statements.customer.get(scope, first.customerId) as Row);
      for (const period of new Set(customerChanges.map((change) => change.after.period))) {
        // The database holds the period's totals as they were before the group (it writes them just after this).
        const stored = [
          ...(statements.totalsOfPeriod.all(scope, customer.id, period) as Row[]),
          ...(statements.combinationTotalsOfPeriod.all(scope, customer.id, period) as Row[]),
        ].map(toTotals);
        const periodChanges = customerChanges.filter((change) => change.after.period === period);
        const meters = new Map<string, Meter>();
        for (const totals of [...stored, ...periodChanges.map((change) => change.after)]) {
          if (!meters.has(totals.meterKey)) meters.set(totals.meterKey, meterOf(scope, totals.meterKey));
        }
        const { before, after } = billLinesBeforeAndAfter(stored, periodChanges, meters);
        const lines = linesToPrice([...before, ...after], meters);
        const effective: Price[] = [];
        for (const series of candidateSeries(lines, customer.id)) {
          const row = statements.effectivePrice.get(scope, series.meterKey, customer.currencyCode, series.dimensionKey, series.customerId, period) as Row | undefined;
          if (row !== undefined) effective.push(toPrice(row));
        }
        const prices = choosePrices(lines, customer.id, effective);
        fire(totalAlertsReached(alerts, { scope, customer, period, before, after, meters, prices }), now);
      }
    }
  }

  return {
    recorded(scope: string, customerId: string, recordSeq: number): void {
      statements.insertChange.run(scope, nextSeq(), customerId, recordSeq, "recorded");
    },

    voided(scope: string, customerId: string, recordSeq: number): void {
      statements.insertChange.run(scope, nextSeq(), customerId, recordSeq, "voided");
    },

    createAlert(op: AlertWriteOp): CreateReply {
      const existing = statements.alertByRequestId.get(op.scope, op.requestId) as Row | undefined;
      if (existing !== undefined) return { kind: "exists", row: existing };
      const { count } = statements.countAlerts.get(op.scope, op.alert.customerId) as { count: number };
      if (count >= op.limit) return { kind: "over-quota" };
      const { alert } = op;
      statements.insertAlert.run(op.scope, alert.id, alert.customerId, alert.meterKey, alert.threshold, alert.createTime, op.requestId);
      return { kind: "created" };
    },

    /**
     * Runs in each group's transaction, before its totals are written: keeps
     * the changes' numbering, and decides the alerts of the totals it changed.
     */
    beforeCommit(groupChanges: { key: TotalsKey; before: UsageTotals | undefined; after: UsageTotals }[]): void {
      if (lastSeq !== undefined) statements.saveLastChange.run(lastSeq);
      decideAlerts(groupChanges.map(({ key, before, after }) => ({ scope: totalsKeyParts(key)[0], before, after })));
    },

    /** The group is over (committed or not): the next one reads the last number again. */
    groupEnded(): void {
      lastSeq = undefined;
    },
  };
}
