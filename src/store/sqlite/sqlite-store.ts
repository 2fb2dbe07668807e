import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { ApiKey, StoredApiKey } from "../../domain/api-key.js";
import type { Bill } from "../../domain/bill.js";
import { billDocument } from "../../domain/bill-revisions.js";
import type { BillingPeriod } from "../../domain/billing-period.js";
import type { CreditGrant } from "../../domain/credits.js";
import type { Customer } from "../../domain/customer.js";
import { mapInSlices, yieldToEventLoop } from "../../domain/event-loop-slices.js";
import { FailureError, failure } from "../../domain/failure.js";
import type { Meter } from "../../domain/meter.js";
import { priceDimensionKeyOf } from "../../domain/dimensions.js";
import type { Price } from "../../domain/price.js";
import type { PriceSeries } from "../../domain/price-selection.js";
import { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from "../../domain/quotas.js";
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
import { FEED_SCAN_ROWS, LIVE_RECORDS_PAGE, SEARCH_SCAN_ROWS, type UsageChangePage } from "../../domain/store.js";
import type { UsageLimitSetting } from "../../domain/usage-limits.js";
import { recordedUsage, type UsageRecord, type UsageTotals } from "../../domain/usage-record.js";
import type { Alert, AlertEvent } from "../../domain/alerts.js";
import { toAlert, toAlertEvent, toUsageChange } from "../alert-decisions.js";
import { MIGRATIONS } from "./migrations.js";
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
import { EFFECTIVE_PRICE_SQL } from "./price-queries.js";
import { configureConnection } from "./sqlite-connection.js";
import { withStorageFaults } from "./storage-faults.js";
import type { CorrectionReply, CreateReply, RevisionMessage, UsageEventReply, UsageEventTuple, VoidReply } from "./write-messages.js";
import { createWriterThread } from "./writer-thread.js";

/** How to open the SQLite store. */
export interface SqliteStoreOptions {
  /** The database file; its directory is created. */
  path: string;
  /** How long a write waits for another process's lock before failing, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Told the size and duration of each group commit (for metrics). Default none. */
  onGroupCommitted?: (writes: number, seconds: number) => void;
  /** The most customers, meters, prices and API keys each tenant may create. Default DEFAULT_TENANT_QUOTAS. */
  quotas?: TenantQuotas;
  /** Told after each usage write or void committed (the feed's watchers wake on it). Default none. */
  onUsageCommitted?: () => void;
  /** Most combinations of dimension values with usage per customer, meter and period. Default DEFAULT_MAX_DIMENSION_COMBINATIONS. */
  maxDimensionCombinations?: number;
}

/**
 * Opens (creating and migrating as needed) the SQLite store: WAL journal,
 * synchronous=FULL (asserted, so an acknowledged write survives a crash or
 * power loss). Reads run on this thread's connection; every write goes to
 * the writer thread, which has its own connection and commits writes in
 * groups (IMMEDIATE transactions, many writes per fsync) off the event loop.
 * WAL lets the readers see each group as soon as it has committed, which is
 * before any of its writes is acknowledged. A full disk, a lock held by
 * another process or an I/O error rejects with the domain's
 * StoreUnavailableError.
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  mkdirSync(dirname(options.path), { recursive: true });
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const db = new Database(options.path);
  try {
    configureConnection(db, busyTimeoutMs);
    migrate(db);
    // This connection only reads from now on; the writer thread writes.
    db.pragma("query_only = ON");
    const writer = createWriterThread({
      path: options.path,
      busyTimeoutMs,
      onGroupCommitted: options.onGroupCommitted,
      maxDimensionCombinations: options.maxDimensionCombinations,
    });
    return withStorageFaults(new SqliteStore(db, options.path, writer, options.quotas ?? DEFAULT_TENANT_QUOTAS, options.onUsageCommitted ?? noop));
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

class SqliteStore implements Store {
  private readonly statements;
  private readonly priceCache = createPriceCache();

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly writer: ReturnType<typeof createWriterThread>,
    private readonly quotas: TenantQuotas,
    private readonly onUsageCommitted: () => void,
  ) {
    const prepare = (sql: string) => db.prepare(sql);
    this.statements = {
      customerByExternalId: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND external_id = ? AND external_id <> ''`),
      customerById: prepare(`SELECT * FROM customers WHERE tenant_id = ? AND id = ?`),
      listCustomers: prepare(`SELECT * FROM customers WHERE tenant_id = @tenant AND seq > @after ORDER BY seq LIMIT @limit`),
      // A search reads a window of candidates (at most SEARCH_SCAN_ROWS after the cursor): the trigram
      // index's matches for 3 characters or more, else the tenant's customers. The page is the window's
      // customers of the tenant that match (LIKE, as the search always matched).
      searchWindow: prepare(
        `SELECT count(*) AS examined, max(seq) AS last FROM (
           SELECT rowid AS seq FROM customer_search WHERE customer_search MATCH @phrase AND rowid > @after ORDER BY rowid LIMIT @scan)`,
      ),
      searchPage: prepare(
        `SELECT c.* FROM customers c
         WHERE c.seq IN (SELECT rowid FROM customer_search WHERE customer_search MATCH @phrase AND rowid > @after AND rowid <= @last)
           AND c.tenant_id = @tenant AND ${CUSTOMER_MATCHES}
         ORDER BY c.seq LIMIT @limit`,
      ),
      shortSearchWindow: prepare(
        `SELECT count(*) AS examined, max(seq) AS last FROM (
           SELECT seq FROM customers WHERE tenant_id = @tenant AND seq > @after ORDER BY seq LIMIT @scan)`,
      ),
      shortSearchPage: prepare(
        `SELECT c.* FROM customers c WHERE c.tenant_id = @tenant AND c.seq > @after AND c.seq <= @last AND ${CUSTOMER_MATCHES}
         ORDER BY c.seq LIMIT @limit`,
      ),
      meterByKey: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND key = ?`),
      listMeters: prepare(`SELECT * FROM meters WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      listPrices: prepare(
        `SELECT * FROM prices WHERE tenant_id = @tenant AND (@meterKey = '' OR meter_key = @meterKey) AND seq > @after
         ORDER BY seq LIMIT @limit`,
      ),
      effectivePrice: prepare(EFFECTIVE_PRICE_SQL),
      // Through the partial index prices_by_customer (its condition repeated, so the planner may use it).
      customerHasPrices: prepare(`SELECT 1 FROM prices WHERE tenant_id = ? AND customer_id = ? AND customer_id <> '' LIMIT 1`),
      usageByRequestId: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.request_id = ?`),
      usageById: prepare(`SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM} WHERE r.tenant_id = ? AND r.id = ?`),
      listUsage: prepare(
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = @tenant AND r.customer_id = @customerId AND r.seq < @before
           AND (@meterKey = '' OR r.meter_key = @meterKey)
           AND (@startTime IS NULL OR r.event_time >= @startTime)
           AND (@endTime IS NULL OR r.event_time < @endTime)
         ORDER BY r.seq DESC LIMIT @limit`,
      ),
      // The attribute filter looks at a window of at most SEARCH_SCAN_ROWS records that pass the other filters.
      listUsageMatching: prepare(
        `WITH window_rows AS (
           SELECT r.* FROM usage_records r
           WHERE r.tenant_id = @tenant AND r.customer_id = @customerId AND r.seq < @before
             AND (@meterKey = '' OR r.meter_key = @meterKey)
             AND (@startTime IS NULL OR r.event_time >= @startTime)
             AND (@endTime IS NULL OR r.event_time < @endTime)
           ORDER BY r.seq DESC LIMIT @scan)
         SELECT ${USAGE_COLUMNS}, (SELECT count(*) FROM window_rows) AS examined, (SELECT min(seq) FROM window_rows) AS last
         FROM window_rows r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
         WHERE NOT EXISTS (
           SELECT 1 FROM json_each(@attributes) wanted
           WHERE NOT EXISTS (SELECT 1 FROM json_each(r.attributes) held WHERE held.key = wanted.key AND held.value = wanted.value))
         ORDER BY r.seq DESC LIMIT @limit`,
      ),
      windowEnd: prepare(
        `SELECT count(*) AS examined, min(seq) AS last FROM (
           SELECT r.seq FROM usage_records r
           WHERE r.tenant_id = @tenant AND r.customer_id = @customerId AND r.seq < @before
             AND (@meterKey = '' OR r.meter_key = @meterKey)
             AND (@startTime IS NULL OR r.event_time >= @startTime)
             AND (@endTime IS NULL OR r.event_time < @endTime)
           ORDER BY r.seq DESC LIMIT @scan)`,
      ),
      // Keyset pages through usage_records_by_period, whose entries end with the rowid (seq).
      liveRecordsOfPeriod: prepare(
        `SELECT ${USAGE_COLUMNS} FROM ${USAGE_FROM}
         WHERE r.tenant_id = ? AND r.customer_id = ? AND r.period = ? AND (r.meter_key, r.seq) > (?, ?) AND v.record_id IS NULL
         ORDER BY r.meter_key, r.seq LIMIT ?`,
      ),
      totals: prepare(`SELECT * FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ?`),
      combinationTotals: prepare(`SELECT * FROM usage_dimension_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND event_count > 0`),
      apiKeyById: prepare(`SELECT * FROM api_keys WHERE id = ?`),
      listApiKeys: prepare(`SELECT * FROM api_keys ORDER BY create_time, id`),
      periodsWithUsage: prepare(
        `SELECT DISTINCT period FROM usage_totals WHERE tenant_id = ? AND customer_id = ? ORDER BY period DESC`,
      ),
      // The usage feed and alerts: in the change log's (and the event table's) seq order, the commit order.
      changesOfTenant: prepare(
        `SELECT c.seq AS change_seq, c.kind, ${USAGE_COLUMNS} FROM usage_changes c
         JOIN usage_records r ON r.seq = c.record_seq LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
         WHERE c.tenant_id = ? AND c.seq > ? ORDER BY c.seq LIMIT ?`,
      ),
      // A customer's changes among a window of the tenant's (FEED_SCAN_ROWS), and where the window ends.
      changesWindow: prepare(`SELECT max(seq) AS last FROM (SELECT seq FROM usage_changes WHERE tenant_id = @tenant AND seq > @after ORDER BY seq LIMIT @scan)`),
      changesOfCustomer: prepare(
        `SELECT c.seq AS change_seq, c.kind, ${USAGE_COLUMNS} FROM usage_changes c
         JOIN usage_records r ON r.seq = c.record_seq LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id
         WHERE c.tenant_id = @tenant AND c.seq > @after AND c.seq <= @last AND c.customer_id = @customerId ORDER BY c.seq LIMIT @limit`,
      ),
      alertEvents: prepare(
        `SELECT e.*, a.threshold FROM alert_events e JOIN alerts a ON a.tenant_id = e.tenant_id AND a.id = e.alert_id
         WHERE e.tenant_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`,
      ),
      usageLimit: prepare(`SELECT * FROM usage_limits WHERE tenant_id = ? AND customer_id = ? AND meter_key = ?`),
      // ---- Credits and bill revisions (issue 19) ----
      listCreditGrants: prepare(`SELECT * FROM credit_grants WHERE tenant_id = ? AND customer_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      usableCreditGrants: prepare(`SELECT * FROM credit_grants WHERE tenant_id = ? AND customer_id = ? AND remaining_amount <> '0'`),
      billRevision: prepare(
        `SELECT * FROM bill_revisions WHERE tenant_id = ? AND customer_id = ? AND period = ? AND revision = ? AND bill IS NOT NULL`,
      ),
      latestBillRevision: prepare(
        `SELECT * FROM bill_revisions WHERE tenant_id = ? AND customer_id = ? AND period = ? AND bill IS NOT NULL ORDER BY revision DESC LIMIT 1`,
      ),
      pendingBillRevision: prepare(`SELECT revision FROM bill_revisions WHERE tenant_id = ? AND customer_id = ? AND period = ? AND bill IS NULL`),
      periodsToFinalize: prepare(
        `SELECT DISTINCT t.tenant_id, t.customer_id, t.period FROM usage_totals t
         WHERE t.period >= ? AND t.period <= ? AND t.event_count > 0
           AND NOT EXISTS (SELECT 1 FROM bill_revisions b
                           WHERE b.tenant_id = t.tenant_id AND b.customer_id = t.customer_id AND b.period = t.period AND b.revision = 1)
         ORDER BY t.period, t.tenant_id, t.customer_id LIMIT ?`,
      ),
    };
  }

  async createCustomer(scope: Scope, requestId: string, customer: Customer): Promise<CreateOutcome<Customer>> {
    const reply = (await this.writer.submit({ kind: "customer", scope, requestId, customer, limit: this.quotas.customers })) as CreateReply;
    return createOutcome(reply, toCustomer, () => customer, this.quotas.customers);
  }

  async findCustomer(scope: Scope, idOrExternalId: string): Promise<Customer | undefined> {
    const row = (this.statements.customerById.get(scope, idOrExternalId) ??
      this.statements.customerByExternalId.get(scope, idOrExternalId)) as Row | undefined;
    return row === undefined ? undefined : toCustomer(row);
  }

  async listCustomers(scope: Scope, text: string, page: PageQuery): Promise<Page<Customer>> {
    const after = ascendingCursor(page.after);
    if (text === "") {
      return pageOf(this.statements.listCustomers.all({ tenant: scope, after, limit: page.limit + 1 }) as Row[], page.limit, toCustomer);
    }
    const trigrams = [...text].length >= 3;
    const phrase = `"${text.replaceAll('"', '""')}"`;
    const window = (trigrams ? this.statements.searchWindow : this.statements.shortSearchWindow).get({ tenant: scope, phrase, after, scan: SEARCH_SCAN_ROWS }) as {
      examined: number;
      last: number | null;
    };
    if (window.last === null) return { items: [], nextCursor: null };
    const rows = (trigrams ? this.statements.searchPage : this.statements.shortSearchPage).all({
      tenant: scope,
      phrase,
      after,
      last: window.last,
      pattern: likePattern(text),
      limit: page.limit + 1,
    }) as Row[];
    const found = pageOf(rows, page.limit, toCustomer);
    // A page cut short by the window goes on after the window.
    if (found.nextCursor === null && window.examined >= SEARCH_SCAN_ROWS) return { items: found.items, nextCursor: String(window.last) };
    return found;
  }

  async createMeter(scope: Scope, requestId: string, meter: Meter): Promise<CreateOutcome<Meter>> {
    const reply = (await this.writer.submit({ kind: "meter", scope, requestId, meter, limit: this.quotas.meters })) as CreateReply;
    return createOutcome(reply, toMeter, () => meter, this.quotas.meters);
  }

  async findMeter(scope: Scope, key: string): Promise<Meter | undefined> {
    const row = this.statements.meterByKey.get(scope, key) as Row | undefined;
    return row === undefined ? undefined : toMeter(row);
  }

  async listMeters(scope: Scope, page: PageQuery): Promise<Page<Meter>> {
    const rows = this.statements.listMeters.all(scope, ascendingCursor(page.after), page.limit + 1) as Row[];
    return pageOf(rows, page.limit, toMeter);
  }

  async createPrice(scope: Scope, requestId: string, price: Omit<Price, "version">): Promise<CreateOutcome<Price>> {
    const { tiers, packageSize, dimensionValues, ...rest } = price;
    const reply = (await this.writer.submit({
      kind: "price",
      scope,
      requestId,
      price: { ...rest, tiers: tiersToJson(tiers), packageSize: packageSize?.toString() ?? null, dimensionKey: priceDimensionKeyOf(dimensionValues) },
      limit: this.quotas.prices,
    })) as CreateReply;
    return createOutcome(reply, toPrice, (row) => toPrice(row!), this.quotas.prices);
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

  async effectivePrices(scope: Scope, currencyCode: string, period: BillingPeriod, series: readonly PriceSeries[]): Promise<Price[]> {
    // A customer without prices of its own (most) has no customer series to look up.
    const customers = new Set(series.map((one) => one.customerId).filter((customerId) => customerId !== ""));
    const withoutPrices = new Set([...customers].filter((customerId) => this.statements.customerHasPrices.get(scope, customerId) === undefined));
    const worthLooking = withoutPrices.size === 0 ? series : series.filter((one) => !withoutPrices.has(one.customerId));
    // Reading and parsing a thousand 32-tier prices holds the event loop for tens of ms: in slices.
    const prices = await mapInSlices(worthLooking, ({ meterKey, dimensionKey, customerId }) => {
      const row = this.statements.effectivePrice.get(scope, meterKey, currencyCode, dimensionKey, customerId, period) as Row | undefined;
      return row === undefined ? undefined : this.priceCache.price(row);
    });
    return prices.filter((price) => price !== undefined);
  }

  async findUsageByRequestId(scope: Scope, requestId: string): Promise<UsageRecord | undefined> {
    const row = this.statements.usageByRequestId.get(scope, requestId) as Row | undefined;
    return row === undefined ? undefined : toUsageRecord(row);
  }

  async recordUsage(scope: Scope, writes: UsageWrite[], atomic: boolean): Promise<UsageWriteOutcome[]> {
    // Plain loops and literals: this runs for every event of every batch.
    const events: UsageEventTuple[] = new Array(writes.length);
    for (let index = 0; index < writes.length; index++) events[index] = usageEventTuple(writes[index]!);
    const replies = (await this.writer.submit({ kind: "usage", scope, atomic, events })) as UsageEventReply[];
    this.onUsageCommitted();
    const outcomes: UsageWriteOutcome[] = new Array(replies.length);
    for (let index = 0; index < replies.length; index++) {
      const reply = replies[index]!;
      if (reply === null) {
        outcomes[index] = { kind: "recorded", record: recordedUsage(writes[index]!.record) };
      } else if (reply === "aborted") outcomes[index] = { kind: "aborted" };
      else if ("replayed" in reply) outcomes[index] = { kind: "replayed", record: toUsageRecord(reply.replayed) };
      else outcomes[index] = { kind: "refused", failure: reply.refused };
    }
    return outcomes;
  }

  async getUsageRecord(scope: Scope, id: string): Promise<UsageRecord | undefined> {
    const row = this.statements.usageById.get(scope, id) as Row | undefined;
    return row === undefined ? undefined : toUsageRecord(row);
  }

  async listUsageRecords(scope: Scope, filter: UsageFilter, page: PageQuery): Promise<Page<UsageRecord>> {
    const { attributes = {}, ...rest } = filter;
    const query = { tenant: scope, ...rest, before: page.after === null ? Number.MAX_SAFE_INTEGER : ascendingCursor(page.after), limit: page.limit + 1 };
    if (Object.keys(attributes).length === 0) return pageOf(this.statements.listUsage.all(query) as Row[], page.limit, toUsageRecord);
    const windowed = { ...query, scan: SEARCH_SCAN_ROWS, attributes: JSON.stringify(attributes) };
    const found = pageOf(this.statements.listUsageMatching.all(windowed) as Row[], page.limit, toUsageRecord);
    if (found.nextCursor !== null) return found;
    // A page cut short by the window goes on after the window.
    const window = this.statements.windowEnd.get(windowed) as { examined: number; last: number | null };
    return window.examined >= SEARCH_SCAN_ROWS && window.last !== null ? { items: found.items, nextCursor: String(window.last) } : found;
  }

  async voidUsage(scope: Scope, recordId: string, reason: string, voidTime: number): Promise<VoidOutcome> {
    const reply = (await this.writer.submit({ kind: "void", scope, recordId, reason, voidTime })) as VoidReply;
    this.onUsageCommitted();
    const record = toUsageRecord(reply.row);
    return reply.kind === "voided"
      ? { kind: "voided", record: { ...record, voided: true, voidReason: reason, voidTime } }
      : { kind: "already-voided", record };
  }

  async usageTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]> {
    return (this.statements.totals.all(scope, customerId, period) as Row[]).map(toTotals).filter((totals) => totals.count > 0);
  }

  async combinationTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]> {
    return (this.statements.combinationTotals.all(scope, customerId, period) as Row[]).map(toTotals);
  }

  async *liveUsageRecords(scope: Scope, customerId: string, period: BillingPeriod): AsyncIterable<UsageRecord[]> {
    let after = { meterKey: "", seq: 0 };
    for (;;) {
      const rows = this.statements.liveRecordsOfPeriod.all(scope, customerId, period, after.meterKey, after.seq, LIVE_RECORDS_PAGE) as Row[];
      if (rows.length > 0) yield rows.map(toUsageRecord);
      if (rows.length < LIVE_RECORDS_PAGE) return;
      const last = rows[rows.length - 1]!;
      after = { meterKey: String(last.meter_key), seq: Number(last.seq) };
      await yieldToEventLoop();
    }
  }

  async periodsWithUsage(scope: Scope, customerId: string): Promise<BillingPeriod[]> {
    return (this.statements.periodsWithUsage.all(scope, customerId) as Row[]).map((row) => String(row.period));
  }

  async readUsageChanges(scope: Scope, customerId: string, after: Cursor | null, limit: number): Promise<UsageChangePage> {
    const position = feedPosition(after);
    if (customerId === "") {
      const changes = (this.statements.changesOfTenant.all(scope, position, limit) as Row[]).map((row) => toUsageChange(row, String(row.change_seq)));
      return { changes, position: changes.at(-1)?.cursor ?? null };
    }
    const { last } = this.statements.changesWindow.get({ tenant: scope, after: position, scan: FEED_SCAN_ROWS }) as { last: number | null };
    if (last === null) return { changes: [], position: null };
    const rows = this.statements.changesOfCustomer.all({ tenant: scope, after: position, last, customerId, limit }) as Row[];
    const changes = rows.map((row) => toUsageChange(row, String(row.change_seq)));
    // A full page may have more of the window after it; else the whole window was examined.
    return { changes, position: changes.length === limit ? changes.at(-1)!.cursor : String(last) };
  }

  async createAlert(scope: Scope, requestId: string, alert: Alert, maxPerCustomer: number): Promise<CreateOutcome<Alert>> {
    const reply = (await this.writer.submit({
      kind: "alert",
      scope,
      requestId,
      alert: { ...alert, threshold: alert.threshold.toString() },
      limit: maxPerCustomer,
    })) as CreateReply;
    return createOutcome(reply, toAlert, () => alert, maxPerCustomer);
  }

  async readAlertEvents(scope: Scope, after: Cursor | null, limit: number): Promise<AlertEvent[]> {
    const rows = this.statements.alertEvents.all(scope, feedPosition(after), limit) as Row[];
    return rows.map((row) => toAlertEvent(row, String(row.seq)));
  }

  // --- Usage limits (issue 19): written through the writer thread, which checks them in every usage write ---
  async setUsageLimit(scope: Scope, requestId: string, setting: UsageLimitSetting): Promise<{ kind: "created" | "exists"; value: UsageLimitSetting }> {
    const { customerId, meterKey, updateTime } = setting;
    const limit = setting.limit?.toString() ?? "";
    const reply = (await this.writer.submit({ kind: "usage-limit", scope, requestId, customerId, meterKey, limit, updateTime })) as CreateReply;
    return reply.kind === "exists" ? { kind: "exists", value: toUsageLimitSetting(reply.row) } : { kind: "created", value: setting };
  }

  async findUsageLimit(scope: Scope, customerId: string, meterKey: string): Promise<UsageLimitSetting | undefined> {
    const row = this.statements.usageLimit.get(scope, customerId, meterKey) as Row | undefined;
    return row === undefined ? undefined : toUsageLimitSetting(row);
  }
  // --- end of usage limits ---

  // ---- Credits and bill revisions (issue 19): writes on the writer thread (credits-writer.ts) ----

  async createCreditGrant(scope: Scope, requestId: string, grant: CreditGrant): Promise<{ kind: "created" | "exists"; value: CreditGrant }> {
    const { amount, remainingAmount: _, ...rest } = grant;
    const reply = (await this.writer.submit({ kind: "credit-grant", scope, requestId, grant: { ...rest, amount: amount.toString() } })) as CreateReply;
    return reply.kind === "exists" ? { kind: "exists", value: toCreditGrant(reply.row) } : { kind: "created", value: grant };
  }

  async listCreditGrants(scope: Scope, customerId: string, page: PageQuery): Promise<Page<CreditGrant>> {
    const rows = this.statements.listCreditGrants.all(scope, customerId, ascendingCursor(page.after), page.limit + 1) as Row[];
    return pageOf(rows, page.limit, toCreditGrant);
  }

  async usableCreditGrants(scope: Scope, customerId: string): Promise<CreditGrant[]> {
    return (this.statements.usableCreditGrants.all(scope, customerId) as Row[]).map(toCreditGrant);
  }

  async findBillRevision(scope: Scope, customerId: string, period: BillingPeriod, revision: number): Promise<Bill | undefined> {
    const row = (revision === 0
      ? this.statements.latestBillRevision.get(scope, customerId, period)
      : this.statements.billRevision.get(scope, customerId, period, revision)) as Row | undefined;
    return row === undefined ? undefined : toStoredBill(row);
  }

  async finalizeBill(scope: Scope, bill: Bill): Promise<Bill> {
    const row = (await this.writer.submit({ kind: "finalize-bill", scope, currencyCode: bill.currencyCode, revision: revisionMessage(bill) })) as Row;
    return toStoredBill(row);
  }

  async pendingBillRevision(scope: Scope, customerId: string, period: BillingPeriod): Promise<number | undefined> {
    const row = this.statements.pendingBillRevision.get(scope, customerId, period) as Row | undefined;
    return row === undefined ? undefined : Number(row.revision);
  }

  async correctUsage(scope: Scope, customerId: string, period: BillingPeriod, correction: Correction): Promise<CorrectionOutcome> {
    const target = { kind: "correction" as const, scope, customerId, period };
    if (correction.kind === "void") {
      const { kind: _, ...voiding } = correction;
      const reply = (await this.writer.submit({ ...target, createTime: voiding.voidTime, void: voiding })) as CorrectionReply;
      if (reply.kind === "pending") return reply;
      const { reply: voidReply, revision } = reply as Extract<CorrectionReply, { kind: "void" }>;
      const record = toUsageRecord(voidReply.row);
      if (voidReply.kind === "already-voided") return { kind: "already-voided", record };
      return { kind: "corrected", record: { ...record, voided: true, voidReason: voiding.reason, voidTime: voiding.voidTime }, revision };
    }
    const event = usageEventTuple(correction.write);
    const reply = (await this.writer.submit({ ...target, createTime: correction.write.record.createTime, event })) as CorrectionReply;
    if (reply.kind === "pending") return reply;
    const { reply: eventReply, revision } = reply as Extract<CorrectionReply, { kind: "event" }>;
    if (eventReply === null) return { kind: "corrected", record: recordedUsage(correction.write.record), revision };
    if (eventReply === "aborted") throw new Error("a correction was aborted outside an atomic write");
    if ("replayed" in eventReply) return { kind: "replayed", record: toUsageRecord(eventReply.replayed) };
    return { kind: "refused", failure: eventReply.refused };
  }

  async writePendingRevision(scope: Scope, bill: Bill): Promise<void> {
    await this.writer.submit({ kind: "write-revision", scope, revision: revisionMessage(bill) });
  }

  async periodsToFinalize(earliest: BillingPeriod, latest: BillingPeriod, limit: number): Promise<PeriodToFinalize[]> {
    return (this.statements.periodsToFinalize.all(earliest, latest, limit) as Row[]).map((row) => ({
      scope: String(row.tenant_id),
      customerId: String(row.customer_id),
      period: String(row.period),
    }));
  }

  // API keys are written rarely (by operators), through the writer thread like every write.
  async createApiKey(key: StoredApiKey): Promise<{ kind: "created" } | { kind: "over-quota"; limit: number }> {
    const { secretHash, ...rest } = key;
    const limit = this.quotas.apiKeys;
    const reply = await this.writer.submit({ kind: "api-key", key: { ...rest, secretHash: Buffer.from(secretHash).toString("base64") }, limit });
    return reply === "over-quota" ? { kind: "over-quota", limit } : { kind: "created" };
  }

  async findApiKey(id: string): Promise<StoredApiKey | undefined> {
    const row = this.statements.apiKeyById.get(id) as Row | undefined;
    return row === undefined ? undefined : { ...toApiKey(row), secretHash: row.secret_hash as Buffer };
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (this.statements.listApiKeys.all() as Row[]).map(toApiKey);
  }

  async revokeApiKey(id: string, revokeTime: number): Promise<ApiKey | undefined> {
    const row = (await this.writer.submit({ kind: "revoke-api-key", id, revokeTime })) as Row | null;
    return row === null ? undefined : toApiKey(row);
  }

  async storageBytes(): Promise<number> {
    let bytes = 0;
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        bytes += statSync(this.path + suffix).size;
      } catch {
        // -wal and -shm come and go with connections
      }
    }
    return bytes;
  }

  async close(): Promise<void> {
    await this.writer.close();
    if (this.db.open) this.db.close();
  }
}

/** A usage write as it travels to the writer. */
function usageEventTuple({ record, refusal }: UsageWrite): UsageEventTuple {
  const event: UsageEventTuple = [
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
  ];
  if (refusal !== undefined) event.push(refusal);
  return event;
}

/** A bill about to be stored as a revision, as it travels to the writer. */
function revisionMessage(bill: Bill): RevisionMessage {
  return {
    customerId: bill.customerId,
    period: bill.period,
    revision: bill.revision,
    total: bill.total,
    creditsApplied: bill.creditsApplied,
    amountDue: bill.amountDue,
    document: billDocument(bill),
    createTime: bill.asOfTime,
  };
}

/** A create's outcome from the writer's reply; `created` builds the new value. */
function createOutcome<T>(reply: CreateReply, fromRow: (row: Row) => T, created: (row: Row | undefined) => T, limit: number): CreateOutcome<T> {
  if (reply.kind === "exists") return { kind: "exists", value: fromRow(reply.row) };
  if (reply.kind === "taken") return { kind: "taken" };
  if (reply.kind === "over-quota") return { kind: "over-quota", limit };
  return { kind: "created", value: created(reply.row) };
}

/** What a search must match in one of the customer's columns, as the search always matched: a substring, ASCII case ignored. */
const CUSTOMER_MATCHES = `(c.id LIKE @pattern ESCAPE '\\' OR c.external_id LIKE @pattern ESCAPE '\\' OR c.display_name LIKE @pattern ESCAPE '\\')`;

/** LIKE's pattern for a substring, its own wildcards escaped. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
}

const noop = () => {};

/** A feed's cursor in this store: the seq of the last change (or event) handed out. */
function feedPosition(cursor: Cursor | null): number {
  if (cursor === null) return 0;
  if (!/^\d{1,15}$/.test(cursor)) throw new FailureError(failure("INVALID_CURSOR", "after_cursor is not one this stream handed out", "after_cursor"));
  return Number(cursor);
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
