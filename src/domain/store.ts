import type { Alert, AlertEvent } from "./alerts.js";
import type { ApiKey, StoredApiKey } from "./api-key.js";
import type { Bill } from "./bill.js";
import type { BillingPeriod } from "./billing-period.js";
import type { CreditGrant } from "./credits.js";
import type { Customer } from "./customer.js";
import type { Failure } from "./failure.js";
import type { Meter } from "./meter.js";
import type { Price } from "./price.js";
import type { UsageChange } from "./usage-feed.js";
import type { PriceSeries } from "./price-selection.js";
import type { UsageLimitSetting } from "./usage-limits.js";
import type { NewUsageRecord, UsageRecord, UsageTotals } from "./usage-record.js";

/**
 * The caller's scope: the tenant whose data a call may see and whose
 * request_ids it shares. Every read and every idempotency key is scoped.
 */
export type Scope = string;

/**
 * The most customers a search shorter than 3 characters (which no trigram
 * index can serve) examines for one page.
 */
export const SEARCH_SCAN_ROWS = 5_000;

/** The most changes of a tenant one read of a customer's usage feed examines. */
export const FEED_SCAN_ROWS = 5_000;

/** One read of the usage feed. */
export interface UsageChangePage {
  changes: UsageChange[];
  /** Where the next read resumes: past every change examined (a cursor like the changes'); null when none was. */
  position: Cursor | null;
}
/** The most records one page of Store.liveUsageRecords holds. */
export const LIVE_RECORDS_PAGE = 2_000;

/** The scope of every call until API keys bring tenants. */
export const DEFAULT_SCOPE: Scope = "default";

/** Where a listing resumes: a store-specific position, opaque to callers. */
export type Cursor = string;

/** One page of a listing. */
export interface Page<T> {
  items: T[];
  /** Where the next page starts; null on the last page. */
  nextCursor: Cursor | null;
}

/** How much of a listing to read, from where. */
export interface PageQuery {
  limit: number;
  /** Resume after this position; null for the first page. */
  after: Cursor | null;
}

/** The outcome of a create keyed by request_id. */
export type CreateOutcome<T> =
  /** Written now. */
  | { kind: "created"; value: T }
  /** This request_id had already created `value`; nothing was written. */
  | { kind: "exists"; value: T }
  /** A unique field (external_id, meter key) is held by another resource. */
  | { kind: "taken" }
  /** The request_id is new but the tenant's quota of the resource is full; nothing was written. */
  | { kind: "over-quota"; limit: number };

/** One event to write, with the refusal it gets if its request_id is new. */
export interface UsageWrite {
  record: NewUsageRecord;
  /**
   * Refuse the event with this (writing nothing) unless its request_id is
   * already recorded, in which case it is replayed or refused as a changed
   * retry like any other. Carries the time rules' verdict, which must not
   * turn an identical retry into an error.
   */
  refusal?: Failure;
}

/** The outcome of one event of a usage write. */
export type UsageWriteOutcome =
  | { kind: "recorded"; record: UsageRecord }
  /** The request_id was recorded before with the same payload; nothing was written. */
  | { kind: "replayed"; record: UsageRecord }
  /** Refused (the request_id was used with another payload, or a total would overflow); nothing was written. */
  | { kind: "refused"; failure: Failure }
  /** Not written because another event of the same atomic write was refused. */
  | { kind: "aborted" };

/** The outcome of a void. */
export type VoidOutcome =
  | { kind: "voided"; record: UsageRecord }
  /** The record was already voided; nothing was written. */
  | { kind: "already-voided"; record: UsageRecord };

/** A correction of a finalized period: one usage event (no refusal), or the void of a record. */
export type Correction =
  | { kind: "record"; write: UsageWrite }
  | { kind: "void"; recordId: string; reason: string; voidTime: number };

/** The outcome of a correction. */
export type CorrectionOutcome =
  /** Written with the bill's next revision (`revision`, its bill still to be written), in one transaction. */
  | { kind: "corrected"; record: UsageRecord; revision: number }
  /** The request_id was recorded before with the same payload; nothing was written, no revision added. */
  | { kind: "replayed"; record: UsageRecord }
  /** The record was already voided; nothing was written, no revision added. */
  | { kind: "already-voided"; record: UsageRecord }
  /** Refused (request_id reused with another payload, a total overflow); nothing was written. */
  | { kind: "refused"; failure: Failure }
  /** The period has a revision whose bill is not written yet (`revision`); nothing was written. */
  | { kind: "pending"; revision: number };

/** A customer's period whose bill is final by time but has no stored revision yet. */
export interface PeriodToFinalize {
  scope: Scope;
  customerId: string;
  period: BillingPeriod;
}

/** Which usage records a listing covers. */
export interface UsageFilter {
  customerId: string;
  /** "" for every meter. */
  meterKey: string;
  /** Events at or after this time (epoch ms); null for no bound. */
  startTime: number | null;
  /** Events before this time (epoch ms); null for no bound. */
  endTime: number | null;
  /**
   * Only records whose attributes include all of these; absent or {} for no
   * filter. Such a listing examines at most SEARCH_SCAN_ROWS records (after
   * the other filters) per page, so its page may hold fewer items than asked
   * (even none) with a cursor to go on from.
   */
  attributes?: Record<string, string>;
}

/**
 * The Store port: what the use cases need from storage. Adapters live in
 * src/store/. Every write is one transaction: claiming a request_id, writing
 * the row and updating the running totals commit together or not at all, and a
 * method resolves only once its transaction is durable. A create also checks
 * the tenant's quota (TenantQuotas, given when the store is opened) in its
 * transaction: an identical retry still replays at a full quota.
 */
export interface Store {
  createCustomer(scope: Scope, requestId: string, customer: Customer): Promise<CreateOutcome<Customer>>;
  /** A customer by Tally id, or else by external_id. */
  findCustomer(scope: Scope, idOrExternalId: string): Promise<Customer | undefined>;
  /**
   * Customers in creation order; `text` filters on id, external_id and
   * display_name (a substring, ignoring case). A search of 3 characters or
   * more goes through a trigram index; a shorter one examines at most
   * SEARCH_SCAN_ROWS customers per page, so its page may hold fewer items than
   * asked (even none) with a cursor to go on from.
   */
  listCustomers(scope: Scope, text: string, page: PageQuery): Promise<Page<Customer>>;

  createMeter(scope: Scope, requestId: string, meter: Meter): Promise<CreateOutcome<Meter>>;
  findMeter(scope: Scope, key: string): Promise<Meter | undefined>;
  listMeters(scope: Scope, page: PageQuery): Promise<Page<Meter>>;

  /**
   * Creates a price version, numbering it after the latest version of its
   * series: (meter, currency, dimension_values, customer).
   */
  createPrice(scope: Scope, requestId: string, price: Omit<Price, "version">): Promise<CreateOutcome<Price>>;
  /** Price versions in creation order; meterKey "" for every meter. */
  listPrices(scope: Scope, meterKey: string, page: PageQuery): Promise<Page<Price>>;
  /**
   * For each of `series` priced in the currency, the highest version
   * effective in `period` (none for a series without one): one indexed lookup
   * per series, however many versions the tenant's catalog holds.
   */
  effectivePrices(scope: Scope, currencyCode: string, period: BillingPeriod, series: readonly PriceSeries[]): Promise<Price[]>;

  findUsageByRequestId(scope: Scope, requestId: string): Promise<UsageRecord | undefined>;
  /**
   * Writes usage events in one transaction, in order, each with its totals.
   * An event whose request_id is already recorded is replayed when identical
   * and refused otherwise; a new one carrying a refusal is refused. When
   * `atomic`, one refusal rolls back every event.
   */
  recordUsage(scope: Scope, writes: UsageWrite[], atomic: boolean): Promise<UsageWriteOutcome[]>;
  getUsageRecord(scope: Scope, id: string): Promise<UsageRecord | undefined>;
  /** Records newest event first. */
  listUsageRecords(scope: Scope, filter: UsageFilter, page: PageQuery): Promise<Page<UsageRecord>>;
  /** Adds a void to the ledger for the record and takes it out of the totals. */
  voidUsage(scope: Scope, recordId: string, reason: string, voidTime: number): Promise<VoidOutcome>;

  /**
   * The running totals of a customer's meters in a period, each meter's over
   * all its usage (dimensionValues []), for meters with live usage.
   */
  usageTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]>;
  /** The running totals per combination of dimension values of a customer's meters with dimensions in a period, with live usage. */
  combinationTotals(scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageTotals[]>;
  /**
   * The customer's non-voided records of a period (totals from scratch, daily
   * usage), by meter key and in recording order within each meter, in pages
   * of at most LIVE_RECORDS_PAGE: a period of a million events is read without
   * holding the event loop, or memory, for all of them at once.
   */
  liveUsageRecords(scope: Scope, customerId: string, period: BillingPeriod): AsyncIterable<UsageRecord[]>;
  /** Every period in which the customer has usage records, newest first. */
  periodsWithUsage(scope: Scope, customerId: string): Promise<BillingPeriod[]>;

  // --- Usage limits (issue 19) ---
  /**
   * Sets a customer's limit on a meter (a null limit removes it), keyed by
   * request_id: "exists" returns what that request_id set before, and writes
   * nothing. From the commit on, every usage write checks the limit in its
   * own transaction (limitRefusal in src/domain/usage-limits.ts): an event
   * that would take the period's aggregated quantity past it is refused with
   * USAGE_LIMIT_EXCEEDED and writes nothing; events of one transaction see
   * each other's effect.
   */
  setUsageLimit(scope: Scope, requestId: string, setting: UsageLimitSetting): Promise<{ kind: "created" | "exists"; value: UsageLimitSetting }>;
  /** The limit in force on a customer's meter; undefined when there is none. */
  findUsageLimit(scope: Scope, customerId: string, meterKey: string): Promise<UsageLimitSetting | undefined>;
  // --- end of usage limits ---

  /**
   * Stores a new API key (its hash, never the key), unless the tenant's key
   * quota is full. Keys belong to a tenant but are listed across tenants by operators.
   */
  createApiKey(key: StoredApiKey): Promise<{ kind: "created" } | { kind: "over-quota"; limit: number }>;
  findApiKey(id: string): Promise<StoredApiKey | undefined>;
  /** Every key, oldest first. */
  listApiKeys(): Promise<ApiKey[]>;
  /** Marks a key revoked (keeping the first revocation time); undefined when no key has the id. */
  revokeApiKey(id: string, revokeTime: number): Promise<ApiKey | undefined>;

  // The usage feed and alerts (issue 19). Every record and void writes a
  // change in its own transaction; every usage write decides the alerts of
  // the totals it changes (thresholdReached, src/domain/alerts.ts) in its
  // transaction and records an event for each alert reaching its threshold,
  // at most one per (alert, period).

  /**
   * Up to `limit` usage changes of the tenant (of one customer, unless
   * customerId is ""), after `after` (null: from the first), in the feed's
   * order: a change committed after a read never sorts before what that read
   * returned, so resuming after the last cursor read misses nothing and
   * repeats nothing. A customer's changes are found among at most
   * FEED_SCAN_ROWS of the tenant's per read, so a page may hold fewer than
   * asked (even none) with a position further on. A cursor this store did not
   * hand out is INVALID_CURSOR.
   */
  readUsageChanges(scope: Scope, customerId: string, after: Cursor | null, limit: number): Promise<UsageChangePage>;
  /**
   * Creates an alert, unless its customer already has `maxPerCustomer`
   * ("over-quota"); an alert's request_id is claimed like any create's.
   */
  createAlert(scope: Scope, requestId: string, alert: Alert, maxPerCustomer: number): Promise<CreateOutcome<Alert>>;
  /** Up to `limit` alert events of the tenant after `after`, in the same kind of order as readUsageChanges. */
  readAlertEvents(scope: Scope, after: Cursor | null, limit: number): Promise<AlertEvent[]>;

  // ---- Credits and bill revisions (issue 19; src/domain/credits.ts, src/domain/bill-revisions.ts) ----

  /** Stores a grant keyed by request_id, or answers the grant that request_id created. */
  createCreditGrant(scope: Scope, requestId: string, grant: CreditGrant): Promise<{ kind: "created" | "exists"; value: CreditGrant }>;
  /** A customer's grants, oldest first. */
  listCreditGrants(scope: Scope, customerId: string, page: PageQuery): Promise<Page<CreditGrant>>;
  /** Every grant of the customer with something left, in no particular order (what a bill could use), through an index of those alone. */
  usableCreditGrants(scope: Scope, customerId: string): Promise<CreditGrant[]>;
  /** A stored revision of a finalized bill whose bill is written; revision 0 = the latest such. */
  findBillRevision(scope: Scope, customerId: string, period: BillingPeriod, revision: number): Promise<Bill | undefined>;
  /** The period's revision whose bill is not written yet (a correction's, at most one), if any. */
  pendingBillRevision(scope: Scope, customerId: string, period: BillingPeriod): Promise<number | undefined>;
  /**
   * Stores `bill` as revision 1 of its period and consumes the customer's
   * credits for it (allocateCredits over the grants as they stand in the
   * transaction), in one transaction; if revision 1 already exists, writes
   * nothing and answers it. Exactly once under any concurrency.
   */
  finalizeBill(scope: Scope, bill: Bill): Promise<Bill>;
  /**
   * Writes a correction of the customer's finalized period (whose revision 1
   * is stored) and the period's next revision, its bill not yet written, in
   * one transaction, unless a revision is pending ("pending": nothing
   * written), so that the period's running totals change only while no
   * revision is pending. A replay or a refusal writes no revision.
   */
  correctUsage(scope: Scope, customerId: string, period: BillingPeriod, correction: Correction): Promise<CorrectionOutcome>;
  /** Writes the bill of a pending revision (`bill.revision`); a revision already written is left as it is. */
  writePendingRevision(scope: Scope, bill: Bill): Promise<void>;
  /**
   * Customers' periods between `earliest` and `latest` (inclusive) with usage
   * and no stored revision, oldest period first, across every tenant.
   */
  periodsToFinalize(earliest: BillingPeriod, latest: BillingPeriod, limit: number): Promise<PeriodToFinalize[]>;

  /** Bytes the database takes (files on disk, or the engine's size of the database). */
  storageBytes(): Promise<number>;

  /** Flushes and closes; no method may be called after. */
  close(): Promise<void>;
}

/** Why the store cannot serve a call for now. */
export type StoreCondition =
  /** The disk (or the database's size limit) is full. */
  | "full"
  /** Another writer holds the database's lock past the wait allowed, or kept winning the race for it. */
  | "locked"
  /** The operating system failed a read, write or sync of the database files. */
  | "io"
  /** The database server could not be reached, or the connection broke before it confirmed. */
  | "unreachable";

/**
 * Thrown by a Store when storage cannot serve the call for now: a fault of
 * the machine or the network, not of the request, that may pass (space freed,
 * the lock released, the database back). Whether the interrupted write
 * committed may be unknown (a sync or a connection failing during COMMIT), so
 * a retry with the same request_id is the way to settle it. The cause is for
 * the log only.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly condition: StoreCondition,
    options: { cause: unknown },
  ) {
    super(`store unavailable (${condition})`, options);
    this.name = "StoreUnavailableError";
  }
}
