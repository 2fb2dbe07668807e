import { isFinalized, type BillingPeriod } from "./billing-period.js";
import { type Failure, failure } from "./failure.js";

/** The rules that decide which periods still accept changes. */
export interface TimeRules {
  /** How long after a period ends its bill stays open for late usage, voids and prices. */
  finalizeGraceMs: number;
  /** How far ahead of the server clock an event_time may be. */
  maxEventTimeAheadMs: number;
}

/**
 * How far ahead of the server clock the contract lets an event_time be: five
 * minutes of clock skew. (The finalize grace is a setting: its default is in
 * src/config.ts, with DEFAULT_TIME_RULES.)
 */
export const MAX_EVENT_TIME_AHEAD_MS = 5 * 60 * 1000;

/** Refuses an event_time too far in the future. */
export function checkEventTime(eventTime: number, now: number, rules: TimeRules): Failure | undefined {
  if (eventTime > now + rules.maxEventTimeAheadMs) {
    return failure(
      "EVENT_TIME_OUT_OF_RANGE",
      `event_time ${new Date(eventTime).toISOString()} is more than ${rules.maxEventTimeAheadMs / 1000} s ahead of the server clock (${new Date(now).toISOString()})`,
      "event_time",
    );
  }
  return undefined;
}

/** Refuses a change to a period whose bill is final. */
export function checkPeriodOpen(period: BillingPeriod, now: number, rules: TimeRules, field: string): Failure | undefined {
  if (isFinalized(period, now, rules.finalizeGraceMs)) {
    return failure("BILL_FINALIZED", `billing period ${period} is finalized and can no longer change`, field);
  }
  return undefined;
}
