import pg from "pg";
import type { ApiKey, StoredApiKey } from "../../domain/api-key.js";
import type { Bill } from "../../domain/bill.js";
import { billDocument } from "../../domain/bill-revisions.js";
import type { BillingPeriod } from "../../domain/billing-period.js";
import { allocateCredits, amountsDue, type CreditGrant } from "../../domain/credits.js";
import type { Customer } from "../../domain/customer.js";
import { Decimal } from "../../domain/decimal.js";
import { mapInSlices } from "../../domain/event-loop-slices.js";
import { FailureError, failure } from "../../domain/failure.js";
import type { Meter } from "../../domain/meter.js";
import type { Price } from "../../domain/price.js";
import { DEFAULT_TENANT_QUOTAS, type QuotaResource, type TenantQuotas } from "../../domain/quotas.js";
import type {
  Correction,
  CorrectionOutcome,
  CreateOutcome,
  Cursor,
  PeriodToFinalize,
  Page,
  PageQuery,
  Scope,
  Store,
  UsageFilter,
  UsageWrite,
  UsageWriteOutcome,
  VoidOutcome,
} from "../../domain/store.js";
import { LIVE_RECORDS_PAGE, SEARCH_SCAN_ROWS, type UsageChangePage } from "../../domain/store.js";
import type { UsageLimitSetting } from "../../domain/usage-limits.js";
import { type AggregationKeys, aggregationKeysOf, priceDimensionKeyOf } from "../../domain/dimensions.js";
import type { PriceSeries } from "../../domain/price-selection.js";
import type { UsageRecord, UsageTotals } from "../../domain/usage-record.js";
import type { Alert, AlertEvent } from "../../domain/alerts.js";
import { toAlert, toAlertEvent, toUsageChange } from "../alert-decisions.js";
import { isMeterTotalsKey, PLAIN_KEYS, type RunningStateView, totalsKeysOf, valueKeysOf, voidingChanges, voidNeedsRemaining } from "../running-state.js";
import { MIGRATIONS } from "./migrations.js";
import { isConnectionFailure, isNulCharacter, isRetryableConflict, LostRace, nulCharacterRefused, storeUnavailable } from "./postgres-errors.js";
import {
  createPriceCache,
  type Row,
  tiersToJson,
  toApiKey,
  toCreditGrant,
  toCustomer,
  toMeter,
  toPrice,
  toStoredBill,
  toTotals,
  toUsageLimitSetting,
  toUsageRecord,
  USAGE_COLUMNS,
  USAGE_FROM,
} from "../store-rows.js";
import { createMeterLookup, effectivePricesQuery, meterLookupKey, readRunningState, writeRunningState, writeTotals } from "./postgres-rows.js";
import { alertsOfCustomers, decideAlerts, lockBillTotals, watchesTotal } from "./feed-writes.js";
import { createUsageBatcher } from "./usage-batcher.js";

/** How to open the PostgreSQL store. */
export interface PostgresStoreOptions {
  /** A libpq-style URL, e.g. "postgres://tally:secret@db.internal:5432/tally". */
  url: string;
  /** Most connections this process holds open at once. Default 10. */
  maxConnections?: number;
  /** How long a call waits for a free connection (or to connect) before failing UNAVAILABLE, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Told the number of calls and the duration of each committed usage group (for metrics). Default none. */
  onGroupCommitted?: (writes: number, seconds: number) => void;
  /** The most customers, meters, prices and API keys each tenant may create. Default DEFAULT_TENANT_QUOTAS. */
  quotas?: TenantQuotas;
  /** Told after each usage write or void this process committed (the feed's watchers wake on it). Default none. */
  onUsageCommitted?: () => void;
  /** Most combinations of dimension values with usage per customer, meter and period. Default DEFAULT_MAX_DIMENSION_COMBINATIONS. */
  maxDimensionCombinations?: number;
}

/** Thrown inside a create's transaction to roll it back when the tenant's quota is full. */
class OverQuota extends Error {
  constructor(readonly limit: number) {
    super("the tenant's quota is full");
  }
}

/**
 * Counts one more of `resource` for the tenant, in the create's transaction,
 * and rolls the create back (OverQuota) if that passes `limit`. The upsert
 * locks the tenant's count until the transaction ends, so concurrent creates
 * (on any replica) take turns and never pass the quota together.
 */
async function countOneMore(client: pg.PoolClient, scope: Scope, resource: QuotaResource, limit: number): Promise<void> {
  const counted = await client.query(
    `INSERT INTO tenant_counts (tenant_id, resource, count) VALUES ($1, $2, 1)
     ON CONFLICT (tenant_id, resource) DO UPDATE SET count = tenant_counts.count + 1 RETURNING count`,
    [scope, resource],
  );
  if (Number((counted.rows[0] as Row).count) > limit) throw new OverQuota(limit);
}

/** The create's outcome, or "over-quota" when its transaction was rolled back for the quota. */
async function orOverQuota<T>(create: Promise<CreateOutcome<T>>): Promise<CreateOutcome<T>> {
  try {
    return await create;
  } catch (error) {
    if (error instanceof OverQuota) return { kind: "over-quota", limit: error.limit };
    throw error;
  }
}

/** How many times a transaction rolled back by a conflict (deadlock, serialization, a lost race) is run again. */
const CONFLICT_ATTEMPTS = 20;

/** A key chosen for Tally's migration lock (pg_advisory_lock takes any bigint). */
const MIGRATION_LOCK = 7_256_839_401;

/**
 * Opens the PostgreSQL store: a connection pool, the schema migrated under an
 * advisory lock (so replicas starting together migrate once), and the server
 * checked for durable commits (fsync on, synchronous_commit not off). Several
 * Tally processes may share one database: every write is one transaction that
 * claims its request ids with unique indexes, and the running totals it
 * changes are locked (in a fixed order) before it reads them.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: "tally",
  });
  // An idle connection that breaks is dropped by the pool; the next call that
  // needs the database reports what happens then. Without a listener the
  // process would exit on it.
  pool.on("error", () => {});
  try {
    await checkDurability(pool);
    await migrate(pool);
    return new PostgresStore(pool, options);
  } catch (error) {
    await pool.end();
    throw error;
  }
}

async function checkDurability(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query(`SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`);
  const settings = rows[0] as { fsync: string; synchronous_commit: string };
  if (settings.fsync !== "on") throw new Error(`PostgreSQL runs with fsync=${settings.fsync}; Tally needs fsync=on`);
  if (settings.synchronous_commit === "off") {
    throw new Error("PostgreSQL runs with synchronous_commit=off, which can lose acknowledged commits; Tally needs it on");
  }
}

/** Applies the migrations the database has not seen yet, each in its own transaction, holding the migration lock. */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS tally_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS version FROM tally_schema_migrations`);
      const applied = Number((rows[0] as { version: number }).version);
      if (applied > MIGRATIONS.length) {
        throw new Error(`database schema version ${applied} is newer than this Tally (${MIGRATIONS.length})`);
      }
      for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
        await client.query("BEGIN");
        try {
          await client.query(MIGRATIONS[version - 1]!);
          await client.query(`INSERT INTO tally_schema_migrations (version) VALUES ($1)`, [version]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw error;
        }
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/**
 * Runs `work` in one READ COMMITTED transaction on a pooled connection and
 * commits it. A transaction the server rolled back for a conflict (deadlock,
 * serialization failure) or that lost a race (LostRace) runs again from the
 * start, since nothing of it was written. A broken connection is reported as
 * STORE_UNAVAILABLE: if it broke during COMMIT the outcome is unknown, and
 * the caller's retry with the same request ids settles it.
 */
async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw isConnectionFailure(error) ? storeUnavailable(error) : error;
    }
    let broken: Error | undefined;
    // A connection that breaks mid-transaction also emits "error" on the client; the failed query reports it.
    const ignore = () => {};
    client.on("error", ignore);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) {
        broken = error as Error;
        throw storeUnavailable(error);
      }
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      const retry = (isRetryableConflict(error) || error instanceof LostRace) && attempt < CONFLICT_ATTEMPTS;
      if (isNulCharacter(error)) throw nulCharacterRefused();
      if (!retry) throw error instanceof LostRace ? storeUnavailable(error, "locked") : error;
    } finally {
      client.off("error", ignore);
      client.release(broken);
    }
  }
}

/** Reads outside a transaction, with a broken connection reported as STORE_UNAVAILABLE. */
async function read(pool: pg.Pool, sql: string, values: unknown[]): Promise<Row[]> {
  try {
    return (await pool.query(sql, values)).rows as Row[];
  } catch (error) {
    if (isNulCharacter(error)) return []; // no stored value holds U+0000, so nothing matches
    throw isConnectionFailure(error) ? storeUnavailable(error) : error;
  }
}

class PostgresStore implements Store {
  private readonly usage: ReturnType<typeof createUsageBatcher>;
  private readonly priceCache = createPriceCache();
  private readonly meters = createMeterLookup();
  private closed = false;

  private readonly quotas: TenantQuotas;
  private readonly onUsageCommitted: () => void;

  constructor(
    private readonly pool: pg.Pool,
    options: PostgresStoreOptions,
  ) {
    this.quotas = options.quotas ?? DEFAULT_TENANT_QUOTAS;
    this.onUsageCommitted = options.onUsageCommitted ?? (() => {});
    this.usage = createUsageBatcher((work) => inTransaction(pool, work), {
      onCommitted: options.onGroupCommitted,
      maxDimensionCombinations: options.maxDimensionCombinations,
    });
  }

  createCustomer(scope: Scope, requestId: string, customer: Customer): Promise<CreateOutcome<Customer>> {
    return orOverQuota(inTransaction(this.pool, async (client): Promise<CreateOutcome<Customer>> => {
      // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to
      // settle, so the read below (a new snapshot) sees the winner.
      const inserted = await client.query(
        `INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [scope, customer.id, customer.externalId, customer.displayName, customer.currencyCode, customer.createTime, requestId],
      );
      if (inserted.rowCount === 1) {
        await countOneMore(client, scope, "customers", this.quotas.customers);
        return { kind: "created", value: customer };
      }
      const existing = await client.query(`SELECT * FROM customers WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
      if (existing.rows.length > 0) return { kind: "exists", value: toCustomer(existing.rows[0] as Row) };
      return { kind: "taken" };
    }));
  }

  async findCustomer(scope: Scope, idOrExternalId: string): Promise<Customer | undefined> {
    const rows = await read(
      this.pool,
      `SELECT * FROM customers WHERE tenant_id = $1 AND (id = $2 OR (external_id = $2 AND external_id <> ''))
       ORDER BY (id = $2) DESC LIMIT 1`,
      [scope, idOrExternalId],
    );
    return rows[0] === undefined ? undefined : toCustomer(rows[0]);
  }

  async listCustomers(scope: Scope, text: string, page: PageQuery): Promise<Page<Customer>> {
    const after = cursorPosition(page.after) ?? "0";
    if (text === "") {
      const rows = await read(this.pool, `SELECT * FROM customers WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [scope, after, page.limit + 1]);
      return pageOf(rows, page.limit, toCustomer);
    }
    const pattern = `%${text.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
    const matches = `(id ILIKE $3 ESCAPE '\\' OR external_id ILIKE $3 ESCAPE '\\' OR display_name ILIKE $3 ESCAPE '\\')`;
    if ([...text].length >= 3) {
      // Through the trigram index of the three columns together (migration 3), then each column exactly.
      const rows = await read(
        this.pool,
        `SELECT * FROM customers WHERE tenant_id = $1 AND seq > $2
           AND (id || ' ' || external_id || ' ' || display_name) ILIKE $3 AND ${matches}
         ORDER BY seq LIMIT $4`,
        [scope, after, pattern, page.limit + 1],
      );
      return pageOf(rows, page.limit, toCustomer);
    }
    // Too short for trigrams: a window of at most SEARCH_SCAN_ROWS of the tenant's customers per page.
    const rows = await read(
      this.pool,
      `WITH window_rows AS (SELECT * FROM customers WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $5)
       SELECT w.*, (SELECT count(*) FROM window_rows) AS examined, (SELECT max(seq) FROM window_rows) AS last
       FROM window_rows w WHERE ${matches} ORDER BY seq LIMIT $4`,
      [scope, after, pattern, page.limit + 1, SEARCH_SCAN_ROWS],
    );
    const found = pageOf(rows, page.limit, toCustomer);
    if (found.nextCursor !== null) return found;
    if (rows.length > 0) {
      const examined = Number(rows[0]!.examined);
      return examined >= SEARCH_SCAN_ROWS ? { items: found.items, nextCursor: String(rows[0]!.last) } : found;
    }
    // No match in the window: where did it end?
    const [window] = await read(
      this.pool,
      `SELECT count(*) AS examined, max(seq) AS last FROM (SELECT seq FROM customers WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) w`,
      [scope, after, SEARCH_SCAN_ROWS],
    );
    return Number(window!.examined) >= SEARCH_SCAN_ROWS ? { items: [], nextCursor: String(window!.last) } : { items: [], nextCursor: null };
  }

  createMeter(scope: Scope, requestId: string, meter: Meter): Promise<CreateOutcome<Meter>> {
    return orOverQuota(inTransaction(this.pool, async (client): Promise<CreateOutcome<Meter>> => {
      const inserted = await client.query(
        `INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, "precision", create_time, request_id, unique_attribute, dimensions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
        [
          scope,
          meter.key,
          meter.displayName,
          meter.unit,
          meter.aggregation,
          meter.precision,
          meter.createTime,
          requestId,
          meter.uniqueAttribute,
          JSON.stringify(meter.dimensions),
        ],
      );
      if (inserted.rowCount === 1) {
        await countOneMore(client, scope, "meters", this.quotas.meters);
        return { kind: "created", value: meter };
      }
      const existing = await client.query(`SELECT * FROM meters WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
      if (existing.rows.length > 0) return { kind: "exists", value: toMeter(existing.rows[0] as Row) };
      return { kind: "taken" };
    }));
  }

  async findMeter(scope: Scope, key: string): Promise<Meter | undefined> {
    const rows = await read(this.pool, `SELECT * FROM meters WHERE tenant_id = $1 AND key = $2`, [scope, key]);
    return rows[0] === undefined ? undefined : toMeter(rows[0]);
  }

  async listMeters(scope: Scope, page: PageQuery): Promise<Page<Meter>> {
    const rows = await read(this.pool, `SELECT * FROM meters WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [
      scope,
      cursorPosition(page.after) ?? "0",
      page.limit + 1,
    ]);
    return pageOf(rows, page.limit, toMeter);
  }

  createPrice(scope: Scope, requestId: string, price: Omit<Price, "version">): Promise<CreateOutcome<Price>> {
    return orOverQuota(inTransaction(this.pool, async (client): Promise<CreateOutcome<Price>> => {
      // Versions of one series are numbered one after another: creates of the same series take turns.
      const dimensionKey = priceDimensionKeyOf(price.dimensionValues);
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
        JSON.stringify(["price", scope, price.meterKey, price.currencyCode, dimensionKey, price.customerId]),
      ]);
      const inserted = await client.query(
        `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id, model, package_size,
                             dimension_key, customer_id)
         SELECT $1, $2, $3, $4, coalesce(max(version), 0) + 1, $5, $6, $7, $8, $9, $10, $11, $12
         FROM prices WHERE tenant_id = $1 AND meter_key = $3 AND currency_code = $4 AND dimension_key = $11 AND customer_id = $12
         ON CONFLICT (tenant_id, request_id) DO NOTHING
         RETURNING version`,
        [
          scope,
          price.id,
          price.meterKey,
          price.currencyCode,
          price.effectivePeriod,
          tiersToJson(price.tiers),
          price.createTime,
          requestId,
          price.model,
          price.packageSize?.toString() ?? null,
          dimensionKey,
          price.customerId,
        ],
      );
      if (inserted.rows.length === 1) {
        await countOneMore(client, scope, "prices", this.quotas.prices);
        return { kind: "created", value: { ...price, version: Number((inserted.rows[0] as Row).version) } };
      }
      const existing = await client.query(`SELECT * FROM prices WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
      return { kind: "exists", value: toPrice(existing.rows[0] as Row) };
    }));
  }

  async listPrices(scope: Scope, meterKey: string, page: PageQuery): Promise<Page<Price>> {
    const rows = await read(
      this.pool,
      `SELECT * FROM prices WHERE tenant_id = $1 AND ($2 = '' OR meter_key = $2) AND seq > $3 ORDER BY seq LIMIT $4`,
      [scope, meterKey, cursorPosition(page.after) ?? "0", page.limit + 1],
    );
    return pageOf(rows, page.limit, toPrice);
  }

  async effectivePrices(scope: Scope, currencyCode: string, period: BillingPeriod, series: readonly PriceSeries[]): Promise<Price[]> {
    if (series.length === 0) return [];
    // A customer without prices of its own (most) has no customer series to look up (the partial index prices_by_customer says).
    const customers = [...new Set(series.map((one) => one.customerId).filter((customerId) => customerId !== ""))];
    const priced = new Set(
      customers.length === 0
        ? []
        : (
            await read(
              this.pool,
              `SELECT c.customer_id FROM unnest($2::text[]) AS c(customer_id)
               WHERE EXISTS (SELECT 1 FROM prices p WHERE p.tenant_id = $1 AND p.customer_id = c.customer_id AND p.customer_id <> '')`,
              [scope, customers],
            )
          ).map((row) => String(row.customer_id)),
    );
    series = series.filter((one) => one.customerId === "" || priced.has(one.customerId));
    if (series.length === 0) return [];
    const rows = await read(this.pool, ...effectivePricesQuery(scope, currencyCode, period, series));
    return mapInSlices(rows, (row) => this.priceCache.price(row));
  }

  async findUsageByRequestId(scope: Scope, requestId: string): Promise<UsageRecord | undefined> {
    const rows = await read(this.pool, `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = $1 AND r.request_id = $2`, [
      scope,
      requestId,
    ]);
    return rows[0] === undefined ? undefined : toUsageRecord(rows[0]);
  }

  async recordUsage(scope: Scope, writes: UsageWrite[], atomic: boolean): Promise<UsageWriteOutcome[]> {
    const outcomes = await this.usage.submit(scope, writes, atomic);
    this.onUsageCommitted();
    return outcomes;
  }

  async getUsageRecord(scope: Scope, id: string): Promise<UsageRecord | undefined> {
    const rows = await read(this.pool, `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = $1 AND r.id = $2`, [scope, id]);
    return rows[0] === undefined ? undefined : toUsageRecord(rows[0]);
  }

  async listUsageRecords(scope: Scope, filter: UsageFilter, page: PageQuery): Promise<Page<UsageRecord>> {
    if (Object.keys(filter.attributes ?? {}).length > 0) return this.listUsageMatching(scope, filter, page);
    const rows = await read(
      this.pool,
      `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
       WHERE r.tenant_id = $1 AND r.customer_id = $2 AND ($3::bigint IS NULL OR r.seq < $3::bigint)
         AND ($4 = '' OR r.meter_key = $4)
         AND ($5::bigint IS NULL OR r.event_time >= $5::bigint)
         AND ($6::bigint IS NULL OR r.event_time < $6::bigint)
       ORDER BY r.seq DESC LIMIT $7`,
      [scope, filter.customerId, cursorPosition(page.after), filter.meterKey, filter.startTime, filter.endTime, page.limit + 1],
    );
    return pageOf(rows, page.limit, toUsageRecord);
  }

  /**
   * Records whose attributes contain the filter's (jsonb containment), among a
   * window of at most SEARCH_SCAN_ROWS records passing the other filters, so a
   * page costs at most that many rows however rare the match.
   */
  private async listUsageMatching(scope: Scope, filter: UsageFilter, page: PageQuery): Promise<Page<UsageRecord>> {
    const rows = await read(
      this.pool,
      `WITH window_rows AS (
         SELECT r.* FROM usage_records r
         WHERE r.tenant_id = $1 AND r.customer_id = $2 AND ($3::bigint IS NULL OR r.seq < $3::bigint)
           AND ($4 = '' OR r.meter_key = $4)
           AND ($5::bigint IS NULL OR r.event_time >= $5::bigint)
           AND ($6::bigint IS NULL OR r.event_time < $6::bigint)
         ORDER BY r.seq DESC LIMIT $9)
       SELECT ${USAGE_COLUMNS}, (SELECT count(*) FROM window_rows) AS examined, (SELECT min(seq) FROM window_rows) AS last
       FROM window_rows r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
       -- jsonb cannot hold U+0000, which the API refuses in attributes but a stored row may hold.
       WHERE CASE WHEN strpos(r.attributes, '\\u0000') = 0 THEN r.attributes::jsonb @> $8::jsonb ELSE false END
       ORDER BY r.seq DESC LIMIT $7`,
      [
        scope,
        filter.customerId,
        cursorPosition(page.after),
        filter.meterKey,
        filter.startTime,
        filter.endTime,
        page.limit + 1,
        JSON.stringify(filter.attributes),
        SEARCH_SCAN_ROWS,
      ],
    );
    const found = pageOf(rows, page.limit, toUsageRecord);
    if (found.nextCursor !== null) return found;
    // A page cut short by the window goes on after the window.
    const [window] = await read(
      this.pool,
      `SELECT count(*) AS examined, min(seq) AS last FROM (
         SELECT r.seq FROM usage_records r
         WHERE r.tenant_id = $1 AND r.customer_id = $2 AND ($3::bigint IS NULL OR r.seq < $3::bigint)
           AND ($4 = '' OR r.meter_key = $4)
           AND ($5::bigint IS NULL OR r.event_time >= $5::bigint)
           AND ($6::bigint IS NULL OR r.event_time < $6::bigint)
         ORDER BY r.seq DESC LIMIT $7) w`,
      [scope, filter.customerId, cursorPosition(page.after), filter.meterKey, filter.startTime, filter.endTime, SEARCH_SCAN_ROWS],
    );
    return Number(window!.examined) >= SEARCH_SCAN_ROWS && window!.last !== null ? { items: found.items, nextCursor: String(window!.last) } : found;
  }

  async voidUsage(scope: Scope, recordId: string, reason: string, voidTime: number): Promise<VoidOutcome> {
    const outcome = await inTransaction(this.pool, (client) => this.voidIn(client, scope, recordId, reason, voidTime));
    this.onUsageCommitted();
    return outcome;
  }

  /** Adds a void to the ledger (and the feed) for the record and takes it out of its running state, inside the caller's transaction. */
  private async voidIn(client: pg.PoolClient, scope: Scope, recordId: string, reason: string, voidTime: number): Promise<VoidOutcome> {
    const found = await client.query(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = $1 AND r.id = $2`, [scope, recordId]);
    if (found.rows.length === 0) throw new Error(`usage record ${recordId} vanished`);
    const record = toUsageRecord(found.rows[0] as Row);
    // Its alerts: a bill-total alert's lock comes before any totals row, as in every usage write.
    const alerts = await alertsOfCustomers(client, [[scope, record.customerId]]);
    if (watchesTotal(alerts, scope, record.customerId)) await lockBillTotals(client, [[scope, record.customerId, record.period]]);
    // The totals row is locked first, as every usage write does, so voids and
    // writes of the same (customer, meter, period) take turns.
    const locked = await client.query(
      `SELECT * FROM usage_totals WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND meter_key = $4 FOR UPDATE`,
      [scope, record.customerId, record.period, record.meterKey],
    );
    const claimed = await client.query(
      `INSERT INTO usage_voids (tenant_id, record_id, reason, void_time) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [scope, recordId, reason, voidTime],
    );
    if (claimed.rowCount === 0) {
      const voided = await client.query(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = $1 AND r.id = $2`, [scope, recordId]);
      return { kind: "already-voided", record: toUsageRecord(voided.rows[0] as Row) };
    }
    await client.query(`INSERT INTO usage_changes (tenant_id, customer_id, record_seq, kind) VALUES ($1, $2, $3, 'voided')`, [
      scope,
      record.customerId,
      (found.rows[0] as Row).seq,
    ]);
    const meterTotals = toTotals(locked.rows[0] as Row);
    const meters = await this.meters.load(client, [[scope, record.meterKey]]);
    const meter = meters.get(meterLookupKey(scope, record.meterKey));
    const keysFound = meter === undefined ? PLAIN_KEYS : aggregationKeysOf(meter, record.attributes);
    if ("reason" in keysFound) throw new Error(`usage record ${record.id} does not fit its meter: ${keysFound.message}`);
    const keys = keysFound;
    const totalsKeys = totalsKeysOf(scope, record, keys);
    const state = await readRunningState(client, totalsKeys, valueKeysOf(totalsKeys, keys));
    state.totals.set(totalsKeys[0]!, meterTotals);
    const view: RunningStateView = {
      totals: (key) => state.totals.get(key),
      liveCount: (key) => state.liveCounts.get(key) ?? 0,
    };
    // A maximum or latest event only moves when the voided event was it: only then are the others read.
    let remaining: { record: UsageRecord; keys: AggregationKeys }[] | null = null;
    if (voidNeedsRemaining(view, scope, record, keys)) {
      const live = await client.query(
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = $1 AND r.customer_id = $2 AND r.period = $3 AND r.meter_key = $4 AND v.record_id IS NULL
         ORDER BY r.seq`,
        [scope, record.customerId, record.period, record.meterKey],
      );
      remaining = (live.rows as Row[]).map((row) => {
        const other = toUsageRecord(row);
        const otherKeys = meter === undefined ? PLAIN_KEYS : aggregationKeysOf(meter, other.attributes);
        return { record: other, keys: "reason" in otherKeys ? PLAIN_KEYS : otherKeys };
      });
    }
    const changes = voidingChanges(view, scope, record, keys, remaining);
    // A void lowers a sum, a count and a maximum; a LATEST meter's value may rise back to an earlier event's: decided like any write.
    if (alerts.size > 0) {
      const alertChanges = changes.totals.map(([key, totals]) => ({ scope, before: state.totals.get(key), after: totals }));
      await decideAlerts(client, alertChanges, alerts);
    }
    await writeTotals(
      client,
      changes.totals.filter(([key]) => isMeterTotalsKey(key)).map(([, totals]) => ({ scope, totals })),
    );
    await writeRunningState(client, changes);
    return { kind: "voided", record: { ...record, voided: true, voidReason: reason, voidTime } };
  }

  async usageTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]> {
    const rows = await read(
      this.pool,
      `SELECT * FROM usage_totals WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND event_count > 0 ORDER BY meter_key`,
      [scope, customerId, period],
    );
    return rows.map(toTotals);
  }

  async combinationTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]> {
    const rows = await read(
      this.pool,
      `SELECT * FROM usage_dimension_totals WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND event_count > 0`,
      [scope, customerId, period],
    );
    return rows.map(toTotals);
  }

  async *liveUsageRecords(scope: Scope, customerId: string, period: BillingPeriod): AsyncIterable<UsageRecord[]> {
    let after = { meterKey: "", seq: "0" };
    for (;;) {
      // Keyset pages through usage_records_by_period_seq.
      const rows = await read(
        this.pool,
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = $1 AND r.customer_id = $2 AND r.period = $3 AND (r.meter_key, r.seq) > ($4, $5) AND v.record_id IS NULL
         ORDER BY r.meter_key, r.seq LIMIT $6`,
        [scope, customerId, period, after.meterKey, after.seq, LIVE_RECORDS_PAGE],
      );
      if (rows.length > 0) yield rows.map(toUsageRecord);
      if (rows.length < LIVE_RECORDS_PAGE) return;
      const last = rows[rows.length - 1]!;
      after = { meterKey: String(last.meter_key), seq: String(last.seq) };
    }
  }

  async periodsWithUsage(scope: Scope, customerId: string): Promise<BillingPeriod[]> {
    // From the records, not the totals: a write that was refused may have left a zero totals row behind.
    const rows = await read(
      this.pool,
      `SELECT DISTINCT period FROM usage_records WHERE tenant_id = $1 AND customer_id = $2 ORDER BY period DESC`,
      [scope, customerId],
    );
    return rows.map((row) => String(row.period));
  }

  async readUsageChanges(scope: Scope, customerId: string, after: Cursor | null, limit: number): Promise<UsageChangePage> {
    const [xid, seq] = feedPosition(after);
    // Only transactions older than this statement's snapshot xmin: every one of them has ended, so nothing
    // can still appear below the last change returned (see migration 5).
    const rows = await read(
      this.pool,
      `SELECT c.xid::text AS change_xid, c.seq AS change_seq, c.kind, ${USAGE_COLUMNS}
       FROM usage_changes c JOIN usage_records r ON r.seq = c.record_seq
         LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
       WHERE c.tenant_id = $1 AND ($2 = '' OR c.customer_id = $2) AND (c.xid, c.seq) > ($3::xid8, $4::bigint)
         AND c.xid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY c.xid, c.seq LIMIT $5`,
      [scope, customerId, xid, seq, limit],
    );
    // Through the customer's own index: the page is every change of theirs up to its last.
    const changes = rows.map((row) => toUsageChange(row, `${String(row.change_xid)}.${String(row.change_seq)}`));
    return { changes, position: changes.at(-1)?.cursor ?? null };
  }

  createAlert(scope: Scope, requestId: string, alert: Alert, maxPerCustomer: number): Promise<CreateOutcome<Alert>> {
    return inTransaction(this.pool, async (client): Promise<CreateOutcome<Alert>> => {
      // Creates of one customer's alerts take turns, so they never pass the limit together.
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [JSON.stringify(["alerts", scope, alert.customerId])]);
      const existing = await client.query(`SELECT * FROM alerts WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
      if (existing.rows.length > 0) return { kind: "exists", value: toAlert(existing.rows[0] as Row) };
      const counted = await client.query(`SELECT count(*) AS count FROM alerts WHERE tenant_id = $1 AND customer_id = $2`, [scope, alert.customerId]);
      if (Number((counted.rows[0] as Row).count) >= maxPerCustomer) return { kind: "over-quota", limit: maxPerCustomer };
      const inserted = await client.query(
        `INSERT INTO alerts (tenant_id, id, customer_id, meter_key, threshold, create_time, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, request_id) DO NOTHING`,
        [scope, alert.id, alert.customerId, alert.meterKey, alert.threshold.toString(), alert.createTime, requestId],
      );
      // The same request_id for another customer, created meanwhile: decided again on a fresh snapshot.
      if (inserted.rowCount !== 1) throw new LostRace("the alert's request_id was claimed by a concurrent create");
      return { kind: "created", value: alert };
    });
  }

  async readAlertEvents(scope: Scope, after: Cursor | null, limit: number): Promise<AlertEvent[]> {
    const [xid, seq] = feedPosition(after);
    const rows = await read(
      this.pool,
      `SELECT e.xid::text AS event_xid, e.*, a.threshold FROM alert_events e JOIN alerts a ON a.tenant_id = e.tenant_id AND a.id = e.alert_id
       WHERE e.tenant_id = $1 AND (e.xid, e.seq) > ($2::xid8, $3::bigint) AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY e.xid, e.seq LIMIT $4`,
      [scope, xid, seq, limit],
    );
    return rows.map((row) => toAlertEvent(row, `${String(row.event_xid)}.${String(row.seq)}`));
  }

  // --- Usage limits (issue 19): usage writes read them under the totals rows' lock (usage-batcher.ts) ---
  setUsageLimit(scope: Scope, requestId: string, setting: UsageLimitSetting): Promise<{ kind: "created" | "exists"; value: UsageLimitSetting }> {
    const limit = setting.limit?.toString() ?? "";
    return inTransaction(this.pool, async (client) => {
      // A concurrent duplicate waits here for the first one's commit, then finds its row below.
      const claimed = await client.query(
        `INSERT INTO usage_limit_requests (tenant_id, request_id, customer_id, meter_key, usage_limit, update_time)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [scope, requestId, setting.customerId, setting.meterKey, limit, setting.updateTime],
      );
      if (claimed.rowCount === 0) {
        const existing = await client.query(`SELECT * FROM usage_limit_requests WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
        return { kind: "exists" as const, value: toUsageLimitSetting(existing.rows[0] as Row) };
      }
      if (limit === "") {
        await client.query(`DELETE FROM usage_limits WHERE tenant_id = $1 AND customer_id = $2 AND meter_key = $3`, [scope, setting.customerId, setting.meterKey]);
      } else {
        await client.query(
          `INSERT INTO usage_limits (tenant_id, customer_id, meter_key, usage_limit, update_time) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, customer_id, meter_key) DO UPDATE SET usage_limit = excluded.usage_limit, update_time = excluded.update_time`,
          [scope, setting.customerId, setting.meterKey, limit, setting.updateTime],
        );
      }
      return { kind: "created" as const, value: setting };
    });
  }

  async findUsageLimit(scope: Scope, customerId: string, meterKey: string): Promise<UsageLimitSetting | undefined> {
    const rows = await read(this.pool, `SELECT * FROM usage_limits WHERE tenant_id = $1 AND customer_id = $2 AND meter_key = $3`, [scope, customerId, meterKey]);
    return rows[0] === undefined ? undefined : toUsageLimitSetting(rows[0]);
  }
  // --- end of usage limits ---
  // ---- Credits and bill revisions (issue 19) ----

  createCreditGrant(scope: Scope, requestId: string, grant: CreditGrant): Promise<{ kind: "created" | "exists"; value: CreditGrant }> {
    return inTransaction(this.pool, async (client): Promise<{ kind: "created" | "exists"; value: CreditGrant }> => {
      // ON CONFLICT DO NOTHING waits for a concurrent insert of the same request_id to settle; the read then sees the winner.
      const inserted = await client.query(
        `INSERT INTO credit_grants (tenant_id, id, customer_id, amount, currency_code, expire_time, reason, remaining_amount, create_time, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $4, $8, $9) ON CONFLICT DO NOTHING`,
        [scope, grant.id, grant.customerId, grant.amount.toString(), grant.currencyCode, grant.expireTime, grant.reason, grant.createTime, requestId],
      );
      if (inserted.rowCount === 1) return { kind: "created", value: grant };
      const existing = await client.query(`SELECT * FROM credit_grants WHERE tenant_id = $1 AND request_id = $2`, [scope, requestId]);
      return { kind: "exists", value: toCreditGrant(existing.rows[0] as Row) };
    });
  }

  async listCreditGrants(scope: Scope, customerId: string, page: PageQuery): Promise<Page<CreditGrant>> {
    const rows = await read(
      this.pool,
      `SELECT * FROM credit_grants WHERE tenant_id = $1 AND customer_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [scope, customerId, cursorPosition(page.after) ?? "0", page.limit + 1],
    );
    return pageOf(rows, page.limit, toCreditGrant);
  }

  async usableCreditGrants(scope: Scope, customerId: string): Promise<CreditGrant[]> {
    const rows = await read(this.pool, `SELECT * FROM credit_grants WHERE tenant_id = $1 AND customer_id = $2 AND remaining_amount <> '0'`, [
      scope,
      customerId,
    ]);
    return rows.map(toCreditGrant);
  }

  async findBillRevision(scope: Scope, customerId: string, period: BillingPeriod, revision: number): Promise<Bill | undefined> {
    const rows = await read(
      this.pool,
      `SELECT * FROM bill_revisions WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND ($4 = 0 OR revision = $4) AND bill IS NOT NULL
       ORDER BY revision DESC LIMIT 1`,
      [scope, customerId, period, revision],
    );
    return rows[0] === undefined ? undefined : toStoredBill(rows[0]);
  }

  /**
   * The customer's usable grants are locked first (FOR UPDATE, in seq order), so
   * finalizations of one customer on any replica take turns; revision 1 is
   * then looked for with a fresh snapshot, so the second of two finalizers of
   * one period finds the first one's and consumes nothing. The unique keys of
   * bill_revisions and credit_uses back this up: a finalizer that still
   * collides (a customer with no grants to lock) rolls back and looks again.
   */
  finalizeBill(scope: Scope, bill: Bill): Promise<Bill> {
    return inTransaction(this.pool, async (client): Promise<Bill> => {
      const grants = (
        await client.query(`SELECT * FROM credit_grants WHERE tenant_id = $1 AND customer_id = $2 AND remaining_amount <> '0' ORDER BY seq FOR UPDATE`, [
          scope,
          bill.customerId,
        ])
      ).rows.map((row) => toCreditGrant(row as Row));
      const revisionOne = `SELECT * FROM bill_revisions WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND revision = 1`;
      const existing = await client.query(revisionOne, [scope, bill.customerId, bill.period]);
      if (existing.rows.length > 0) return toStoredBill(existing.rows[0] as Row);
      const { applied, uses } = allocateCredits(Decimal.parse(bill.total)!, grants, bill.period);
      for (const use of uses) {
        const grant = grants.find((candidate) => candidate.id === use.grantId)!;
        await client.query(`UPDATE credit_grants SET remaining_amount = $1 WHERE tenant_id = $2 AND id = $3`, [
          grant.remainingAmount.sub(use.amount).toString(),
          scope,
          grant.id,
        ]);
        const used = await client.query(
          `INSERT INTO credit_uses (tenant_id, grant_id, customer_id, period, amount) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [scope, grant.id, bill.customerId, bill.period, use.amount.toString()],
        );
        if (used.rowCount !== 1) throw new LostRace("a grant was consumed for this period by a concurrent finalizer");
      }
      const first: Bill = { ...bill, status: "finalized", revision: 1, ...amountsDue(bill.total, applied, bill.currencyCode) };
      const inserted = await insertFirstRevision(client, scope, first);
      if (inserted === 0) {
        if (uses.length > 0) throw new LostRace("revision 1 was stored by a concurrent finalizer");
        return toStoredBill((await client.query(revisionOne, [scope, bill.customerId, bill.period])).rows[0] as Row);
      }
      return first;
    });
  }

  async pendingBillRevision(scope: Scope, customerId: string, period: BillingPeriod): Promise<number | undefined> {
    const rows = await read(this.pool, `SELECT revision FROM bill_revisions WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND bill IS NULL`, [
      scope,
      customerId,
      period,
    ]);
    return rows[0] === undefined ? undefined : Number(rows[0].revision);
  }

  /**
   * Revision 1's row is locked first (every correction of the period takes
   * it, so they take turns on every replica); the revisions are then read
   * with a fresh snapshot. The usage write and its pending revision commit
   * together.
   */
  async correctUsage(scope: Scope, customerId: string, period: BillingPeriod, correction: Correction): Promise<CorrectionOutcome> {
    const outcome = await this.correctInTransaction(scope, customerId, period, correction);
    // The correction's record or void is in the usage feed: wake its watchers.
    if (outcome.kind === "corrected") this.onUsageCommitted();
    return outcome;
  }

  private correctInTransaction(scope: Scope, customerId: string, period: BillingPeriod, correction: Correction): Promise<CorrectionOutcome> {
    return inTransaction(this.pool, async (client): Promise<CorrectionOutcome> => {
      const key = [scope, customerId, period];
      const locked = await client.query(
        `SELECT 1 FROM bill_revisions WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND revision = 1 FOR UPDATE`,
        key,
      );
      if (locked.rows.length === 0) throw new Error(`a correction of ${period} before its revision 1 was stored`);
      const latest = (
        await client.query(
          `SELECT max(revision) AS revision, max(CASE WHEN bill IS NULL THEN revision END) AS pending
           FROM bill_revisions WHERE tenant_id = $1 AND customer_id = $2 AND period = $3`,
          key,
        )
      ).rows[0] as Row;
      if (latest.pending !== null) return { kind: "pending", revision: Number(latest.pending) };
      const revision = Number(latest.revision) + 1;
      const addRevision = (createTime: number) =>
        client.query(`INSERT INTO bill_revisions (tenant_id, customer_id, period, revision, create_time) VALUES ($1, $2, $3, $4, $5)`, [
          ...key,
          revision,
          createTime,
        ]);
      if (correction.kind === "void") {
        const outcome = await this.voidIn(client, scope, correction.recordId, correction.reason, correction.voidTime);
        if (outcome.kind === "already-voided") return outcome;
        await addRevision(correction.voidTime);
        return { kind: "corrected", record: outcome.record, revision };
      }
      const [outcome] = await this.usage.writeWithin(client, scope, [correction.write]);
      if (outcome === undefined) throw new Error("a correction's write answered nothing");
      if (outcome.kind === "aborted") throw new Error("a correction was aborted outside an atomic write");
      if (outcome.kind !== "recorded") return outcome;
      await addRevision(correction.write.record.createTime);
      return { kind: "corrected", record: outcome.record, revision };
    });
  }

  async writePendingRevision(scope: Scope, bill: Bill): Promise<void> {
    await inTransaction(this.pool, (client) =>
      client.query(
        `UPDATE bill_revisions SET total = $5, credits_applied = $6, amount_due = $7, bill = $8, create_time = $9
         WHERE tenant_id = $1 AND customer_id = $2 AND period = $3 AND revision = $4 AND bill IS NULL`,
        [scope, bill.customerId, bill.period, bill.revision, bill.total, bill.creditsApplied, bill.amountDue, billDocument(bill), bill.asOfTime],
      ),
    );
  }

  async periodsToFinalize(earliest: BillingPeriod, latest: BillingPeriod, limit: number): Promise<PeriodToFinalize[]> {
    const rows = await read(
      this.pool,
      `SELECT DISTINCT t.tenant_id, t.customer_id, t.period FROM usage_totals t
       WHERE t.period >= $1 AND t.period <= $2 AND t.event_count > 0
         AND NOT EXISTS (SELECT 1 FROM bill_revisions b
                         WHERE b.tenant_id = t.tenant_id AND b.customer_id = t.customer_id AND b.period = t.period AND b.revision = 1)
       ORDER BY t.period, t.tenant_id, t.customer_id LIMIT $3`,
      [earliest, latest, limit],
    );
    return rows.map((row) => ({ scope: String(row.tenant_id), customerId: String(row.customer_id), period: String(row.period) }));
  }

  // API keys are written rarely (by operators): each write is its own transaction.
  async createApiKey(key: StoredApiKey): Promise<{ kind: "created" } | { kind: "over-quota"; limit: number }> {
    try {
      await inTransaction(this.pool, async (client) => {
        await client.query(
          `INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, create_time, revoke_time) VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
          [key.id, key.tenant, key.role, key.name, Buffer.from(key.secretHash), key.createTime],
        );
        await countOneMore(client, key.tenant, "apiKeys", this.quotas.apiKeys);
      });
      return { kind: "created" };
    } catch (error) {
      if (error instanceof OverQuota) return { kind: "over-quota", limit: error.limit };
      throw error;
    }
  }

  async findApiKey(id: string): Promise<StoredApiKey | undefined> {
    const rows = await read(this.pool, `SELECT * FROM api_keys WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : { ...toApiKey(rows[0]), secretHash: rows[0].secret_hash as Buffer };
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await read(this.pool, `SELECT * FROM api_keys ORDER BY create_time, id`, [])).map(toApiKey);
  }

  async revokeApiKey(id: string, revokeTime: number): Promise<ApiKey | undefined> {
    const rows = await inTransaction(this.pool, async (client) => {
      await client.query(`UPDATE api_keys SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL`, [revokeTime, id]);
      return (await client.query(`SELECT * FROM api_keys WHERE id = $1`, [id])).rows as Row[];
    });
    return rows[0] === undefined ? undefined : toApiKey(rows[0]);
  }

  async storageBytes(): Promise<number> {
    const rows = await read(this.pool, `SELECT pg_database_size(current_database()) AS bytes`, []);
    return Number(rows[0]!.bytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.usage.drain();
    await this.pool.end();
  }
}

/** A feed's cursor in this store: the transaction id and seq of the last change (or event) handed out. */
function feedPosition(cursor: Cursor | null): [xid: string, seq: string] {
  if (cursor === null) return ["0", "0"];
  const match = /^(\d{1,20})\.(\d{1,18})$/.exec(cursor);
  if (match === null || BigInt(match[1]!) >= 2n ** 64n) {
    throw new FailureError(failure("INVALID_CURSOR", "after_cursor is not one this stream handed out", "after_cursor"));
  }
  return [match[1]!, match[2]!];
}

/** Inserts revision 1; answers 1, or 0 when it exists. */
async function insertFirstRevision(client: pg.PoolClient, scope: Scope, bill: Bill): Promise<number> {
  const inserted = await client.query(
    `INSERT INTO bill_revisions (tenant_id, customer_id, period, revision, total, credits_applied, amount_due, bill, create_time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
    [scope, bill.customerId, bill.period, bill.revision, bill.total, bill.creditsApplied, bill.amountDue, billDocument(bill), bill.asOfTime],
  );
  return inserted.rowCount ?? 0;
}

/** A listing's cursor (the seq of the last row handed out), or null for the first page. */
function cursorPosition(cursor: Cursor | null): string | null {
  if (cursor === null) return null;
  if (!/^\d{1,18}$/.test(cursor)) {
    throw new FailureError(failure("INVALID_PAGE_TOKEN", "page_token is not one this listing handed out", "page_token"));
  }
  return cursor;
}

function pageOf<T>(rows: Row[], limit: number, convert: (row: Row) => T): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(convert),
    nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null,
  };
}
