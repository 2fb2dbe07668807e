/**
 * Billing periods are UTC calendar months, written "YYYY-MM". A period is open
 * until its end plus a grace time; after that its bill is finalized and no
 * usage, void or price may change it.
 */
export type BillingPeriod = string;

const PERIOD_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Whether `text` is a well-formed period between 1970-01 and 9999-12. */
export function isBillingPeriod(text: string): boolean {
  const match = PERIOD_PATTERN.exec(text);
  return match !== null && Number(match[1]) >= 1970;
}

/** The period an instant (epoch milliseconds) falls in. */
export function periodOf(timeMs: number): BillingPeriod {
  const date = new Date(timeMs);
  return `${String(date.getUTCFullYear()).padStart(4, "0")}-${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** The first instant of the period (inclusive), epoch milliseconds. */
export function periodStart(period: BillingPeriod): number {
  const [year, month] = splitPeriod(period);
  return Date.UTC(year, month - 1, 1);
}

/** The first instant after the period (exclusive), epoch milliseconds. */
export function periodEnd(period: BillingPeriod): number {
  const [year, month] = splitPeriod(period);
  return Date.UTC(year, month, 1);
}

/** The period before `period`. */
export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(periodStart(period) - 1);
}

/** When the period's bill becomes final: its end plus the grace time. */
export function finalizeTime(period: BillingPeriod, finalizeGraceMs: number): number {
  return periodEnd(period) + finalizeGraceMs;
}

/** Whether the period's bill is final at `nowMs`. */
export function isFinalized(period: BillingPeriod, nowMs: number, finalizeGraceMs: number): boolean {
  return nowMs >= finalizeTime(period, finalizeGraceMs);
}

function splitPeriod(period: BillingPeriod): [number, number] {
  const match = PERIOD_PATTERN.exec(period);
  if (match === null) throw new RangeError(`not a billing period: ${period}`);
  return [Number(match[1]), Number(match[2])];
}
