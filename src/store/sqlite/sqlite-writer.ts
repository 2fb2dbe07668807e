import type Database from "better-sqlite3";
import { Decimal } from "../../domain/decimal.js";
import type { QuotaResource } from "../../domain/quotas.js";
import { type Failure, requestIdReused } from "../../domain/failure.js";
import { type AggregationKeys, aggregationKeysOf, DEFAULT_MAX_DIMENSION_COMBINATIONS } from "../../domain/dimensions.js";
import type { Meter } from "../../domain/meter.js";
import { isPastUsageLimit, usageLimitExceeded } from "../../domain/usage-limits.js";
import { type NewUsageRecord, type UsageTotals, usageDifferences } from "../../domain/usage-record.js";
import { createGroupState } from "./group-totals.js";
import { createSqliteFeedWrites } from "./feed-writes.js";
import { createCreditsWriter } from "./credits-writer.js";
import { storageFault } from "./storage-faults.js";
import {
  LATEST_KEYS,
  meterPeriodQuantity,
  meterQuantityAfter,
  PLAIN_KEYS,
  recordingChanges,
  type RunningStateChanges,
  type RunningStateView,
  totalsKeyParts,
  valueKeyParts,
  voidingChanges,
  voidNeedsRemaining,
} from "../running-state.js";
import { type Row, TOTALS_VALUE_COLUMNS, USAGE_COLUMNS, USAGE_FROM, toMeter, toTotals, toUsageRecord, totalsColumns } from "../store-rows.js";
import { type CreateReply, type UsageEventMessage, type UsageEventReply, usageEventOf, type VoidReply, type WriteOp, type WriteReply, type WriteReplyValue } from "./write-messages.js";

/** Options of the writer. */
export interface SqliteWriterOptions {
  /** Most writes in one transaction; more wait for the next one. Default 4000. */
  maxGroupSize?: number;
  /** Told the size of each committed group and how long its transaction took, fsync included. Default none. */
  onCommitted?: (writes: number, seconds: number) => void;
  /** Most combinations of dimension values with usage per customer, meter and period. Default DEFAULT_MAX_DIMENSION_COMBINATIONS. */
  maxDimensionCombinations?: number;
}

/** How many attribute sets' aggregation keys the writer remembers. */
const RECENT_KEYS = 10_000;
/**
 * Running-state entries (totals rows; distinct-value counts) the writer remembers from committed groups, of
 * each kind: at about 300 bytes a totals row, up to some 30 MiB, which covers the totals of 10,000 customers
 * with 10 meters each.
 */
const REMEMBERED_STATE_ENTRIES = 100_000;

/** Thrown inside an atomic usage write to roll back its savepoint, carrying what was decided so far. */
class AtomicRefusal extends Error {
  constructor(readonly outcomes: UsageEventReply[]) {
    super("an event of an atomic write was refused");
  }
}

/** A write that threw inside a group's transaction, so the group was rolled back. */
class WriteFault extends Error {
  constructor(
    readonly index: number,
    readonly fault: unknown,
  ) {
    super("a write of the group failed");
  }
}

/**
 * The write side of the SQLite store, on a connection of its own (the writer
 * thread's). Group commit: `commitGroups` runs the writes it is given in ONE
 * `BEGIN IMMEDIATE` transaction and one COMMIT (one fsync with
 * synchronous=FULL), and returns each write's answer only once that COMMIT
 * has returned. A write that throws fails alone: an atomic write of several
 * events runs in its own savepoint and rolls back only that; any other write
 * that throws rolls the group back, and the group runs again without it. A
 * failed COMMIT fails every write of its group. Running totals touched by a
 * group are read once and written once, just before COMMIT.
 */
export function createSqliteWriter(db: Database.Database, options: SqliteWriterOptions = {}) {
  const maxGroupSize = options.maxGroupSize ?? 4000;
  const maxCombinations = options.maxDimensionCombinations ?? DEFAULT_MAX_DIMENSION_COMBINATIONS;
  const prepare = (sql: string) => db.prepare(sql);
  const statements = {
    customerByRequestId: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND request_id = ?`),
    customerByExternalId: prepare(`SELECT 1 FROM customers WHERE tenant_id = ? AND external_id = ? AND external_id <> ''`),
    insertCustomer: prepare(
      `INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id)
       VALUES (@tenant, @id, @externalId, @displayName, @currencyCode, @createTime, @requestId)`,
    ),
    meterByRequestId: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND request_id = ?`),
    meterByKey: prepare(`SELECT 1 FROM meters WHERE tenant_id = ? AND key = ?`),
    insertMeter: prepare(
      `INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id, unique_attribute, dimensions)
       VALUES (@tenant, @key, @displayName, @unit, @aggregation, @precision, @createTime, @requestId, @uniqueAttribute, @dimensions)`,
    ),
    meterRowByKey: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND key = ?`),
    priceByRequestId: prepare(`SELECT * FROM prices WHERE tenant_id = ? AND request_id = ?`),
    latestPriceVersion: prepare(
      `SELECT coalesce(max(version), 0) AS version FROM prices
       WHERE tenant_id = ? AND meter_key = ? AND currency_code = ? AND dimension_key = ? AND customer_id = ?`,
    ),
    insertPrice: prepare(
      `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, model, tiers, package_size, create_time, request_id,
                           dimension_key, customer_id)
       VALUES (@tenant, @id, @meterKey, @currencyCode, @version, @effectivePeriod, @model, @tiers, @packageSize, @createTime, @requestId,
               @dimensionKey, @customerId)`,
    ),
    usageByRequestId: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.request_id = ?`),
    usageById: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.id = ?`),
    // A request_id already recorded inserts nothing (changes = 0): the event is then a replay or a reuse.
    insertUsage: prepare(
      `INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                  requested_event_time, create_time, period, attributes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, request_id) DO NOTHING`,
    ),
    insertApiKey: prepare(
      `INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, create_time, revoke_time)
       VALUES (@id, @tenant, @role, @name, @secretHash, @createTime, NULL)`,
    ),
    revokeApiKey: prepare(`UPDATE api_keys SET revoke_time = ? WHERE id = ? AND revoke_time IS NULL`),
    tenantCount: prepare(`SELECT count FROM tenant_counts WHERE tenant_id = ? AND resource = ?`),
    countOneMore: prepare(
      `INSERT INTO tenant_counts (tenant_id, resource, count) VALUES (?, ?, 1)
       ON CONFLICT (tenant_id, resource) DO UPDATE SET count = count + 1`,
    ),
    apiKeyById: prepare(`SELECT * FROM api_keys WHERE id = ?`),
    insertVoid: prepare(`INSERT INTO usage_voids (tenant_id, record_id, reason, void_time) VALUES (?, ?, ?, ?)`),
    // A void's fallback: the other live events of its (customer, period, meter), in recording order.
    liveRecordsOfMeter: prepare(
      `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
       WHERE r.tenant_id = ? AND r.customer_id = ? AND r.period = ? AND r.meter_key = ? AND v.record_id IS NULL
       ORDER BY r.seq`,
    ),
    totalsOfMeter: prepare(`SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ?`),
    totalsOfCombination: prepare(
      `SELECT * FROM usage_dimension_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ? AND dimension_key = ?`,
    ),
    upsertTotals: prepare(
      `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, ${TOTALS_VALUE_COLUMNS.join(", ")})
       VALUES (?, ?, ?, ?, ${TOTALS_VALUE_COLUMNS.map(() => "?").join(", ")})
       ON CONFLICT (tenant_id, customer_id, period, meter_key)
       DO UPDATE SET ${TOTALS_VALUE_COLUMNS.map((column) => `${column} = excluded.${column}`).join(", ")}`,
    ),
    upsertCombinationTotals: prepare(
      `INSERT INTO usage_dimension_totals (tenant_id, customer_id, period, meter_key, dimension_key, ${TOTALS_VALUE_COLUMNS.join(", ")})
       VALUES (?, ?, ?, ?, ?, ${TOTALS_VALUE_COLUMNS.map(() => "?").join(", ")})
       ON CONFLICT (tenant_id, customer_id, period, meter_key, dimension_key)
       DO UPDATE SET ${TOTALS_VALUE_COLUMNS.map((column) => `${column} = excluded.${column}`).join(", ")}`,
    ),
    liveCount: prepare(
      `SELECT live_count FROM usage_distinct_values
       WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ? AND dimension_key = ? AND value = ?`,
    ),
    upsertLiveCount: prepare(
      `INSERT INTO usage_distinct_values (tenant_id, customer_id, period, meter_key, dimension_key, value, live_count)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, customer_id, period, meter_key, dimension_key, value) DO UPDATE SET live_count = excluded.live_count`,
    ),
    // Usage limits (issue 19).
    limitInForce: prepare(`SELECT usage_limit FROM usage_limits WHERE tenant_id = ? AND customer_id = ? AND meter_key = ?`),
    limitRequest: prepare(`SELECT * FROM usage_limit_requests WHERE tenant_id = ? AND request_id = ?`),
    insertLimitRequest: prepare(
      `INSERT INTO usage_limit_requests (tenant_id, request_id, customer_id, meter_key, usage_limit, update_time) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    upsertLimit: prepare(
      `INSERT INTO usage_limits (tenant_id, customer_id, meter_key, usage_limit, update_time) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, customer_id, meter_key) DO UPDATE SET usage_limit = excluded.usage_limit, update_time = excluded.update_time`,
    ),
    deleteLimit: prepare(`DELETE FROM usage_limits WHERE tenant_id = ? AND customer_id = ? AND meter_key = ?`),
  };

  // Running state (src/store/running-state.ts), read once and written once per group; the rows recent groups
  // committed are remembered (up to REMEMBERED_STATE_ENTRIES of each kind), so the next groups need not read them.
  const groupTotals = createGroupState<UsageTotals>(
    (key) => {
      const parts = totalsKeyParts(key);
      const row = (parts[4] === "" ? statements.totalsOfMeter.get(...parts.slice(0, 4)) : statements.totalsOfCombination.get(...parts)) as Row | undefined;
      return row === undefined ? undefined : toTotals(row);
    },
    (key, totals) => {
      const parts = totalsKeyParts(key);
      if (parts[4] === "") statements.upsertTotals.run(...parts.slice(0, 4), ...totalsColumns(totals));
      else statements.upsertCombinationTotals.run(...parts, ...totalsColumns(totals));
    },
    REMEMBERED_STATE_ENTRIES,
  );
  const groupLiveCounts = createGroupState<number>(
    (key) => (statements.liveCount.get(...valueKeyParts(key)) as { live_count: number } | undefined)?.live_count ?? 0,
    (key, live) => statements.upsertLiveCount.run(...valueKeyParts(key), live),
    REMEMBERED_STATE_ENTRIES,
  );
  /** Nothing of a failed group was committed, or another connection wrote: what the writer remembers may be stale. */
  function forgetRemembered(): void {
    forgetLimits();
    groupTotals.forget();
    groupLiveCounts.forget();
  }

  /** One write's view of the running state and its pending changes. */
  function stateOverlay() {
    const totals = groupTotals.overlay();
    const liveCounts = groupLiveCounts.overlay();
    const view: RunningStateView = {
      totals: (key) => totals.get(key),
      liveCount: (key) => liveCounts.get(key) ?? 0,
    };
    return {
      view,
      apply(changes: RunningStateChanges) {
        for (const [key, value] of changes.totals) totals.set(key, value);
        for (const [key, value] of changes.liveCounts) liveCounts.set(key, value);
      },
      commit() {
        totals.commit();
        liveCounts.commit();
      },
    };
  }
  /** A write's running state: `view` is what meterPeriodQuantity (src/store/running-state.ts) reads inside the transaction. */
  type StateOverlayOfWrite = ReturnType<typeof stateOverlay>;

  /**
   * The aggregation keys of recent attribute sets (JSON text) by meter (the writer's cached Meter object, which
   * stands for its tenant and key): at most RECENT_KEYS of them per meter (meters never change).
   */
  const recentKeys = new WeakMap<Meter, Map<string, AggregationKeys | Failure>>();

  // Meters never change once created: the writer keeps those it has looked up.
  const meters = new Map<string, Meter>();
  function meterOf(scope: string, meterKey: string): Meter | undefined {
    const cacheKey = `${scope}\u0000${meterKey}`;
    let meter = meters.get(cacheKey);
    if (meter === undefined) {
      const row = statements.meterRowByKey.get(scope, meterKey) as Row | undefined;
      if (row === undefined) return undefined;
      if (meters.size >= 100_000) meters.clear();
      meters.set(cacheKey, (meter = toMeter(row)));
    }
    return meter;
  }

  /**
   * Where an event counts (its meter's dimensions and unique attribute); an
   * event of an unknown meter counts in its meter's totals alone. The
   * attributes (JSON text, or already parsed) are parsed only for a meter that
   * aggregates by them.
   */
  function keysOf(meter: Meter | undefined, attributes: string | Record<string, string>): AggregationKeys | Failure {
    if (meter === undefined) return PLAIN_KEYS;
    if (meter.dimensions.length === 0 && meter.aggregation !== "unique_count") return meter.aggregation === "latest" ? LATEST_KEYS : PLAIN_KEYS;
    if (typeof attributes !== "string") return aggregationKeysOf(meter, attributes);
    // Producers repeat the same few attribute sets: their keys are worked out once.
    let ofMeter = recentKeys.get(meter);
    if (ofMeter === undefined) recentKeys.set(meter, (ofMeter = new Map()));
    let keys = ofMeter.get(attributes);
    if (keys === undefined) {
      keys = aggregationKeysOf(meter, JSON.parse(attributes) as Record<string, string>);
      if (ofMeter.size >= RECENT_KEYS) ofMeter.clear();
      ofMeter.set(attributes, keys);
    }
    return keys;
  }

  // --- Usage limits (issue 19) ---
  /**
   * The usage limits in force, by meter (the writer's cached Meter object,
   * so an event's lookup needs no key built) and customer, null for none:
   * what this writer read or wrote stays true until it writes a limit again
   * (which drops the entry), a group it ran is rolled back, or another
   * connection commits to the file (either drops them all). Most events have
   * no limit, and this makes their check one Map lookup. Bounded: a meter's
   * customers are forgotten when they fill MAX_CACHED_LIMITS.
   */
  let limitsInForce = new WeakMap<Meter, Map<string, Decimal | null>>();
  const MAX_CACHED_LIMITS = 100_000;
  const forgetLimits = () => (limitsInForce = new WeakMap());
  // Another process may write the same file (its own writer, taking turns through the file lock): a commit
  // of another connection changes data_version, and then nothing cached can be trusted.
  const dataVersion = db.prepare("PRAGMA data_version").pluck();
  let seenDataVersion: unknown;
  /** Run first in each group's transaction, once it holds the write lock. */
  function forgetIfOthersWrote(): void {
    const version = dataVersion.get();
    if (version !== seenDataVersion) forgetRemembered();
    seenDataVersion = version;
  }
  function limitInForce(scope: string, customerId: string, meter: Meter): Decimal | null {
    let ofMeter = limitsInForce.get(meter);
    if (ofMeter === undefined) limitsInForce.set(meter, (ofMeter = new Map()));
    let inForce = ofMeter.get(customerId);
    if (inForce === undefined) {
      const row = statements.limitInForce.get(scope, customerId, meter.key) as Row | undefined;
      inForce = row === undefined ? null : Decimal.parse(String(row.usage_limit))!;
      if (ofMeter.size >= MAX_CACHED_LIMITS) ofMeter.clear();
      ofMeter.set(customerId, inForce);
    }
    return inForce;
  }

  /**
   * The refusal of an event past its customer's limit on the meter: the
   * meter's period quantity after its changes (as this write sees it: earlier
   * events of the group count) fed to the limit check.
   */
  function limitRefusal(scope: string, record: NewUsageRecord, meter: Meter, changes: RunningStateChanges, state: StateOverlayOfWrite): Failure | undefined {
    const limit = limitInForce(scope, record.customerId, meter);
    if (limit === null) return undefined;
    const after = meterQuantityAfter(changes, meter);
    if (!isPastUsageLimit(limit, after)) return undefined;
    return usageLimitExceeded(limit, meterPeriodQuantity(state.view, scope, record.customerId, record.period, meter), after, record);
  }

  function setUsageLimit(op: Extract<WriteOp, { kind: "usage-limit" }>): CreateReply {
    const existing = statements.limitRequest.get(op.scope, op.requestId) as Row | undefined;
    if (existing !== undefined) return { kind: "exists", row: existing };
    statements.insertLimitRequest.run(op.scope, op.requestId, op.customerId, op.meterKey, op.limit, op.updateTime);
    if (op.limit === "") statements.deleteLimit.run(op.scope, op.customerId, op.meterKey);
    else statements.upsertLimit.run(op.scope, op.customerId, op.meterKey, op.limit, op.updateTime);
    const meter = meterOf(op.scope, op.meterKey);
    if (meter !== undefined) limitsInForce.get(meter)?.delete(op.customerId);
    return { kind: "created" };
  }
  // --- end of usage limits ---

  /**
   * Whether the tenant already holds its quota of `resource`; if not, counts
   * one more (the caller then inserts it). The writer is the only one writing,
   * so the count cannot change between the look and the insert.
   */
  function quotaFull(scope: string, resource: QuotaResource, limit: number): boolean {
    const row = statements.tenantCount.get(scope, resource) as { count: number } | undefined;
    if ((row?.count ?? 0) >= limit) return true;
    statements.countOneMore.run(scope, resource);
    return false;
  }

  function createCustomer(op: Extract<WriteOp, { kind: "customer" }>): CreateReply {
    const existing = statements.customerByRequestId.get(op.scope, op.requestId) as Row | undefined;
    if (existing !== undefined) return { kind: "exists", row: existing };
    const { customer } = op;
    if (customer.externalId !== "" && statements.customerByExternalId.get(op.scope, customer.externalId) !== undefined) return { kind: "taken" };
    if (quotaFull(op.scope, "customers", op.limit)) return { kind: "over-quota" };
    statements.insertCustomer.run({ tenant: op.scope, requestId: op.requestId, ...customer });
    return { kind: "created" };
  }

  function createMeter(op: Extract<WriteOp, { kind: "meter" }>): CreateReply {
    const existing = statements.meterByRequestId.get(op.scope, op.requestId) as Row | undefined;
    if (existing !== undefined) return { kind: "exists", row: existing };
    if (statements.meterByKey.get(op.scope, op.meter.key) !== undefined) return { kind: "taken" };
    if (quotaFull(op.scope, "meters", op.limit)) return { kind: "over-quota" };
    statements.insertMeter.run({ tenant: op.scope, requestId: op.requestId, ...op.meter, dimensions: JSON.stringify(op.meter.dimensions) });
    return { kind: "created" };
  }

  function createPrice(op: Extract<WriteOp, { kind: "price" }>): CreateReply {
    const existing = statements.priceByRequestId.get(op.scope, op.requestId) as Row | undefined;
    if (existing !== undefined) return { kind: "exists", row: existing };
    if (quotaFull(op.scope, "prices", op.limit)) return { kind: "over-quota" };
    const { price } = op;
    const latest = statements.latestPriceVersion.get(op.scope, price.meterKey, price.currencyCode, price.dimensionKey, price.customerId) as { version: number };
    const row = { tenant: op.scope, requestId: op.requestId, ...price, version: latest.version + 1 };
    statements.insertPrice.run(row);
    return {
      kind: "created",
      row: {
        id: price.id,
        meter_key: price.meterKey,
        currency_code: price.currencyCode,
        version: row.version,
        effective_period: price.effectivePeriod,
        model: price.model,
        tiers: price.tiers,
        package_size: price.packageSize,
        dimension_key: price.dimensionKey,
        customer_id: price.customerId,
        create_time: price.createTime,
      },
    };
  }

  /**
   * One event: insert it and add it to its totals, or replay or refuse it.
   * A new request_id is the common case, so the insert comes first and its
   * unique index is the idempotency check (one lookup, not two); only an
   * insert that found the request_id taken, or an event that would be
   * refused, reads the recorded row (a replay answers before any refusal).
   */
  function writeEvent(scope: string, event: UsageEventMessage, state: StateOverlayOfWrite): UsageEventReply {
    const quantity = Decimal.parse(event.quantity)!;
    const record = {
      id: event.id,
      customerId: event.customerId,
      meterKey: event.meterKey,
      period: event.period,
      eventTime: event.eventTime,
      quantity,
    } as NewUsageRecord;
    let changes: RunningStateChanges | Failure;
    if (event.refusal !== undefined) changes = event.refusal;
    else {
      const meter = meterOf(scope, event.meterKey);
      const keys = keysOf(meter, event.attributes);
      changes = "reason" in keys ? keys : recordingChanges(state.view, scope, record, keys, maxCombinations);
      if (meter !== undefined && !("reason" in changes)) changes = limitRefusal(scope, record, meter, changes, state) ?? changes;
    }
    if (!("reason" in changes) && insertEvent(scope, event)) {
      state.apply(changes);
      return null;
    }
    const existingRow = statements.usageByRequestId.get(scope, event.requestId) as Row | undefined;
    if (existingRow === undefined) return { refused: changes as Failure };
    const retry: NewUsageRecord = { ...event, quantity, attributes: JSON.parse(event.attributes) as Record<string, string> };
    const differences = usageDifferences(toUsageRecord(existingRow), retry);
    return differences.length === 0 ? { replayed: existingRow } : { refused: requestIdReused(event.requestId, differences) };
  }

  /** Inserts the event's row; false if its request_id was already recorded. */
  function insertEvent(scope: string, event: UsageEventMessage): boolean {
    const { changes, lastInsertRowid } = statements.insertUsage.run(
      scope,
      event.id,
      event.requestId,
      event.customerId,
      event.meterKey,
      event.quantity,
      event.eventTime,
      event.requestedEventTime,
      event.createTime,
      event.period,
      event.attributes,
    );
    if (changes !== 1) return false;
    feed.recorded(scope, event.customerId, Number(lastInsertRowid));
    return true;
  }

  function recordUsage(op: Extract<WriteOp, { kind: "usage" }>): UsageEventReply[] {
    const totals = stateOverlay();
    const outcomes: UsageEventReply[] = [];
    for (const event of op.events) {
      const outcome = writeEvent(op.scope, usageEventOf(event), totals);
      outcomes.push(outcome);
      // Throwing rolls back this write's savepoint (and drops its totals): none of its events stay.
      // (A single event refused has written nothing, so it needs no savepoint and is answered as is.)
      if (op.atomic && op.events.length > 1 && isRefusal(outcome)) throw new AtomicRefusal(outcomes);
    }
    totals.commit();
    return outcomes;
  }

  function voidUsage(op: Extract<WriteOp, { kind: "void" }>): VoidReply {
    const state = stateOverlay();
    const row = statements.usageById.get(op.scope, op.recordId) as Row | undefined;
    if (row === undefined) throw new Error(`usage record ${op.recordId} vanished`);
    const record = toUsageRecord(row);
    if (record.voided) return { kind: "already-voided", row };
    statements.insertVoid.run(op.scope, op.recordId, op.reason, op.voidTime);
    feed.voided(op.scope, record.customerId, Number(row.seq));
    const keys = keysOf(meterOf(op.scope, record.meterKey), record.attributes);
    if ("reason" in keys) throw new Error(`usage record ${record.id} does not fit its meter: ${keys.message}`);
    // A maximum or latest event only moves when the voided event was it: only then are the others read.
    const remaining = voidNeedsRemaining(state.view, op.scope, record, keys)
      ? (statements.liveRecordsOfMeter.all(op.scope, record.customerId, record.period, record.meterKey) as Row[]).map((liveRow) => {
          const live = toUsageRecord(liveRow);
          const liveKeys = keysOf(meterOf(op.scope, live.meterKey), live.attributes);
          return { record: live, keys: "reason" in liveKeys ? PLAIN_KEYS : liveKeys };
        })
      : null;
    state.apply(voidingChanges(state.view, op.scope, record, keys, remaining));
    state.commit();
    return { kind: "voided", row };
  }

  // The usage feed and alerts (src/store/sqlite/feed-writes.ts).
  const feed = createSqliteFeedWrites(db);
  const credits = createCreditsWriter(db, { recordUsage, voidUsage });

  function write(op: WriteOp): WriteReplyValue {
    switch (op.kind) {
      case "credit-grant":
      case "finalize-bill":
      case "correction":
      case "write-revision":
        return credits.write(op);
      case "usage":
        return recordUsage(op);
      case "void":
        return voidUsage(op);
      case "customer":
        return createCustomer(op);
      case "meter":
        return createMeter(op);
      case "price":
        return createPrice(op);
      case "alert":
        return feed.createAlert(op);
      case "usage-limit":
        return setUsageLimit(op);
      case "api-key": {
        const { secretHash, revokeTime: _, ...key } = op.key;
        if (quotaFull(key.tenant, "apiKeys", op.limit)) return "over-quota";
        statements.insertApiKey.run({ ...key, secretHash: Buffer.from(secretHash, "base64") });
        return null;
      }
      case "revoke-api-key": {
        statements.revokeApiKey.run(op.revokeTime, op.id);
        const row = statements.apiKeyById.get(op.id) as Row | undefined;
        if (row === undefined) return null;
        const { secret_hash: _, ...withoutSecret } = row;
        return withoutSecret;
      }
    }
  }

  /** Only an atomic write of several events can refuse after inserting some: it alone needs a savepoint. */
  const needsSavepoint = (op: WriteOp) => op.kind === "usage" && op.atomic && op.events.length > 1;

  const commitGroup = db.transaction((group: WriteOp[]): WriteReply[] => {
    forgetIfOthersWrote();
    const replies: WriteReply[] = [];
    group.forEach((op, index) => {
      if (!needsSavepoint(op)) {
        try {
          replies.push({ ok: true, value: write(op) });
        } catch (error) {
          // A storage fault (full disk, I/O error) is no fault of this write: the group fails.
          if (!db.inTransaction || storageFault(error) !== error) throw error;
          throw new WriteFault(index, error);
        }
        return;
      }
      try {
        replies.push({ ok: true, value: db.transaction(write)(op) });
      } catch (error) {
        // A full disk or an I/O error can make SQLite roll back the whole
        // transaction, not just the savepoint: the writes after this one
        // would then run (and commit) outside it. The group fails instead.
        if (!db.inTransaction) throw error;
        if (error instanceof AtomicRefusal) {
          // The refused events say why; every other event of the write was rolled back.
          const outcomes = error.outcomes;
          replies.push({ ok: true, value: outcomes.map((outcome) => (isRefusal(outcome) ? outcome : "aborted")).concat(new Array(countEvents(op) - outcomes.length).fill("aborted")) });
        } else {
          replies.push(failed(error));
        }
      }
    });
    feed.beforeCommit(groupTotals.changes());
    groupTotals.flush();
    groupLiveCounts.flush();
    return replies;
  });

  /** Commits `group` (at most maxGroupSize writes), taking out and failing each write that throws. */
  function commitOneGroup(group: WriteOp[]): WriteReply[] {
    const replies: (WriteReply | undefined)[] = new Array(group.length);
    let remaining = group.map((_, index) => index);
    while (remaining.length > 0) {
      try {
        const started = performance.now();
        const committed = commitGroup.immediate(remaining.map((index) => group[index]!));
        groupTotals.committed();
        groupLiveCounts.committed();
        options.onCommitted?.(remaining.length, (performance.now() - started) / 1000);
        remaining.forEach((index, at) => (replies[index] = committed[at]));
        break;
      } catch (error) {
        // Nothing of the group was committed: limits it wrote are not in force, totals it wrote not stored.
        forgetRemembered();
        if (!(error instanceof WriteFault)) {
          for (const index of remaining) replies[index] = failed(error);
          break;
        }
        // Nothing of the group was committed: fail the write that threw, run the others again.
        replies[remaining[error.index]!] = failed(error.fault);
        remaining = remaining.filter((_, at) => at !== error.index);
      } finally {
        groupTotals.clear();
        groupLiveCounts.clear();
        feed.groupEnded();
      }
    }
    return replies as WriteReply[];
  }

  return {
    /** Commits the writes in groups of at most maxGroupSize; one answer per write, in order. */
    commit(ops: WriteOp[]): WriteReply[] {
      if (ops.length <= maxGroupSize) return commitOneGroup(ops);
      const replies: WriteReply[] = [];
      for (let start = 0; start < ops.length; start += maxGroupSize) replies.push(...commitOneGroup(ops.slice(start, start + maxGroupSize)));
      return replies;
    },
  };
}

function isRefusal(outcome: UsageEventReply | undefined): outcome is { refused: Failure } {
  return typeof outcome === "object" && outcome !== null && "refused" in outcome;
}

function countEvents(op: WriteOp): number {
  return op.kind === "usage" ? op.events.length : 0;
}

function failed(error: unknown): WriteReply {
  if (!(error instanceof Error)) return { ok: false, error: { message: String(error) } };
  const code = (error as { code?: unknown }).code;
  return { ok: false, error: { message: error.message, stack: error.stack, ...(typeof code === "string" ? { code } : {}) } };
}
