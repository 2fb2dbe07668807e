/**
 * Display formats. Quantities and amounts arrive as exact decimal strings and
 * are only ever reformatted as strings here: turning them into numbers could
 * change a bill's digits.
 */

/** "1234567.891" → "1,234,567.891"; the digits themselves are untouched. */
export function groupDigits(decimal: string): string {
  const [whole = "", fraction] = decimal.split(".", 2);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** An amount with its currency, e.g. "1,234.50 USD": every amount on a page is one currency's, but which one must show. */
export function formatMoney(amount: string, currencyCode: string): string {
  return `${groupDigits(amount === "" ? "0" : amount)} ${currencyCode}`;
}

/** A quantity with its unit, e.g. "805.125 GB-hour". */
export function formatQuantity(quantity: string, unit: string): string {
  return unit === "" ? groupDigits(quantity) : `${groupDigits(quantity)} ${unit}`;
}

/**
 * A moment in UTC, e.g. "2026-11-21 17:00:59 UTC". Billing periods are UTC
 * months, so showing every time in UTC keeps an event and its period visibly
 * consistent whatever the viewer's time zone.
 */
export function formatUtc(date: Date, withSeconds = true): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`;
}

/** "2026-11" → "November 2026": headings name a period as people do; URLs and the API keep "YYYY-MM". */
export function periodName(period: string): string {
  const [year, month] = period.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(year!, month! - 1, 1)),
  );
}

/** Every day of a period ("YYYY-MM-DD"), so a chart leaves days without usage as gaps instead of skipping them. */
export function daysOfPeriod(period: string): string[] {
  const [year, month] = period.split("-").map(Number);
  const count = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return Array.from({ length: count }, (_, index) => `${period}-${String(index + 1).padStart(2, "0")}`);
}

/** The period ("YYYY-MM") of `now` in UTC: periods are UTC months, so the local date would be wrong near midnight. */
export function currentPeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}
