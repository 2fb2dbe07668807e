import type { Bill } from "./bill.js";
import { type BillingPeriod, isFinalized, periodEnd, periodOf, previousPeriod } from "./billing-period.js";
import type { Clock } from "./clock.js";
import { allocateCredits, amountsDue } from "./credits.js";
import type { Customer } from "./customer.js";
import { Decimal } from "./decimal.js";
import { type Failure, failure } from "./failure.js";
import { type Correction, type CorrectionOutcome, type Scope, type Store, StoreUnavailableError } from "./store.js";
import type { TimeRules } from "./time-rules.js";
import type { UsageTotals } from "./usage-record.js";

/**
 * Bill revisions. A draft bill is computed from the running totals whenever
 * it is asked for. The first time a finalized period's bill is needed (a
 * read, or the background finalizer) it is computed once more and stored as
 * revision 1, in the transaction that consumes the customer's credits for it;
 * a unique key on (tenant, customer, period, revision) makes that happen
 * exactly once, whichever process gets there first. A correction (admin
 * only) writes its usage or void together with the period's next revision,
 * pending, in one transaction; its bill is then computed from the running
 * totals and written. While a revision is pending no other correction of
 * the period may write (it writes the pending bill itself, then tries
 * again), so the totals a pending revision is computed from are exactly
 * those after its own correction, whoever computes it: after a crash, the
 * next read or correction of the period writes it. No revision is lost or
 * duplicated, and a written revision never changes.
 *
 * Credits on a corrected revision: what finalization consumed stays applied,
 * capped at the corrected total; a correction never consumes credits again
 * and never gives any back to the grants.
 */

/** How many periods back (before the newest finalized one) the background finalizer looks; older ones finalize when read. */
export const FINALIZER_LOOKBACK_PERIODS = 12;

/** How many times a correction finds another correction's revision pending (and writes it) before giving up. */
const CORRECTION_ATTEMPTS = 50;

/** Decimals inside a stored bill, as JSON: {"$decimal": "1.5"}. */
const DECIMAL_KEY = "$decimal";

/**
 * A bill as the stores keep a revision: JSON of the whole bill, decimals as
 * {"$decimal": text}. Generic over the bill's shape, so fields added to bills
 * and lines are kept without a change here.
 */
export function billDocument(bill: Bill): string {
  return JSON.stringify(bill, function (this: Record<string, unknown>, key, value: unknown) {
    const original = this[key];
    return original instanceof Decimal ? { [DECIMAL_KEY]: original.toString() } : value;
  });
}

/** The bill a billDocument holds. */
export function billOfDocument(document: string): Bill {
  return JSON.parse(document, (_, value: unknown) => {
    if (value !== null && typeof value === "object" && DECIMAL_KEY in value) {
      return Decimal.parse(String((value as Record<string, unknown>)[DECIMAL_KEY]), true)!;
    }
    return value;
  }) as Bill;
}

/** The newest period whose bill is final at `now`. */
export function newestFinalizedPeriod(now: number, timeRules: TimeRules): BillingPeriod {
  let period = previousPeriod(periodOf(now));
  while (!isFinalized(period, now, timeRules.finalizeGraceMs)) period = previousPeriod(period);
  return period;
}

/** What bill revisions need. */
export interface BillRevisionsOptions {
  store: Store;
  clock: Clock;
  timeRules: TimeRules;
  /** The bill of `totals` in the customer's period at `now`, priced as every bill is (createBilling's). */
  priceTotals(scope: Scope, customer: Customer, period: BillingPeriod, totals: UsageTotals[], now: number): Promise<Bill>;
  /** A customer by Tally id or external_id. */
  findCustomer(scope: Scope, reference: string): Promise<Customer | undefined>;
}

/** The use cases of finalized bills, their credits and their corrections. */
export type BillRevisions = ReturnType<typeof createBillRevisions>;

export function createBillRevisions({ store, clock, timeRules, priceTotals, findCustomer }: BillRevisionsOptions) {
  /**
   * The newest period this process's finalizer has swept completely. No new
   * period without a revision appears at or before it (after finalization,
   * only corrections change a period, and they store revision 1 first), so
   * later sweeps start after it: a sweep is then no query at all until
   * another period becomes final. A restart sweeps the lookback once again.
   */
  let sweptThrough: BillingPeriod | null = null;

  /**
   * Stores revision 1 of the period (consuming credits), unless it exists. A
   * period without usage owes nothing and uses no credit: its revision 1 is
   * answered without being stored (so reading old empty periods writes
   * nothing), unless `storeEmpty` (a correction needs it stored first).
   */
  async function finalizeOne(scope: Scope, customer: Customer, period: BillingPeriod, storeEmpty = false): Promise<Bill> {
    const existing = await store.findBillRevision(scope, customer.id, period, 1);
    if (existing !== undefined) return existing;
    const now = clock.now();
    const totals = await store.usageTotals(scope, customer.id, period);
    const bill = await priceTotals(scope, customer, period, totals, now);
    if (totals.length === 0 && !storeEmpty) return { ...bill, status: "finalized", revision: 1 };
    return store.finalizeBill(scope, bill);
  }

  /**
   * Revision 1 of a finalized period. The customer's earlier finalized
   * periods are finalized first, oldest first, so credits are consumed in
   * period order however the periods happen to be asked for.
   */
  async function firstRevision(scope: Scope, customer: Customer, period: BillingPeriod, storeEmpty = false): Promise<Bill> {
    const existing = await store.findBillRevision(scope, customer.id, period, 1);
    if (existing !== undefined) return existing;
    const now = clock.now();
    const earlier = (await store.periodsWithUsage(scope, customer.id))
      .filter((candidate) => candidate < period && isFinalized(candidate, now, timeRules.finalizeGraceMs))
      .sort();
    for (const candidate of earlier) await finalizeOne(scope, customer, candidate);
    return finalizeOne(scope, customer, period, storeEmpty);
  }

  /**
   * Writes the period's pending revision, if it has one: the running totals
   * priced (nothing else may change them while it is pending), with the
   * credits finalization consumed capped at the new total.
   */
  async function writePending(scope: Scope, customer: Customer, period: BillingPeriod): Promise<void> {
    const pending = await store.pendingBillRevision(scope, customer.id, period);
    if (pending === undefined) return;
    const first = await store.findBillRevision(scope, customer.id, period, 1);
    if (first === undefined) throw new Error(`revision ${pending} of ${period} is pending without a revision 1`);
    const now = clock.now();
    const priced = await priceTotals(scope, customer, period, await store.usageTotals(scope, customer.id, period), now);
    await store.writePendingRevision(scope, {
      ...priced,
      status: "finalized",
      revision: pending,
      asOfTime: now,
      ...amountsDue(priced.total, Decimal.parse(first.creditsApplied)!, customer.currencyCode),
    });
  }

  return {
    /** A finalized period's stored bill: `revision` (0 = the latest), storing revision 1 first if it is not yet. */
    async finalizedBill(scope: Scope, customer: Customer, period: BillingPeriod, revision: number): Promise<Bill | Failure> {
      const first = await firstRevision(scope, customer, period);
      if (revision === 1) return first;
      await writePending(scope, customer, period);
      const found = await store.findBillRevision(scope, customer.id, period, revision);
      if (found !== undefined) return found;
      // The latest of a period without usage is its revision 1, answered but not stored.
      return revision === 0 ? first : revisionNotFound(period, revision);
    },

    /** A draft with the credits that would pay for it now (nothing is consumed). */
    async withDraftCredits(scope: Scope, bill: Bill): Promise<Bill> {
      const grants = await store.usableCreditGrants(scope, bill.customerId);
      if (grants.length === 0) return bill;
      const { applied } = allocateCredits(Decimal.parse(bill.total)!, grants, bill.period);
      return { ...bill, ...amountsDue(bill.total, applied, bill.currencyCode) };
    },

    /**
     * Writes a correction into a finalized period (storing its revision 1
     * first if need be) with the period's next revision, and that revision's bill.
     */
    async correct(scope: Scope, customerId: string, period: BillingPeriod, correction: Correction): Promise<CorrectionOutcome> {
      const customer = await findCustomer(scope, customerId);
      if (customer === undefined) throw new Error(`customer ${customerId} vanished`);
      await firstRevision(scope, customer, period, true);
      for (let attempt = 1; attempt <= CORRECTION_ATTEMPTS; attempt++) {
        const outcome = await store.correctUsage(scope, customer.id, period, correction);
        // Another correction's revision is pending (in flight, or left by a crash): write it, then go again.
        if (outcome.kind === "pending") {
          await writePending(scope, customer, period);
          continue;
        }
        if (outcome.kind === "corrected") await writePending(scope, customer, period);
        return outcome;
      }
      throw new StoreUnavailableError("locked", { cause: new Error(`corrections of ${period} kept finding a revision pending`) });
    },

    /**
     * Finalizes the bills that are final by time and not stored yet (at most
     * `limit` customer periods); the background finalizer calls it. Answers
     * how many it stored; a period that fails is reported and left for the next sweep.
     */
    async finalizeDue(limit: number, onError: (error: unknown, due: { scope: Scope; customerId: string; period: BillingPeriod }) => void): Promise<number> {
      const latest = newestFinalizedPeriod(clock.now(), timeRules);
      let earliest = latest;
      for (let back = 0; back < FINALIZER_LOOKBACK_PERIODS; back++) earliest = previousPeriod(earliest);
      if (sweptThrough !== null && sweptThrough >= earliest) earliest = periodOf(periodEnd(sweptThrough));
      if (earliest > latest) return 0;
      const due = await store.periodsToFinalize(earliest, latest, limit);
      let finalized = 0;
      let failed = false;
      for (const pair of due) {
        try {
          const customer = await findCustomer(pair.scope, pair.customerId);
          if (customer === undefined) continue;
          await firstRevision(pair.scope, customer, pair.period);
          finalized++;
        } catch (error) {
          failed = true;
          onError(error, pair);
        }
      }
      // Every period through `latest` is done: until another period becomes final, sweeps need not look again.
      if (due.length < limit && !failed) sweptThrough = latest;
      return finalized;
    },
  };
}

/** BILL_REVISION_NOT_FOUND: the period's bill has no such revision. */
export function revisionNotFound(period: BillingPeriod, revision: number): Failure {
  return failure("BILL_REVISION_NOT_FOUND", `the bill of ${period} has no revision ${revision}`, "revision");
}
