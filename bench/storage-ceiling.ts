/**
 * The storage ceiling: how many usage events per second better-sqlite3 can
 * make durable on this machine with Tally's schema and durability and the
 * same work per event, with nothing else in the way (no network, no
 * protobuf, no validation, no event loop). Runs in its own process, driven by
 * a StoragePlan over IPC, answering with a StorageResult.
 *
 * Per event, inside one BEGIN IMMEDIATE transaction: the idempotency lookup
 * by (tenant_id, request_id) joined with the voids as Tally reads it, a read
 * of the (customer, meter, period) running totals, an exact decimal add of
 * the quantity to the text sum, the insert into usage_records and the upsert
 * of usage_totals, and (as Tally's store does since the usage feed) the
 * usage_changes row of the new record (and, once per transaction, the
 * changes' last number); `withoutChangeLog` leaves those out,
 * for the reference row that shows what the feed's change log costs. The
 * schema is Tally's own migration SQL.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { DEFAULT_SCOPE } from "../src/domain/store.js";
import { MIGRATIONS } from "../src/store/sqlite/migrations.js";
import type { Latency } from "./load-plan.js";
import { answerParentAndExit, failChild } from "./processes.js";

/** One storage ceiling run. */
export interface StoragePlan {
  /** A fresh database file. */
  dbPath: string;
  /** 1000 for batched ingest, 1 for one event per transaction. */
  eventsPerTransaction: number;
  /** Customers the events cycle through. */
  customers: number;
  warmupMs: number;
  durationMs: number;
  /** Leave out the usage_changes insert (the reference for the change log's cost). Default false. */
  withoutChangeLog?: boolean;
}

/** What a storage ceiling run measured. */
export interface StorageResult {
  seconds: number;
  events: number;
  transactions: number;
  eventsPerSecond: number;
  /** One transaction, BEGIN IMMEDIATE to COMMIT returned (fsync included). */
  commitLatencyMs: Latency;
  /** This process's CPU use in the window, % of one core. */
  cpuPercent: number;
}

const TENANT = DEFAULT_SCOPE;
const METER_KEY = "bench-requests";
const QUANTITY = "1.25";

/** Parses a non-negative decimal string into (units, scale), exactly. */
function decimalParts(text: string): [bigint, number] {
  const point = text.indexOf(".");
  return point < 0 ? [BigInt(text), 0] : [BigInt(text.slice(0, point) + text.slice(point + 1)), text.length - point - 1];
}

/** Exact sum of two non-negative decimal strings, written without trailing zeros (as Tally writes totals). */
function addDecimals(left: string, right: string): string {
  const [leftUnits, leftScale] = decimalParts(left);
  const [rightUnits, rightScale] = decimalParts(right);
  const scale = Math.max(leftScale, rightScale);
  const units = leftUnits * 10n ** BigInt(scale - leftScale) + rightUnits * 10n ** BigInt(scale - rightScale);
  if (scale === 0) return units.toString();
  const digits = units.toString().padStart(scale + 1, "0");
  const fraction = digits.slice(-scale).replace(/0+$/, "");
  return fraction === "" ? digits.slice(0, -scale) : `${digits.slice(0, -scale)}.${fraction}`;
}

/** The larger of two non-negative decimal strings. */
function maxDecimal(left: string, right: string): string {
  const [leftUnits, leftScale] = decimalParts(left);
  const [rightUnits, rightScale] = decimalParts(right);
  const scale = Math.max(leftScale, rightScale);
  return leftUnits * 10n ** BigInt(scale - leftScale) >= rightUnits * 10n ** BigInt(scale - rightScale) ? left : right;
}

function openLikeTally(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("busy_timeout = 5000");
  if (db.pragma("journal_mode = WAL", { simple: true }) !== "wal") throw new Error("SQLite refused WAL mode");
  db.pragma("synchronous = FULL");
  if (db.pragma("synchronous", { simple: true }) !== 2) throw new Error("SQLite synchronous is not FULL");
  for (const [index, migration] of MIGRATIONS.entries()) {
    db.transaction(() => {
      db.exec(migration);
      db.pragma(`user_version = ${index + 1}`);
    }).immediate();
  }
  return db;
}

async function run(plan: StoragePlan): Promise<StorageResult> {
  const db = openLikeTally(plan.dbPath);
  const lookup = db.prepare(
    `SELECT r.seq, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.event_time, r.requested_event_time,
            r.create_time, r.period, r.attributes, v.reason AS void_reason, v.void_time
     FROM usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
     WHERE r.tenant_id = ? AND r.request_id = ?`,
  );
  const totalsOfMeter = db.prepare(`SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ?`);
  const insertUsage = db.prepare(
    `INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                requested_event_time, create_time, period, attributes)
     VALUES (@tenant, @id, @requestId, @customerId, @meterKey, @quantity, @eventTime,
             @requestedEventTime, @createTime, @period, @attributes)`,
  );
  const upsertTotals = db.prepare(
    `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max)
     VALUES (@tenant, @customerId, @period, @meterKey, @sum, @count, @max)
     ON CONFLICT (tenant_id, customer_id, period, meter_key)
     DO UPDATE SET quantity_sum = excluded.quantity_sum, event_count = excluded.event_count, quantity_max = excluded.quantity_max`,
  );
  const insertChange = db.prepare(`INSERT INTO usage_changes (tenant_id, seq, customer_id, record_seq, kind) VALUES (?, ?, ?, ?, 'recorded')`);
  const saveChangeSequence = db.prepare(`UPDATE usage_change_sequence SET last = ?`);
  let changeSeq = 0;
  const customerIds = Array.from({ length: plan.customers }, (_, index) => `cus_bench${String(index).padStart(27, "0")}`);
  let sequence = 0;

  const writeEvent = (now: number, period: string) => {
    const number = sequence++;
    const requestId = `ceiling-${String(number).padStart(12, "0")}`;
    if (lookup.get(TENANT, requestId) !== undefined) throw new Error(`request id ${requestId} already recorded`);
    const customerId = customerIds[number % customerIds.length]!;
    const totals = totalsOfMeter.get(TENANT, customerId, period, METER_KEY) as
      | { quantity_sum: string; event_count: number; quantity_max: string }
      | undefined;
    const { lastInsertRowid } = insertUsage.run({
      tenant: TENANT,
      id: `rec_${number.toString(16).padStart(32, "0")}`,
      requestId,
      customerId,
      meterKey: METER_KEY,
      quantity: QUANTITY,
      eventTime: now,
      requestedEventTime: null,
      createTime: now,
      period,
      attributes: "{}",
    });
    if (plan.withoutChangeLog !== true) insertChange.run(TENANT, ++changeSeq, customerId, lastInsertRowid);
    upsertTotals.run({
      tenant: TENANT,
      customerId,
      period,
      meterKey: METER_KEY,
      sum: totals === undefined ? QUANTITY : addDecimals(totals.quantity_sum, QUANTITY),
      count: (totals?.event_count ?? 0) + 1,
      max: totals === undefined ? QUANTITY : maxDecimal(totals.quantity_max, QUANTITY),
    });
  };
  const writeTransaction = db.transaction(() => {
    const now = Date.now();
    const period = new Date(now).toISOString().slice(0, 7);
    for (let index = 0; index < plan.eventsPerTransaction; index++) writeEvent(now, period);
    if (plan.withoutChangeLog !== true) saveChangeSequence.run(changeSeq);
  });

  const warmupEnd = performance.now() + plan.warmupMs;
  while (performance.now() < warmupEnd) writeTransaction.immediate();

  process.send?.({ type: "window-start" });
  await new Promise((resolve) => setTimeout(resolve, 5)); // let the message go out before the loop holds the thread
  const commitMs: number[] = [];
  const cpuAtStart = process.cpuUsage();
  const windowStart = performance.now();
  const windowEnd = windowStart + plan.durationMs;
  let now = windowStart;
  while (now < windowEnd) {
    writeTransaction.immediate();
    const finished = performance.now();
    commitMs.push(finished - now);
    now = finished;
  }
  const seconds = (now - windowStart) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  process.send?.({ type: "window-end" });
  db.close();

  commitMs.sort((a, b) => a - b);
  const at = (fraction: number) => commitMs[Math.min(commitMs.length - 1, Math.floor(fraction * commitMs.length))]!;
  const events = commitMs.length * plan.eventsPerTransaction;
  return {
    seconds,
    events,
    transactions: commitMs.length,
    eventsPerSecond: events / seconds,
    commitLatencyMs: {
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: commitMs[commitMs.length - 1]!,
      mean: commitMs.reduce((sum, value) => sum + value, 0) / commitMs.length,
    },
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
  };
}

process.once("message", (plan: StoragePlan) => {
  run(plan).then((result) => answerParentAndExit({ type: "result", result }), failChild);
});
