import { type BillingPeriod, isFinalized, periodOf } from "./billing-period.js";
import { type Bill, computeBill } from "./bill.js";
import { createBillRevisions, revisionNotFound } from "./bill-revisions.js";
import { createCredits } from "./credits.js";
import type { Clock } from "./clock.js";
import { customerNotFound } from "./customer-directory.js";
import type { Failure } from "./failure.js";
import type { Customer } from "./customer.js";
import { createImmutableCache } from "./immutable-cache.js";
import type { Meter } from "./meter.js";
import { candidateSeries, choosePrices } from "./price-selection.js";
import type { Scope, Store } from "./store.js";
import type { TimeRules } from "./time-rules.js";
import type { UsageTotals } from "./usage-record.js";

/** What billing needs. */
export interface BillingOptions {
  store: Store;
  clock: Clock;
  timeRules: TimeRules;
}

/** The use cases of bills. */
export type Billing = ReturnType<typeof createBilling>;

/**
 * Answers "what does this customer owe" for any period, at any moment, from
 * the running totals: O(lines), however many events there are.
 */
export function createBilling({ store, clock, timeRules }: BillingOptions) {
  // Customers and meters never change once created, so lookups are kept.
  const customers = createImmutableCache<Customer>();
  const meterCache = createImmutableCache<Meter>();
  const findCustomer = (scope: Scope, reference: string) =>
    customers.get(scope, reference, () => store.findCustomer(scope, reference));
  const revisions = createBillRevisions({ store, clock, timeRules, priceTotals, findCustomer });
  const credits = createCredits({ store, clock });

  /** A finalized period's bill is its stored revision (src/domain/bill-revisions.ts); a draft's is computed, with credits that would apply. */
  async function getBill(scope: Scope, customerRef: string, period: BillingPeriod | null, revision = 0): Promise<Bill | Failure> {
    const customer = await findCustomer(scope, customerRef);
    if (customer === undefined) return customerNotFound(customerRef, "customer_id");
    const now = clock.now();
    const billPeriod = period ?? periodOf(now);
    if (isFinalized(billPeriod, now, timeRules.finalizeGraceMs)) return revisions.finalizedBill(scope, customer, billPeriod, revision);
    if (revision !== 0) return revisionNotFound(billPeriod, revision);
    const meterTotals = await store.usageTotals(scope, customer.id, billPeriod);
    return revisions.withDraftCredits(scope, await priceTotals(scope, customer, billPeriod, meterTotals, now));
  }

  /** The bill of a period's meters' running totals (store.usageTotals) at `now`; a dimensioned meter's lines come from its combinations. */
  async function priceTotals(scope: Scope, customer: Customer, billPeriod: BillingPeriod, meterTotals: UsageTotals[], now: number): Promise<Bill> {
    const meters = new Map<string, Meter>();
    for (const { meterKey } of meterTotals) {
      const meter = await meterCache.get(scope, meterKey, () => store.findMeter(scope, meterKey));
      if (meter !== undefined) meters.set(meterKey, meter);
    }
    // A meter with dimensions is billed per combination, from its combinations' totals.
    const dimensioned = (meterKey: string) => (meters.get(meterKey)?.dimensions.length ?? 0) > 0;
    const totals = meterTotals.filter((lineTotals) => !dimensioned(lineTotals.meterKey));
    if (totals.length < meterTotals.length) {
      totals.push(...(await store.combinationTotals(scope, customer.id, billPeriod)).filter((lineTotals) => dimensioned(lineTotals.meterKey)));
    }
    const lines = totals.flatMap((lineTotals) => {
      const meter = meters.get(lineTotals.meterKey);
      return meter === undefined ? [] : [{ meter, dimensionValues: lineTotals.dimensionValues }];
    });
    const effective = await store.effectivePrices(scope, customer.currencyCode, billPeriod, candidateSeries(lines, customer.id));
    return computeBill({
      customer,
      period: billPeriod,
      totals,
      meters,
      prices: choosePrices(lines, customer.id, effective),
      now,
      finalizeGraceMs: timeRules.finalizeGraceMs,
    });
  }

  return {
    /** Finalized bills, credits and corrections (used by the usage ledger's corrections and the background finalizer). */
    revisions,

    /** Credit grants, which bills consume. */
    credits,

    /** The bill of the period `now` falls in. */
    getCurrentBill(scope: Scope, customerRef: string): Promise<Bill | Failure> {
      return getBill(scope, customerRef, null);
    },

    /** The period's bill; for a finalized period, its stored `revision` (0 = the latest). */
    getBill(scope: Scope, customerRef: string, period: BillingPeriod, revision = 0): Promise<Bill | Failure> {
      return getBill(scope, customerRef, period, revision);
    },

    /** The current period's bill and every period with usage, newest first, resuming before `beforePeriod`. */
    async listBills(
      scope: Scope,
      customerRef: string,
      page: { limit: number; beforePeriod: BillingPeriod | null },
    ): Promise<{ bills: Bill[]; nextBeforePeriod: BillingPeriod | null } | Failure> {
      const customer = await findCustomer(scope, customerRef);
      if (customer === undefined) return customerNotFound(customerRef, "customer_id");
      const current = periodOf(clock.now());
      const periods = [...new Set([current, ...(await store.periodsWithUsage(scope, customer.id))])]
        .sort()
        .reverse()
        .filter((period) => page.beforePeriod === null || period < page.beforePeriod);
      const selected = periods.slice(0, page.limit);
      const bills: Bill[] = [];
      for (const period of selected) {
        const bill = await getBill(scope, customer.id, period);
        if ("reason" in bill) return bill;
        bills.push(bill);
      }
      const more = periods.length > selected.length;
      return { bills, nextBeforePeriod: more ? selected[selected.length - 1]! : null };
    },
  };
}
