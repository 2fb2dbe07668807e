import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { ApiKey, Role, StoredApiKey } from "../../domain/api-key.js";
import type { BillingPeriod } from "../../domain/billing-period.js";
import type { Customer } from "../../domain/customer.js";
import { Decimal } from "../../domain/decimal.js";
import { FailureError, failure, requestIdReused } from "../../domain/failure.js";
import type { Aggregation, Meter } from "../../domain/meter.js";
import type { Price, PriceTier } from "../../domain/price.js";
import type {
  CreateOutcome,
  Cursor,
  Page,
  PageQuery,
  Scope,
  Store,
  UsageFilter,
  UsageWrite,
  UsageWriteOutcome,
  VoidOutcome,
} from "../../domain/store.js";
import {
  addToTotals,
  type NewUsageRecord,
  removeFromTotals,
  type UsageRecord,
  type UsageTotals,
  usageDifferences,
} from "../../domain/usage-record.js";
import { createGroupCommit } from "./group-commit.js";
import { createGroupTotals, type TotalsOverlay } from "./group-totals.js";
import { MIGRATIONS } from "./migrations.js";
import { withStorageFaults } from "./storage-faults.js";

/** How to open the SQLite store. */
export interface SqliteStoreOptions {
  /** The database file; its directory is created. ":memory:" for a throwaway database. */
  path: string;
  /** How long a write waits for another process's lock before failing, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Told the size and duration of each group commit (for metrics). Default none. */
  onGroupCommitted?: (writes: number, seconds: number) => void;
}

type Row = Record<string, unknown>;

/** Thrown inside an atomic usage write to roll it back, carrying what was decided so far. */
class AtomicRefusal extends Error {
  constructor(readonly outcomes: UsageWriteOutcome[]) {
    super("an event of an atomic write was refused");
  }
}

/**
 * Opens (creating and migrating as needed) the SQLite store: WAL journal,
 * synchronous=FULL (asserted, so an acknowledged write survives a crash or
 * power loss), and every write through the group commit: IMMEDIATE
 * transactions, each write in its own savepoint, many writes per fsync.
 * A full disk, a lock held by another process or an I/O error rejects with
 * the domain's StoreUnavailableError.
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    const journalMode = db.pragma("journal_mode = WAL", { simple: true });
    if (options.path !== ":memory:" && journalMode !== "wal") {
      throw new Error(`SQLite refused WAL mode (journal_mode is ${String(journalMode)})`);
    }
    db.pragma("synchronous = FULL");
    const synchronous = db.pragma("synchronous", { simple: true });
    if (synchronous !== 2) throw new Error(`SQLite synchronous is ${String(synchronous)}, not FULL (2)`);
    migrate(db);
    return withStorageFaults(new SqliteStore(db, options));
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies the migrations the database has not seen yet, each in its own transaction. */
function migrate(db: Database.Database): void {
  const applied = db.pragma("user_version", { simple: true }) as number;
  if (applied > MIGRATIONS.length) {
    throw new Error(`database schema version ${applied} is newer than this Tally (${MIGRATIONS.length})`);
  }
  for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1]!);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  }
}

const USAGE_COLUMNS = `r.seq, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.event_time,
  r.requested_event_time, r.create_time, r.period, r.attributes, v.reason AS void_reason, v.void_time`;
const USAGE_FROM = `usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id`;

class SqliteStore implements Store {
  private readonly statements;
  private readonly writer: ReturnType<typeof createGroupCommit>;
  private readonly groupTotals: ReturnType<typeof createGroupTotals>;

  constructor(
    private readonly db: Database.Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.groupTotals = createGroupTotals(
      (scope, customerId, period, meterKey) => {
        const row = this.statements.totalsOfMeter.get(scope, customerId, period, meterKey) as Row | undefined;
        return row === undefined ? undefined : toTotals(row);
      },
      (scope, totals) => this.writeTotals(scope, totals),
    );
    this.writer = createGroupCommit(db, {
      beforeCommit: () => this.groupTotals.flush(),
      afterGroup: () => this.groupTotals.clear(),
      onCommitted: options.onGroupCommitted,
      lockWaitMs: options.busyTimeoutMs ?? 5000,
    });
    const prepare = (sql: string) => db.prepare(sql);
    this.statements = {
      customerByRequestId: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND request_id = ?`),
      customerByExternalId: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND external_id = ? AND external_id <> ''`),
      customerById: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND id = ?`),
      insertCustomer: prepare(
        `INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id)
         VALUES (@tenant, @id, @externalId, @displayName, @currencyCode, @createTime, @requestId)`,
      ),
      listCustomers: prepare(
        `SELECT * FROM customers WHERE tenant_id = @tenant AND seq > @after
           AND (@text = '' OR id LIKE @pattern ESCAPE '\\' OR external_id LIKE @pattern ESCAPE '\\'
                OR display_name LIKE @pattern ESCAPE '\\')
         ORDER BY seq LIMIT @limit`,
      ),
      meterByRequestId: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND request_id = ?`),
      meterByKey: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND key = ?`),
      insertMeter: prepare(
        `INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id)
         VALUES (@tenant, @key, @displayName, @unit, @aggregation, @precision, @createTime, @requestId)`,
      ),
      listMeters: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      priceByRequestId: prepare(`SELECT * FROM prices WHERE tenant_id = ? AND request_id = ?`),
      latestPriceVersion: prepare(
        `SELECT coalesce(max(version), 0) AS version FROM prices WHERE tenant_id = ? AND meter_key = ? AND currency_code = ?`,
      ),
      insertPrice: prepare(
        `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id)
         VALUES (@tenant, @id, @meterKey, @currencyCode, @version, @effectivePeriod, @tiers, @createTime, @requestId)`,
      ),
      listPrices: prepare(
        `SELECT * FROM prices WHERE tenant_id = @tenant AND (@meterKey = '' OR meter_key = @meterKey) AND seq > @after
         ORDER BY seq LIMIT @limit`,
      ),
      effectivePrices: prepare(
        `SELECT p.* FROM prices p
         WHERE p.tenant_id = @tenant AND p.currency_code = @currencyCode AND p.effective_period <= @period
           AND p.version = (SELECT max(q.version) FROM prices q
                            WHERE q.tenant_id = p.tenant_id AND q.meter_key = p.meter_key
                              AND q.currency_code = p.currency_code AND q.effective_period <= @period)`,
      ),
      usageByRequestId: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.request_id = ?`),
      usageById: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.id = ?`),
      insertUsage: prepare(
        `INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                    requested_event_time, create_time, period, attributes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      listUsage: prepare(
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = @tenant AND r.customer_id = @customerId AND r.seq < @before
           AND (@meterKey = '' OR r.meter_key = @meterKey)
           AND (@startTime IS NULL OR r.event_time >= @startTime)
           AND (@endTime IS NULL OR r.event_time < @endTime)
         ORDER BY r.seq DESC LIMIT @limit`,
      ),
      insertVoid: prepare(`INSERT INTO usage_voids (tenant_id, record_id, reason, void_time) VALUES (?, ?, ?, ?)`),
      liveQuantities: prepare(
        `SELECT r.quantity FROM ${USAGE_FROM}
         WHERE r.tenant_id = ? AND r.customer_id = ? AND r.period = ? AND r.meter_key = ? AND v.record_id IS NULL`,
      ),
      liveRecordsOfPeriod: prepare(
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = ? AND r.customer_id = ? AND r.period = ? AND v.record_id IS NULL`,
      ),
      totals: prepare(`SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ?`),
      totalsOfMeter: prepare(
        `SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ?`,
      ),
      upsertTotals: prepare(
        `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max)
         VALUES (@tenant, @customerId, @period, @meterKey, @sum, @count, @max)
         ON CONFLICT (tenant_id, customer_id, period, meter_key)
         DO UPDATE SET quantity_sum = excluded.quantity_sum, event_count = excluded.event_count,
                       quantity_max = excluded.quantity_max`,
      ),
      insertApiKey: prepare(
        `INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, create_time, revoke_time)
         VALUES (@id, @tenant, @role, @name, @secretHash, @createTime, NULL)`,
      ),
      apiKeyById: prepare(`SELECT * FROM api_keys WHERE id = ?`),
      listApiKeys: prepare(`SELECT * FROM api_keys ORDER BY create_time, id`),
      revokeApiKey: prepare(`UPDATE api_keys SET revoke_time = ? WHERE id = ? AND revoke_time IS NULL`),
      periodsWithUsage: prepare(
        `SELECT DISTINCT period FROM usage_totals WHERE tenant_id = ? AND customer_id = ? ORDER BY period DESC`,
      ),
    };
  }

  createCustomer(scope: Scope, requestId: string, customer: Customer): Promise<CreateOutcome<Customer>> {
    return this.writer.submit((): CreateOutcome<Customer> => {
      const existing = this.statements.customerByRequestId.get(scope, requestId) as Row | undefined;
      if (existing !== undefined) return { kind: "exists", value: toCustomer(existing) };
      if (customer.externalId !== "" && this.statements.customerByExternalId.get(scope, customer.externalId) !== undefined) {
        return { kind: "taken" };
      }
      this.statements.insertCustomer.run({ tenant: scope, requestId, ...customer });
      return { kind: "created", value: customer };
    });
  }

  async findCustomer(scope: Scope, idOrExternalId: string): Promise<Customer | undefined> {
    const row = (this.statements.customerById.get(scope, idOrExternalId) ??
      this.statements.customerByExternalId.get(scope, idOrExternalId)) as Row | undefined;
    return row === undefined ? undefined : toCustomer(row);
  }

  async listCustomers(scope: Scope, text: string, page: PageQuery): Promise<Page<Customer>> {
    const pattern = `%${text.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
    const rows = this.statements.listCustomers.all({
      tenant: scope,
      after: ascendingCursor(page.after),
      text,
      pattern,
      limit: page.limit + 1,
    }) as Row[];
    return pageOf(rows, page.limit, toCustomer);
  }

  createMeter(scope: Scope, requestId: string, meter: Meter): Promise<CreateOutcome<Meter>> {
    return this.writer.submit((): CreateOutcome<Meter> => {
      const existing = this.statements.meterByRequestId.get(scope, requestId) as Row | undefined;
      if (existing !== undefined) return { kind: "exists", value: toMeter(existing) };
      if (this.statements.meterByKey.get(scope, meter.key) !== undefined) return { kind: "taken" };
      this.statements.insertMeter.run({ tenant: scope, requestId, ...meter });
      return { kind: "created", value: meter };
    });
  }

  async findMeter(scope: Scope, key: string): Promise<Meter | undefined> {
    const row = this.statements.meterByKey.get(scope, key) as Row | undefined;
    return row === undefined ? undefined : toMeter(row);
  }

  async listMeters(scope: Scope, page: PageQuery): Promise<Page<Meter>> {
    const rows = this.statements.listMeters.all(scope, ascendingCursor(page.after), page.limit + 1) as Row[];
    return pageOf(rows, page.limit, toMeter);
  }

  createPrice(scope: Scope, requestId: string, price: Omit<Price, "version">): Promise<CreateOutcome<Price>> {
    return this.writer.submit((): CreateOutcome<Price> => {
      const existing = this.statements.priceByRequestId.get(scope, requestId) as Row | undefined;
      if (existing !== undefined) return { kind: "exists", value: toPrice(existing) };
      const latest = this.statements.latestPriceVersion.get(scope, price.meterKey, price.currencyCode) as { version: number };
      const created: Price = { ...price, version: latest.version + 1 };
      this.statements.insertPrice.run({ tenant: scope, requestId, ...created, tiers: tiersToJson(created.tiers) });
      return { kind: "created", value: created };
    });
  }

  async listPrices(scope: Scope, meterKey: string, page: PageQuery): Promise<Page<Price>> {
    const rows = this.statements.listPrices.all({
      tenant: scope,
      meterKey,
      after: ascendingCursor(page.after),
      limit: page.limit + 1,
    }) as Row[];
    return pageOf(rows, page.limit, toPrice);
  }

  async effectivePrices(scope: Scope, currencyCode: string, period: BillingPeriod): Promise<Price[]> {
    return (this.statements.effectivePrices.all({ tenant: scope, currencyCode, period }) as Row[]).map(toPrice);
  }

  async findUsageByRequestId(scope: Scope, requestId: string): Promise<UsageRecord | undefined> {
    const row = this.statements.usageByRequestId.get(scope, requestId) as Row | undefined;
    return row === undefined ? undefined : toUsageRecord(row);
  }

  async recordUsage(scope: Scope, writes: UsageWrite[], atomic: boolean): Promise<UsageWriteOutcome[]> {
    try {
      return await this.writer.submit(
        () => {
          const totals = this.groupTotals.overlay();
          const outcomes: UsageWriteOutcome[] = [];
          for (const write of writes) {
            const outcome = this.writeUsage(scope, write, totals);
            outcomes.push(outcome);
            // Throwing rolls back this call's savepoint (and drops its totals): none of its events stay.
            if (atomic && outcome.kind === "refused") throw new AtomicRefusal(outcomes);
          }
          totals.commit();
          return outcomes;
        },
        // Only an atomic write of several events can refuse after inserting some.
        { savepoint: atomic && writes.length > 1 },
      );
    } catch (error) {
      if (!(error instanceof AtomicRefusal)) throw error;
      return writes.map((_, index): UsageWriteOutcome => (error.outcomes[index]?.kind === "refused" ? error.outcomes[index] : { kind: "aborted" }));
    }
  }

  /** One event inside the write transaction: replay, refuse, or insert it and its totals. */
  private writeUsage(scope: Scope, { record, refusal }: UsageWrite, groupTotals: TotalsOverlay): UsageWriteOutcome {
    const existingRow = this.statements.usageByRequestId.get(scope, record.requestId) as Row | undefined;
    if (existingRow !== undefined) {
      const existing = toUsageRecord(existingRow);
      const differences = usageDifferences(existing, record);
      return differences.length === 0
        ? { kind: "replayed", record: existing }
        : { kind: "refused", failure: requestIdReused(record.requestId, differences) };
    }
    if (refusal !== undefined) return { kind: "refused", failure: refusal };
    const totals = addToTotals(groupTotals.get(scope, record.customerId, record.period, record.meterKey), record);
    if ("reason" in totals) return { kind: "refused", failure: totals };
    this.statements.insertUsage.run(
      scope,
      record.id,
      record.requestId,
      record.customerId,
      record.meterKey,
      record.quantity.toString(),
      record.eventTime,
      record.requestedEventTime,
      record.createTime,
      record.period,
      JSON.stringify(record.attributes),
    );
    groupTotals.set(scope, totals);
    return { kind: "recorded", record: { ...record, voided: false, voidReason: "", voidTime: null } };
  }

  private writeTotals(scope: Scope, totals: UsageTotals): void {
    this.statements.upsertTotals.run({
      tenant: scope,
      customerId: totals.customerId,
      period: totals.period,
      meterKey: totals.meterKey,
      sum: totals.sum.toString(),
      count: totals.count,
      max: totals.max.toString(),
    });
  }

  async getUsageRecord(scope: Scope, id: string): Promise<UsageRecord | undefined> {
    const row = this.statements.usageById.get(scope, id) as Row | undefined;
    return row === undefined ? undefined : toUsageRecord(row);
  }

  async listUsageRecords(scope: Scope, filter: UsageFilter, page: PageQuery): Promise<Page<UsageRecord>> {
    const rows = this.statements.listUsage.all({
      tenant: scope,
      ...filter,
      before: page.after === null ? Number.MAX_SAFE_INTEGER : ascendingCursor(page.after),
      limit: page.limit + 1,
    }) as Row[];
    return pageOf(rows, page.limit, toUsageRecord);
  }

  voidUsage(scope: Scope, recordId: string, reason: string, voidTime: number): Promise<VoidOutcome> {
    return this.writer.submit((): VoidOutcome => {
      const groupTotals = this.groupTotals.overlay();
      const row = this.statements.usageById.get(scope, recordId) as Row | undefined;
      if (row === undefined) throw new Error(`usage record ${recordId} vanished`);
      const record = toUsageRecord(row);
      if (record.voided) return { kind: "already-voided", record };
      this.statements.insertVoid.run(scope, recordId, reason, voidTime);
      const totals = groupTotals.get(scope, record.customerId, record.period, record.meterKey)!;
      // The maximum only moves when the voided event was (one of) the largest.
      const remainingMax = record.quantity.equals(totals.max)
        ? (this.statements.liveQuantities.all(scope, record.customerId, record.period, record.meterKey) as Row[])
            .map((quantityRow) => Decimal.parse(String(quantityRow.quantity))!)
            .reduce((max, quantity) => max.max(quantity), Decimal.ZERO)
        : totals.max;
      groupTotals.set(scope, removeFromTotals(totals, record.quantity, remainingMax));
      groupTotals.commit();
      return { kind: "voided", record: { ...record, voided: true, voidReason: reason, voidTime } };
    });
  }

  async usageTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]> {
    return (this.statements.totals.all(scope, customerId, period) as Row[]).map(toTotals).filter((totals) => totals.count > 0);
  }

  async liveUsageRecords(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageRecord[]> {
    return (this.statements.liveRecordsOfPeriod.all(scope, customerId, period) as Row[]).map(toUsageRecord);
  }

  async periodsWithUsage(scope: Scope, customerId: string): Promise<BillingPeriod[]> {
    return (this.statements.periodsWithUsage.all(scope, customerId) as Row[]).map((row) => String(row.period));
  }

  // API keys are written rarely (by operators), so outside the group commit:
  // each in its own IMMEDIATE transaction on this connection.
  async createApiKey(key: StoredApiKey): Promise<void> {
    this.db.transaction(() => this.statements.insertApiKey.run({ ...key, secretHash: Buffer.from(key.secretHash) })).immediate();
  }

  async findApiKey(id: string): Promise<StoredApiKey | undefined> {
    const row = this.statements.apiKeyById.get(id) as Row | undefined;
    return row === undefined ? undefined : { ...toApiKey(row), secretHash: row.secret_hash as Buffer };
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (this.statements.listApiKeys.all() as Row[]).map(toApiKey);
  }

  async revokeApiKey(id: string, revokeTime: number): Promise<ApiKey | undefined> {
    const row = this.db
      .transaction(() => {
        this.statements.revokeApiKey.run(revokeTime, id);
        return this.statements.apiKeyById.get(id) as Row | undefined;
      })
      .immediate();
    return row === undefined ? undefined : toApiKey(row);
  }

  async storageBytes(): Promise<number> {
    if (this.options.path === ":memory:") return (this.db.pragma("page_count", { simple: true }) as number) * (this.db.pragma("page_size", { simple: true }) as number);
    let bytes = 0;
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        bytes += statSync(this.options.path + suffix).size;
      } catch {
        // -wal and -shm come and go with connections
      }
    }
    return bytes;
  }

  async close(): Promise<void> {
    await this.writer.drain();
    if (this.db.open) this.db.close();
  }
}

/** Listings in this store resume after a row's seq. */
function ascendingCursor(cursor: Cursor | null): number {
  if (cursor === null) return 0;
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new FailureError(failure("INVALID_PAGE_TOKEN", "page_token is not one this listing handed out", "page_token"));
  }
  return Number(cursor);
}

function pageOf<T>(rows: Row[], limit: number, convert: (row: Row) => T): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(convert),
    nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null,
  };
}

function toCustomer(row: Row): Customer {
  return {
    id: String(row.id),
    externalId: String(row.external_id),
    displayName: String(row.display_name),
    currencyCode: String(row.currency_code),
    createTime: Number(row.create_time),
  };
}

function toMeter(row: Row): Meter {
  return {
    key: String(row.key),
    displayName: String(row.display_name),
    unit: String(row.unit),
    aggregation: String(row.aggregation) as Aggregation,
    precision: Number(row.precision),
    createTime: Number(row.create_time),
  };
}

function tiersToJson(tiers: PriceTier[]): string {
  return JSON.stringify(tiers.map((tier) => [tier.upTo?.toString() ?? null, tier.unitAmount.toString()]));
}

function toPrice(row: Row): Price {
  const tiers = (JSON.parse(String(row.tiers)) as [string | null, string][]).map(([upTo, unitAmount]) => ({
    upTo: upTo === null ? null : Decimal.parse(upTo)!,
    unitAmount: Decimal.parse(unitAmount)!,
  }));
  return {
    id: String(row.id),
    meterKey: String(row.meter_key),
    currencyCode: String(row.currency_code),
    tiers,
    effectivePeriod: String(row.effective_period),
    version: Number(row.version),
    createTime: Number(row.create_time),
  };
}

function toUsageRecord(row: Row): UsageRecord {
  return {
    id: String(row.id),
    requestId: String(row.request_id),
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    quantity: Decimal.parse(String(row.quantity))!,
    eventTime: Number(row.event_time),
    requestedEventTime: row.requested_event_time === null ? null : Number(row.requested_event_time),
    createTime: Number(row.create_time),
    period: String(row.period),
    attributes: JSON.parse(String(row.attributes)) as Record<string, string>,
    voided: row.void_time !== null,
    voidReason: row.void_reason === null ? "" : String(row.void_reason),
    voidTime: row.void_time === null ? null : Number(row.void_time),
  };
}

function toTotals(row: Row): UsageTotals {
  return {
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    period: String(row.period),
    sum: Decimal.parse(String(row.quantity_sum))!,
    count: Number(row.event_count),
    max: Decimal.parse(String(row.quantity_max))!,
  };
}

function toApiKey(row: Row): ApiKey {
  return {
    id: row.id as string,
    tenant: row.tenant_id as string,
    role: row.role as Role,
    name: row.name as string,
    createTime: row.create_time as number,
    revokeTime: (row.revoke_time as number | null) ?? null,
  };
}
