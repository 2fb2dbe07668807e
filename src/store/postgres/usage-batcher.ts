import type pg from "pg";
import { type Failure, requestIdReused } from "../../domain/failure.js";
import type { Scope, UsageWrite, UsageWriteOutcome } from "../../domain/store.js";
import { type AggregationKeys, aggregationKeysOf, DEFAULT_MAX_DIMENSION_COMBINATIONS } from "../../domain/dimensions.js";
import { Decimal } from "../../domain/decimal.js";
import { isPastUsageLimit, usageLimitExceeded } from "../../domain/usage-limits.js";
import { recordedUsage, type UsageRecord, type UsageTotals, usageDifferences } from "../../domain/usage-record.js";
import { LostRace, nulCharacterRefused } from "./postgres-errors.js";
import {
  meterPeriodQuantity,
  meterQuantityAfter,
  isMeterTotalsKey,
  PLAIN_KEYS,
  recordingChanges,
  type RunningStateChanges,
  type RunningStateView,
  type TotalsKey,
  totalsKeyOf,
  totalsKeyParts,
  totalsKeysOf,
  type ValueKey,
  valueKeysOf,
} from "../running-state.js";
import { toTotals, toUsageRecord, USAGE_COLUMNS, USAGE_FROM } from "../store-rows.js";
import { createMeterLookup, type MeterLookup, meterLookupKey, readRunningState, writeRunningState, writeTotals } from "./postgres-rows.js";
import { alertsOfCustomers, decideAlerts, lockBillTotals, watchesTotal } from "./feed-writes.js";

/** Options of the usage batcher. */
export interface UsageBatcherOptions {
  /** Most events in one transaction; calls beyond wait for the next one. Default 4000. */
  maxGroupEvents?: number;
  /** Told the number of calls and the duration of each committed group, round trips and commit included. Default none. */
  onCommitted?: (writes: number, seconds: number) => void;
  /** Most combinations of dimension values with usage per customer, meter and period. Default DEFAULT_MAX_DIMENSION_COMBINATIONS. */
  maxDimensionCombinations?: number;
}

interface PendingCall {
  scope: Scope;
  writes: UsageWrite[];
  atomic: boolean;
  resolve: (outcomes: UsageWriteOutcome[]) => void;
  reject: (error: unknown) => void;
}

/** Runs a transaction (retrying it on conflicts) and resolves once it committed. */
type RunTransaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

/**
 * Group commit for PostgreSQL: usage calls that arrive together are written
 * in ONE transaction with a fixed number of round trips, whatever the number
 * of events (lock the running totals, read the request ids already claimed,
 * insert the new records, write the totals, COMMIT), and each call is
 * answered only after that COMMIT. One group is in flight at a time per
 * process; calls arriving meanwhile form the next group.
 *
 * Several processes may write at once. Each transaction first locks the
 * totals rows it will change, in one sorted order, so writers of the same
 * (customer, meter, period) take turns and never deadlock among themselves;
 * the request ids are read after that lock, so a duplicate sent to two
 * replicas at once is seen by the second as the first one's record. A
 * duplicate whose payload names other totals (a changed retry) does not share
 * the lock: the insert's ON CONFLICT DO NOTHING then waits for the other
 * transaction, finds the key claimed, and the whole group runs again, now
 * seeing the winner. Nothing is decided on a stale read.
 *
 * Usage limits are read by the same statement that locks the meter totals
 * rows, and an event is judged against its meter's row as locked plus the
 * group's earlier events: every writer of a (customer, meter, period), on any
 * replica, holds that row from the check to its COMMIT, so the accepted
 * quantity never passes the limit.
 */
export function createUsageBatcher(runTransaction: RunTransaction, options: UsageBatcherOptions = {}) {
  const maxGroupEvents = options.maxGroupEvents ?? 4000;
  const meters = createMeterLookup();
  const maxCombinations = options.maxDimensionCombinations ?? DEFAULT_MAX_DIMENSION_COMBINATIONS;
  let queue: PendingCall[] = [];
  let running: Promise<void> | undefined;

  function schedule(): void {
    if (running !== undefined || queue.length === 0) return;
    running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        let events = 0;
        let taken = 0;
        while (taken < queue.length && (taken === 0 || events + queue[taken]!.writes.length <= maxGroupEvents)) {
          events += queue[taken]!.writes.length;
          taken++;
        }
        const group = queue.slice(0, taken);
        queue = queue.slice(taken);
        try {
          const started = performance.now();
          const outcomes = await runTransaction((client) => writeGroup(client, group, meters, maxCombinations));
          options.onCommitted?.(group.length, (performance.now() - started) / 1000);
          group.forEach((call, index) => call.resolve(outcomes[index]!));
        } catch (error) {
          for (const call of group) call.reject(error);
        }
      })
      .finally(() => {
        running = undefined;
        schedule();
      });
  }

  return {
    /** Writes one call's events in the next group's transaction; resolves with their outcomes once committed. */
    submit(scope: Scope, writes: UsageWrite[], atomic: boolean): Promise<UsageWriteOutcome[]> {
      if (writes.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        queue.push({ scope, writes, atomic, resolve, reject });
        schedule();
      });
    },
    /**
     * Writes one call's events inside the caller's own transaction (a
     * correction's, which adds its bill revision), as a group of its own.
     */
    async writeWithin(client: pg.PoolClient, scope: Scope, writes: UsageWrite[]): Promise<UsageWriteOutcome[]> {
      return (await writeGroup(client, [{ scope, writes, atomic: false }], meters, maxCombinations))[0]!;
    },
    /** Resolves once every call submitted so far has been committed (or failed). */
    async drain(): Promise<void> {
      while (running !== undefined) await running;
    },
  };
}

const keyOf = (...parts: string[]) => parts.join("\u0000");

/**
 * A request_id holding U+0000, which PostgreSQL's TEXT cannot store: that
 * event alone is refused (it cannot have been recorded before), rather than
 * failing the statement of the whole group.
 */
const holdsNul = (write: Pick<UsageWrite, "record">) => write.record.requestId.includes("\u0000");

/** One group's transaction; returns each call's outcomes, in order. */
async function writeGroup(client: pg.PoolClient, group: Pick<PendingCall, "scope" | "writes" | "atomic">[], meters: MeterLookup, maxCombinations: number): Promise<UsageWriteOutcome[][]> {
  // 0. Where each event counts (its meter's dimensions and unique attribute); a missing one refuses it.
  const keysOfWrite = new Map<UsageWrite, AggregationKeys | Failure>();
  const known = await meters.load(
    client,
    group.flatMap((call) => call.writes.map((write) => [call.scope, write.record.meterKey] as const)),
  );
  for (const call of group) {
    for (const write of call.writes) {
      const meter = known.get(meterLookupKey(call.scope, write.record.meterKey));
      keysOfWrite.set(write, meter === undefined ? PLAIN_KEYS : aggregationKeysOf(meter, write.record.attributes));
    }
  }
  const changesTotals = (write: UsageWrite) => write.refusal === undefined && !holdsNul(write) && !("reason" in keysOfWrite.get(write)!);

  // 1. Lock (creating when missing) every meter totals row an event may change, in sorted order.
  const totalsKeys = new Set<TotalsKey>();
  const valueKeys = new Set<ValueKey>();
  for (const call of group) {
    for (const write of call.writes) {
      if (!changesTotals(write)) continue; // refused unless already recorded: it changes no totals
      const keys = keysOfWrite.get(write) as AggregationKeys;
      const rows = totalsKeysOf(call.scope, write.record, keys);
      for (const key of rows) totalsKeys.add(key);
      for (const key of valueKeysOf(rows, keys)) valueKeys.add(key);
    }
  }
  // TotalsKeys sort as their parts do (running-state.ts).
  const meterRows = [...totalsKeys].filter(isMeterTotalsKey).sort().map(totalsKeyParts);
  // 0. The alerts of the group's customers; a bill-total alert's (customer, period) locks come before any totals row.
  const customers = new Map(meterRows.map(([scope, customerId]) => [keyOf(scope, customerId), [scope, customerId] as [string, string]]));
  const alerts = await alertsOfCustomers(client, [...customers.values()]);
  if (alerts.size > 0) {
    await lockBillTotals(
      client,
      meterRows.filter(([scope, customerId]) => watchesTotal(alerts, scope, customerId)).map(([scope, customerId, period]) => [scope, customerId, period]),
    );
  }
  const state = { totals: new Map<string, UsageTotals>(), liveCounts: new Map<string, number>() };
  // The usage limit in force on each locked meter totals row's (customer, meter), read by the same statement.
  const limits = new Map<string, Decimal>();
  if (meterRows.length > 0) {
    const locked = await client.query(
      `WITH locked AS (
         INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max)
         SELECT k.tenant_id, k.customer_id, k.period, k.meter_key, '0', 0, '0'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(tenant_id, customer_id, period, meter_key, position)
         ORDER BY k.position
         ON CONFLICT (tenant_id, customer_id, period, meter_key) DO UPDATE SET event_count = usage_totals.event_count
         RETURNING *)
       SELECT locked.*, l.usage_limit FROM locked
       LEFT JOIN usage_limits l ON l.tenant_id = locked.tenant_id AND l.customer_id = locked.customer_id AND l.meter_key = locked.meter_key`,
      [0, 1, 2, 3].map((column) => meterRows.map((key) => key[column]!)),
    );
    for (const row of locked.rows as Record<string, unknown>[]) {
      const key = totalsKeyOf(String(row.tenant_id), String(row.customer_id), String(row.period), String(row.meter_key), "");
      state.totals.set(key, toTotals(row));
      if (row.usage_limit !== null && row.usage_limit !== undefined) limits.set(key, Decimal.parse(String(row.usage_limit))!);
    }
    // Combinations and distinct values: guarded by their meter's lock, read after it.
    const rest = await readRunningState(client, [...totalsKeys], [...valueKeys]);
    for (const [key, totals] of rest.totals) state.totals.set(key, totals);
    for (const [key, live] of rest.liveCounts) state.liveCounts.set(key, live);
  }

  const totalsBefore = new Map(state.totals);

  // 2. The request ids already claimed (read after the lock: see above).
  const claimed = new Map<string, UsageRecord>();
  const requested = group.flatMap((call) => call.writes.filter((write) => !holdsNul(write)).map((write) => [call.scope, write.record.requestId] as const));
  const existing = await client.query(
    `SELECT r.tenant_id, ${USAGE_COLUMNS} FROM ${USAGE_FROM}
     WHERE (r.tenant_id, r.request_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [requested.map(([scope]) => scope), requested.map(([, requestId]) => requestId)],
  );
  for (const row of existing.rows as Record<string, unknown>[]) claimed.set(keyOf(String(row.tenant_id), String(row.request_id)), toUsageRecord(row));

  // 3. Each call in order, as the domain judges it; an atomic call refused leaves no trace.
  const inserts: { scope: Scope; record: UsageRecord }[] = [];
  const dirty: RunningStateChanges = { totals: [], liveCounts: [] };
  const outcomes = group.map((call) => {
    const callClaims = new Map<string, UsageRecord>();
    const callState = { totals: new Map<string, [TotalsKey, UsageTotals]>(), liveCounts: new Map<string, [ValueKey, number]>() };
    const view: RunningStateView = {
      totals: (key) => callState.totals.get(key)?.[1] ?? state.totals.get(key),
      liveCount: (key) => callState.liveCounts.get(key)?.[1] ?? state.liveCounts.get(key) ?? 0,
    };
    const callOutcomes: UsageWriteOutcome[] = [];
    for (const write of call.writes) {
      const { record, refusal } = write;
      const keys = keysOfWrite.get(write)!;
      const requestKey = keyOf(call.scope, record.requestId);
      const earlier = callClaims.get(requestKey) ?? claimed.get(requestKey);
      let outcome: UsageWriteOutcome;
      if (holdsNul({ record })) {
        outcome = { kind: "refused", failure: nulCharacterRefused().failure };
      } else if (earlier !== undefined) {
        const differences = usageDifferences(earlier, record);
        outcome =
          differences.length === 0 ? { kind: "replayed", record: earlier } : { kind: "refused", failure: requestIdReused(record.requestId, differences) };
      } else if (refusal !== undefined) {
        outcome = { kind: "refused", failure: refusal };
      } else if ("reason" in keys) {
        outcome = { kind: "refused", failure: keys };
      } else {
        const changes = recordingChanges(view, call.scope, record, keys, maxCombinations);
        // The usage limit: the meter's period quantity before this event (its row is locked; earlier events of the
        // group count) and after its changes.
        const limit = "reason" in changes ? undefined : limits.get(totalsKeyOf(call.scope, record.customerId, record.period, record.meterKey, ""));
        const meter = limit === undefined ? undefined : known.get(meterLookupKey(call.scope, record.meterKey));
        let overLimit: Failure | undefined;
        if (limit !== undefined && meter !== undefined && !("reason" in changes)) {
          const after = meterQuantityAfter(changes, meter);
          if (isPastUsageLimit(limit, after)) overLimit = usageLimitExceeded(limit, meterPeriodQuantity(view, call.scope, record.customerId, record.period, meter), after, record);
        }
        if ("reason" in changes) {
          outcome = { kind: "refused", failure: changes };
        } else if (overLimit !== undefined) {
          outcome = { kind: "refused", failure: overLimit };
        } else {
          for (const change of changes.totals) callState.totals.set(change[0], change);
          for (const change of changes.liveCounts) callState.liveCounts.set(change[0], change);
          const recorded = recordedUsage(record);
          callClaims.set(requestKey, recorded);
          outcome = { kind: "recorded", record: recorded };
        }
      }
      callOutcomes.push(outcome);
      if (call.atomic && outcome.kind === "refused") {
        return call.writes.map((_, index): UsageWriteOutcome => (callOutcomes[index]?.kind === "refused" ? callOutcomes[index] : { kind: "aborted" }));
      }
    }
    for (const [key, record] of callClaims) {
      claimed.set(key, record);
      inserts.push({ scope: call.scope, record });
    }
    for (const [text, change] of callState.totals) state.totals.set(text, change[1]);
    for (const [text, change] of callState.liveCounts) state.liveCounts.set(text, change[1]);
    dirty.totals.push(...callState.totals.values());
    dirty.liveCounts.push(...callState.liveCounts.values());
    return callOutcomes;
  });
  // 4. The new records, in one statement. A key claimed meanwhile by a writer
  // that did not share our locks means what we decided is stale: run again.
  if (inserts.length > 0) {
    const columns = (pick: (insert: { scope: Scope; record: UsageRecord }) => unknown) => inserts.map(pick);
    // Each new record's change for the feed, in the same statement: the records are inserted in order, and
    // so are their changes.
    const inserted = await client.query(
      `WITH inserted AS (
       INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                  requested_event_time, create_time, period, attributes)
       SELECT u.tenant_id, u.id, u.request_id, u.customer_id, u.meter_key, u.quantity, u.event_time,
              u.requested_event_time, u.create_time, u.period, u.attributes
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                   $9::bigint[], $10::text[], $11::text[]) WITH ORDINALITY
         AS u(tenant_id, id, request_id, customer_id, meter_key, quantity, event_time, requested_event_time, create_time, period, attributes, position)
       ORDER BY u.position
       ON CONFLICT (tenant_id, request_id) DO NOTHING
       RETURNING tenant_id, customer_id, seq)
       INSERT INTO usage_changes (tenant_id, customer_id, record_seq, kind)
       SELECT tenant_id, customer_id, seq, 'recorded' FROM inserted ORDER BY seq`,
      [
        columns((insert) => insert.scope),
        columns((insert) => insert.record.id),
        columns((insert) => insert.record.requestId),
        columns((insert) => insert.record.customerId),
        columns((insert) => insert.record.meterKey),
        columns((insert) => insert.record.quantity.toString()),
        columns((insert) => insert.record.eventTime),
        columns((insert) => insert.record.requestedEventTime),
        columns((insert) => insert.record.createTime),
        columns((insert) => insert.record.period),
        columns((insert) => JSON.stringify(insert.record.attributes)),
      ],
    );
    if (inserted.rowCount !== inserts.length) throw new LostRace("a request_id was claimed by a concurrent writer");
  }

  // 5. The running state, each table in one statement; COMMIT follows. (A key changed by several calls
  // is written with its last value: later entries overwrite earlier ones.)
  const last = <V>(entries: [string, V][]) => [...new Map(entries.map((entry) => [entry[0], entry])).values()];
  const changed: RunningStateChanges = { totals: last(dirty.totals), liveCounts: last(dirty.liveCounts) };
  // The alerts the changed totals reach, decided before they are written.
  if (alerts.size > 0) {
    await decideAlerts(
      client,
      changed.totals.map(([key, totals]) => ({ scope: totalsKeyParts(key)[0], before: totalsBefore.get(key), after: totals })),
      alerts,
    );
  }
  await writeTotals(
    client,
    changed.totals.filter(([key]) => isMeterTotalsKey(key)).map(([key, totals]) => ({ scope: totalsKeyParts(key)[0], totals })),
  );
  await writeRunningState(client, changed);
  return outcomes;
}

