import { type BillingPeriod, periodOf, periodStart } from "./billing-period.js";
import type { Clock } from "./clock.js";
import { customerNotFound } from "./customer-directory.js";
import type { Customer } from "./customer.js";
import { Decimal } from "./decimal.js";
import { type Failure, failure, requestIdReused } from "./failure.js";
import { newId } from "./ids.js";
import { minorUnitDigits, roundToMinorUnit } from "./money.js";
import type { Page, PageQuery, Scope, Store } from "./store.js";

/**
 * Credits: amounts granted to a customer that its bills consume. A grant
 * applies to the bills of the periods from the one it was created in, until
 * it is used up or its expire_time is at or before the period's start. Grants
 * expiring first are used first (no expiry last; ties by creation). A draft
 * bill shows what would apply now; finalizing a bill consumes it, exactly
 * once, in the transaction that stores the bill's first revision, so
 * `remainingAmount` counts finalized bills only.
 */
export interface CreditGrant {
  /** "credit_" and a UUIDv7, so ids sort by creation. */
  id: string;
  customerId: string;
  /** Greater than 0, with at most the currency's minor-unit digits. */
  amount: Decimal;
  currencyCode: string;
  /** Epoch ms; null for never. */
  expireTime: number | null;
  reason: string;
  /** What finalized bills have not consumed yet. */
  remainingAmount: Decimal;
  createTime: number;
}

/** A grant as a caller asks for it, its shape already checked. */
export interface CreditGrantDraft {
  /** The customer's Tally id or external_id. */
  customerRef: string;
  amount: Decimal;
  /** "" for the customer's currency. */
  currencyCode: string;
  expireTime: number | null;
  reason: string;
}

/** What credits cover of one bill: the amount, and which grants give how much of it. */
export interface CreditAllocation {
  applied: Decimal;
  uses: { grantId: string; amount: Decimal }[];
}

/** Whether a grant may pay for a bill of `period`: created in it or before, not expired by its start, not used up. */
export function appliesTo(grant: CreditGrant, period: BillingPeriod): boolean {
  return (
    periodOf(grant.createTime) <= period &&
    (grant.expireTime === null || grant.expireTime > periodStart(period)) &&
    !grant.remainingAmount.isZero()
  );
}

/**
 * The credits that pay for a bill of `total` in `period`, out of `grants`:
 * min(total, what the applicable grants hold), taken from the grant expiring
 * first (never-expiring ones last; ties by creation time, then id). The one
 * place the order of consumption is decided; both stores call it in the
 * transaction that finalizes a bill.
 */
export function allocateCredits(total: Decimal, grants: readonly CreditGrant[], period: BillingPeriod): CreditAllocation {
  const usable = grants.filter((grant) => appliesTo(grant, period)).sort(consumptionOrder);
  let left = total;
  const uses: CreditAllocation["uses"] = [];
  for (const grant of usable) {
    if (left.isZero()) break;
    const amount = left.min(grant.remainingAmount);
    uses.push({ grantId: grant.id, amount });
    left = left.sub(amount);
  }
  return { applied: total.sub(left), uses };
}

function consumptionOrder(a: CreditGrant, b: CreditGrant): number {
  if (a.expireTime !== b.expireTime) {
    if (a.expireTime === null) return 1;
    if (b.expireTime === null) return -1;
    return a.expireTime - b.expireTime;
  }
  if (a.createTime !== b.createTime) return a.createTime - b.createTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** What a bill's customer pays: total - credits, never below 0, both written to the currency's minor unit. */
export function amountsDue(total: string, creditsApplied: Decimal, currencyCode: string): { creditsApplied: string; amountDue: string } {
  const billed = Decimal.parse(total)!;
  const applied = creditsApplied.min(billed);
  return { creditsApplied: roundToMinorUnit(applied, currencyCode), amountDue: roundToMinorUnit(billed.sub(applied), currencyCode) };
}

/** The fields in which a retried GrantCredit differs from the grant its request_id created. */
export function creditGrantDifferences(stored: CreditGrant, draft: CreditGrantDraft & { customerId: string; currencyCode: string }): string[] {
  const differences: string[] = [];
  if (stored.customerId !== draft.customerId) differences.push("grant.customer_id");
  if (!stored.amount.equals(draft.amount)) differences.push("grant.amount");
  if (stored.currencyCode !== draft.currencyCode) differences.push("grant.currency_code");
  if (stored.expireTime !== draft.expireTime) differences.push("grant.expire_time");
  if (stored.reason !== draft.reason) differences.push("grant.reason");
  return differences;
}

/** What credits need. */
export interface CreditsOptions {
  store: Store;
  clock: Clock;
}

/** The use cases of credit grants. */
export type Credits = ReturnType<typeof createCredits>;

/** Grants credits (idempotent on request_id) and lists them. */
export function createCredits({ store, clock }: CreditsOptions) {
  return {
    async grantCredit(scope: Scope, requestId: string, draft: CreditGrantDraft): Promise<{ value: CreditGrant; replayed: boolean } | Failure> {
      const customer = await store.findCustomer(scope, draft.customerRef);
      if (customer === undefined) return customerNotFound(draft.customerRef, "grant.customer_id");
      const refusal = checkGrant(draft, customer, clock.now());
      if (refusal !== undefined) return refusal;
      const now = clock.now();
      const grant: CreditGrant = {
        id: newId("credit"),
        customerId: customer.id,
        amount: draft.amount,
        currencyCode: customer.currencyCode,
        expireTime: draft.expireTime,
        reason: draft.reason,
        remainingAmount: draft.amount,
        createTime: now,
      };
      const outcome = await store.createCreditGrant(scope, requestId, grant);
      if (outcome.kind === "created") return { value: outcome.value, replayed: false };
      const changed = creditGrantDifferences(outcome.value, { ...draft, customerId: customer.id, currencyCode: customer.currencyCode });
      return changed.length === 0 ? { value: outcome.value, replayed: true } : requestIdReused(requestId, changed);
    },

    /** A customer's grants, oldest first. */
    async listCreditGrants(scope: Scope, customerRef: string, page: PageQuery): Promise<Page<CreditGrant> | Failure> {
      const customer = await store.findCustomer(scope, customerRef);
      if (customer === undefined) return customerNotFound(customerRef, "customer_id");
      return store.listCreditGrants(scope, customer.id, page);
    },
  };
}

/** The rules of a grant that need its customer: the customer's currency and its minor unit, and an expiry still ahead. */
function checkGrant(draft: CreditGrantDraft, customer: Customer, now: number): Failure | undefined {
  if (draft.currencyCode !== "" && draft.currencyCode !== customer.currencyCode) {
    return failure(
      "CREDIT_CURRENCY_MISMATCH",
      `grant.currency_code ${draft.currencyCode} is not the customer's currency ${customer.currencyCode}; leave it empty or send ${customer.currencyCode}`,
      "grant.currency_code",
    );
  }
  const digits = minorUnitDigits(customer.currencyCode);
  if (!draft.amount.roundHalfEven(digits).equals(draft.amount)) {
    return failure(
      "INVALID_FIELD",
      `grant.amount ${draft.amount} has more digits after the point than ${customer.currencyCode}'s minor unit (${digits})`,
      "grant.amount",
    );
  }
  if (draft.expireTime !== null && draft.expireTime <= now) {
    return failure("INVALID_FIELD", `grant.expire_time ${new Date(draft.expireTime).toISOString()} is not in the future`, "grant.expire_time");
  }
  return undefined;
}
