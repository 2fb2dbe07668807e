import { type BillingPeriod, periodOf } from "./billing-period.js";
import type { Clock } from "./clock.js";
import { customerNotFound } from "./customer-directory.js";
import { createImmutableCache } from "./immutable-cache.js";
import { createDailyUsage, type DailyUsage } from "./daily-usage.js";
import { Decimal } from "./decimal.js";
import { attributesInclude, missingAggregationAttribute } from "./dimensions.js";
import { type Failure, failure, requestIdReused, withFieldPrefix } from "./failure.js";
import { newId } from "./ids.js";
import { type Meter, meterNotFound, parseQuantity } from "./meter.js";
import type { BillRevisions } from "./bill-revisions.js";
import type { CorrectionOutcome, Page, PageQuery, Scope, Store, UsageFilter, UsageWrite, UsageWriteOutcome, VoidOutcome } from "./store.js";
import { checkEventTime, checkPeriodOpen, type TimeRules } from "./time-rules.js";
import type { NewUsageRecord, UsageRecord } from "./usage-record.js";

/** A usage event as a caller sent it, its shape already checked. */
export interface UsageRequest {
  requestId: string;
  /** The customer's Tally id or external_id. */
  customerRef: string;
  meterKey: string;
  /** The decimal text as sent; its precision is judged against the meter. */
  quantity: string;
  /** Epoch ms; null to use the receipt time. */
  eventTime: number | null;
  attributes: Record<string, string>;
  /** A correction into a finalized period (the caller's role was checked): recorded with a new bill revision. */
  correction?: boolean;
}

/** What became of one usage request. */
export type RecordOutcome =
  | { kind: "recorded"; record: UsageRecord }
  | { kind: "replayed"; record: UsageRecord }
  | { kind: "refused"; failure: Failure };

/** What the ledger needs. */
export interface UsageLedgerOptions {
  store: Store;
  clock: Clock;
  timeRules: TimeRules;
  /** Writes corrections into finalized periods with their bill revisions (billing's). Without it, corrections are refused like any late event. */
  revisions?: BillRevisions;
}

/** The use cases of the usage ledger. */
export type UsageLedger = ReturnType<typeof createUsageLedger>;

/**
 * Records usage exactly once per (scope, request_id), lists it, and voids it.
 * Checks that need no transaction run first (customer, meter, quantity); the
 * store then, in one transaction, claims each request_id — replaying an
 * identical retry, refusing a changed one — and writes the record and its
 * totals, which also settles races between concurrent duplicates.
 */
export function createUsageLedger({ store, clock, timeRules, revisions }: UsageLedgerOptions) {
  // Customers and meters never change once created, so lookups are kept.
  const customerIds = createImmutableCache<string>();
  const meters = createImmutableCache<Meter>();

  function customerIdOf(scope: Scope, customerRef: string): Promise<string | undefined> {
    return customerIds.get(scope, customerRef, async () => (await store.findCustomer(scope, customerRef))?.id);
  }

  function meterOf(scope: Scope, meterKey: string): Promise<Meter | undefined> {
    return meters.get(scope, meterKey, () => store.findMeter(scope, meterKey));
  }

  /** The customer ids and meters a batch names, each looked up once (most are cached). */
  async function lookUp(scope: Scope, requests: UsageRequest[]) {
    const customers = new Map<string, string | undefined>();
    const meterOfKey = new Map<string, Meter | undefined>();
    for (const request of requests) {
      if (!customers.has(request.customerRef)) customers.set(request.customerRef, await customerIdOf(scope, request.customerRef));
      if (!meterOfKey.has(request.meterKey)) meterOfKey.set(request.meterKey, await meterOf(scope, request.meterKey));
    }
    return { customers, meters: meterOfKey };
  }

  function prepare(request: UsageRequest, customerId: string | undefined, meter: Meter | undefined, now: number): UsageWrite | RecordOutcome {
    if (customerId === undefined) {
      return refused(customerNotFound(request.customerRef, "customer_id"));
    }
    if (meter === undefined) {
      return refused(meterNotFound(request.meterKey, "meter_key"));
    }
    const quantity = parseQuantity(request.quantity, meter);
    if (!(quantity instanceof Decimal)) return refused(quantity);
    // A meter with dimensions or a unique attribute needs them on every event (meters never change, so neither does the verdict).
    if (meter.dimensions.length > 0 || meter.aggregation === "unique_count") {
      const missing = missingAggregationAttribute(meter, request.attributes);
      if (missing !== undefined) return refused(missing);
    }
    const eventTime = request.eventTime ?? now;
    const record: NewUsageRecord = {
      id: newId("rec"),
      requestId: request.requestId,
      customerId,
      meterKey: meter.key,
      quantity,
      eventTime,
      requestedEventTime: request.eventTime,
      createTime: now,
      period: eventTime === now ? nowPeriod(now) : periodOf(eventTime),
      attributes: request.attributes,
    };
    // An identical retry is answered with the original record even if the
    // time rules would refuse it today (its period may have closed since):
    // the store applies this refusal only to a request_id it has not seen.
    const refusal = checkEventTime(eventTime, now, timeRules) ?? checkPeriodOpen(record.period, now, timeRules, "event_time");
    return refusal === undefined ? { record } : { record, refusal };
  }

  /** The period of `now`, worked out once per millisecond rather than once per event of a batch. */
  let lastNow = Number.NaN;
  let lastPeriod = "";
  function nowPeriod(now: number): BillingPeriod {
    if (now !== lastNow) {
      lastNow = now;
      lastPeriod = periodOf(now);
    }
    return lastPeriod;
  }

  /**
   * Records a batch. Each outcome is in request order. When `atomic`, the
   * first refusal (its field paths prefixed "requests[i]") refuses the whole
   * batch and nothing is written.
   */
  async function recordBatch(scope: Scope, requests: UsageRequest[], atomic: boolean): Promise<RecordOutcome[] | Failure> {
    const now = clock.now();
    const known = await lookUp(scope, requests);
    const prepared = requests.map((request) => prepare(request, known.customers.get(request.customerRef), known.meters.get(request.meterKey), now));

    if (atomic) {
      const index = prepared.findIndex((item) => "kind" in item && item.kind === "refused");
      if (index >= 0) return withFieldPrefix((prepared[index] as { failure: Failure }).failure, `requests[${index}]`);
    }
    const toWrite = prepared.filter((item): item is UsageWrite => !("kind" in item));
    const written = toWrite.length === 0 ? [] : await store.recordUsage(scope, toWrite, atomic);
    if (atomic) {
      const index = written.findIndex((outcome) => outcome.kind === "refused");
      if (index >= 0) {
        const position = prepared.indexOf(toWrite[index]!);
        return withFieldPrefix((written[index] as { failure: Failure }).failure, `requests[${position}]`);
      }
    }
    let next = 0;
    return prepared.map((item): RecordOutcome => {
      return "kind" in item ? item : nonAtomicOutcome(written[next++]!);
    });
  }

  return {
    /** Records one usage event: recordBatch's work without its per-batch maps and arrays (the unary RPC's path). */
    async recordUsage(scope: Scope, request: UsageRequest): Promise<RecordOutcome> {
      const now = clock.now();
      const customerId = customerIds.peek(scope, request.customerRef) ?? (await customerIdOf(scope, request.customerRef));
      const meter = meters.peek(scope, request.meterKey) ?? (await meterOf(scope, request.meterKey));
      const prepared = prepare(request, customerId, meter, now);
      if ("kind" in prepared) return prepared;
      if (request.correction === true && prepared.refusal?.reason === "BILL_FINALIZED" && revisions !== undefined) {
        return correctionOutcome(await recordCorrection(revisions, scope, prepared.record));
      }
      const [outcome] = await store.recordUsage(scope, [prepared], false);
      return nonAtomicOutcome(outcome!);
    },

    recordBatch,

    async getUsageRecord(scope: Scope, id: string): Promise<UsageRecord | Failure> {
      return (await store.getUsageRecord(scope, id)) ?? failure("USAGE_RECORD_NOT_FOUND", `usage record "${id}" does not exist`, "id");
    },

    /** Lists a customer's records, most recently recorded first. */
    async listUsageRecords(
      scope: Scope,
      filter: Omit<UsageFilter, "customerId"> & { customerRef: string },
      page: PageQuery,
    ): Promise<Page<UsageRecord> | Failure> {
      const customer = await store.findCustomer(scope, filter.customerRef);
      if (customer === undefined) return customerNotFound(filter.customerRef, "customer_id");
      const { customerRef: _, ...rest } = filter;
      return store.listUsageRecords(scope, { ...rest, customerId: customer.id }, page);
    },

    /**
     * A customer's usage in a period (default: the current one) per UTC day
     * and meter; with `attributes`, only the records whose attributes include
     * all of them.
     */
    async dailyUsage(
      scope: Scope,
      customerRef: string,
      period: BillingPeriod | null,
      attributes: Record<string, string> = {},
    ): Promise<{ customerId: string; period: BillingPeriod; days: DailyUsage[] } | Failure> {
      const customer = await store.findCustomer(scope, customerRef);
      if (customer === undefined) return customerNotFound(customerRef, "customer_id");
      const usagePeriod = period ?? periodOf(clock.now());
      const meters = new Map<string, Meter>();
      const days = createDailyUsage((meterKey) => meters.get(meterKey));
      // A page at a time, so a period of a million events holds neither the event loop nor their memory.
      for await (const records of store.liveUsageRecords(scope, customer.id, usagePeriod)) {
        for (const record of records) {
          if (!attributesInclude(record.attributes, attributes)) continue;
          if (!meters.has(record.meterKey)) {
            const meter = await meterOf(scope, record.meterKey);
            if (meter === undefined) throw new Error(`usage names an unknown meter "${record.meterKey}"`);
            meters.set(record.meterKey, meter);
          }
          days.add(record);
        }
      }
      return { customerId: customer.id, period: usagePeriod, days: days.days() };
    },

    /**
     * Voids the record created with `requestId`. The void is a new ledger
     * entry; the record itself is never rewritten.
     */
    async voidUsage(scope: Scope, requestId: string, reason: string, correction = false): Promise<RecordOutcome> {
      const record = await store.findUsageByRequestId(scope, requestId);
      if (record === undefined) {
        return refused(failure("USAGE_RECORD_NOT_FOUND", `no usage record has request_id "${requestId}"`, "request_id"));
      }
      if (record.voided) {
        return record.voidReason === reason
          ? { kind: "replayed", record }
          : refused(requestIdReused(requestId, ["reason"]));
      }
      const now = clock.now();
      const closed = checkPeriodOpen(record.period, now, timeRules, "request_id");
      if (closed !== undefined && !(correction && revisions !== undefined)) return refused(closed);
      const outcome =
        closed === undefined ? await store.voidUsage(scope, record.id, reason, now) : await voidCorrection(revisions!, scope, record, reason, now);
      if (outcome.kind === "refused") return outcome;
      if (outcome.kind === "voided") return { kind: "recorded", record: outcome.record };
      return outcome.record.voidReason === reason
        ? { kind: "replayed", record: outcome.record }
        : refused(requestIdReused(requestId, ["reason"]));
    },
  };
}

/** Records an event into its finalized period with the bill's next revision. */
function recordCorrection(revisions: BillRevisions, scope: Scope, record: NewUsageRecord): Promise<CorrectionOutcome> {
  return revisions.correct(scope, record.customerId, record.period, { kind: "record", write: { record } });
}

/** Voids a record of a finalized period with the bill's next revision. */
async function voidCorrection(revisions: BillRevisions, scope: Scope, record: UsageRecord, reason: string, now: number): Promise<VoidOutcome | { kind: "refused"; failure: Failure }> {
  const outcome = await revisions.correct(scope, record.customerId, record.period, { kind: "void", recordId: record.id, reason, voidTime: now });
  switch (outcome.kind) {
    case "corrected":
      return { kind: "voided", record: outcome.record };
    case "already-voided":
    case "refused":
      return outcome;
    default:
      throw new Error(`a void's correction answered ${outcome.kind}`);
  }
}

/** A correction's outcome as a usage request's. */
function correctionOutcome(outcome: CorrectionOutcome): RecordOutcome {
  switch (outcome.kind) {
    case "corrected":
      return { kind: "recorded", record: outcome.record };
    case "replayed":
    case "refused":
      return outcome;
    default:
      throw new Error(`a recorded correction answered ${outcome.kind}`);
  }
}

/** A store outcome of a write that was not atomic, which the store never aborts. */
function nonAtomicOutcome(outcome: UsageWriteOutcome): RecordOutcome {
  if (outcome.kind === "aborted") throw new Error("an event was aborted outside an atomic write");
  return outcome;
}

function refused(reason: Failure): RecordOutcome {
  return { kind: "refused", failure: reason };
}
