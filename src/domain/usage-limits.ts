import { type BillingPeriod, periodOf } from "./billing-period.js";
import type { Clock } from "./clock.js";
import type { CreateResult } from "./create-result.js";
import { customerNotFound } from "./customer-directory.js";
import { Decimal } from "./decimal.js";
import { type Failure, failure, requestIdReused } from "./failure.js";
import { meterNotFound } from "./meter.js";
import type { Scope, Store } from "./store.js";
import { meterQuantity } from "./usage-record.js";

/**
 * Usage limits (entitlements): the most a customer may use of a meter per
 * billing period, checked in the same transaction as the write of each event
 * (the stores call `isPastUsageLimit` there, fed by meterQuantityAfter of
 * src/store/running-state.ts), so no concurrency can
 * take the accepted quantity past a limit.
 */

/** A customer's limit on a meter as stored; `limit` null = no limit (removed). */
export interface UsageLimitSetting {
  /** The customer's Tally id. */
  customerId: string;
  meterKey: string;
  /** The most the period's aggregated quantity may reach; null when the limit was removed. */
  limit: Decimal | null;
  /** When the setting was made (epoch ms). */
  updateTime: number;
}

/**
 * THE limit check, fed with the meter's aggregated quantity of the period
 * after the event: the event is refused (usageLimitExceeded) when that would
 * be past the limit. For SUM that is used + quantity > limit; for COUNT
 * used + 1; for MAX, UNIQUE_COUNT and LATEST the aggregated quantity after
 * the event. Every event under a limit goes through it, so it takes no more
 * than the two quantities: the quantity used before the event is read only for
 * the refusal's message.
 */
export function isPastUsageLimit(limit: Decimal, after: Decimal): boolean {
  return after.compare(limit) > 0;
}

/** USAGE_LIMIT_EXCEEDED for an event isPastUsageLimit refused, saying what the period has used. */
export function usageLimitExceeded(
  limit: Decimal,
  used: Decimal,
  after: Decimal,
  subject: { customerId: string; meterKey: string; period: BillingPeriod },
): Failure {
  return failure(
    "USAGE_LIMIT_EXCEEDED",
    `customer ${subject.customerId} has a limit of ${limit} on meter "${subject.meterKey}" per period; ` +
      `${subject.period} has used ${used} and this event would take it to ${after}`,
  );
}

/** A customer's standing on a meter in the current period. */
export interface UsageAllowance {
  /** null when the meter has no limit for the customer. */
  limit: Decimal | null;
  used: Decimal;
  /** limit - used, never below 0; null when there is no limit. */
  remaining: Decimal | null;
  period: BillingPeriod;
}

/** The fields of a SetUsageLimit retry that differ from the setting its request_id made. */
export function usageLimitDifferences(stored: UsageLimitSetting, retry: Omit<UsageLimitSetting, "updateTime">): string[] {
  const differences: string[] = [];
  if (stored.customerId !== retry.customerId) differences.push("limit.customer_id");
  if (stored.meterKey !== retry.meterKey) differences.push("limit.meter_key");
  const sameLimit = stored.limit === null || retry.limit === null ? stored.limit === retry.limit : stored.limit.equals(retry.limit);
  if (!sameLimit) differences.push("limit.limit");
  return differences;
}

/** What the usage limits need. */
export interface UsageLimitsOptions {
  store: Store;
  clock: Clock;
}

/** The use cases of usage limits. */
export type UsageLimits = ReturnType<typeof createUsageLimits>;

/** Sets, removes and reports usage limits. */
export function createUsageLimits({ store, clock }: UsageLimitsOptions) {
  async function customerAndMeter(scope: Scope, customerRef: string, meterKey: string, fieldPrefix: string) {
    const customer = await store.findCustomer(scope, customerRef);
    if (customer === undefined) return customerNotFound(customerRef, `${fieldPrefix}customer_id`);
    const meter = await store.findMeter(scope, meterKey);
    if (meter === undefined) return meterNotFound(meterKey, `${fieldPrefix}meter_key`);
    return { customerId: customer.id, meter };
  }

  return {
    /**
     * Sets (or with a null limit removes) a customer's limit on a meter.
     * Idempotent on request_id: an identical retry replays, a changed one is
     * refused with REQUEST_ID_REUSED.
     */
    async setUsageLimit(
      scope: Scope,
      requestId: string,
      draft: { customerRef: string; meterKey: string; limit: Decimal | null },
    ): Promise<CreateResult<UsageLimitSetting>> {
      const found = await customerAndMeter(scope, draft.customerRef, draft.meterKey, "limit.");
      if ("reason" in found) return found;
      const setting: UsageLimitSetting = { customerId: found.customerId, meterKey: draft.meterKey, limit: draft.limit, updateTime: clock.now() };
      const outcome = await store.setUsageLimit(scope, requestId, setting);
      if (outcome.kind === "created") return { value: outcome.value, replayed: false };
      const changed = usageLimitDifferences(outcome.value, setting);
      return changed.length === 0 ? { value: outcome.value, replayed: true } : requestIdReused(requestId, changed);
    },

    /** The limit, the current period's aggregated quantity and what remains. */
    async getUsageAllowance(scope: Scope, customerRef: string, meterKey: string): Promise<UsageAllowance | Failure> {
      const found = await customerAndMeter(scope, customerRef, meterKey, "");
      if ("reason" in found) return found;
      const period = periodOf(clock.now());
      const setting = await store.findUsageLimit(scope, found.customerId, meterKey);
      const totals = (await store.usageTotals(scope, found.customerId, period)).find((candidate) => candidate.meterKey === meterKey);
      // The meter's own totals, over all its combinations: what the write's check compares.
      const used = meterQuantity(found.meter, totals);
      const limit = setting?.limit ?? null;
      const remaining = limit === null ? null : limit.compare(used) > 0 ? limit.sub(used) : Decimal.ZERO;
      return { limit, used, remaining, period };
    },
  };
}
