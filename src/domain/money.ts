import { Decimal } from "./decimal.js";

/** Every ISO 4217 code this runtime's ICU data knows, e.g. "USD", "JPY". */
const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

/** Whether `code` is a known ISO 4217 currency code (upper case). */
export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN_CURRENCIES.has(code);
}

/**
 * Digits after the point of the currency's minor unit (USD 2, JPY 0, KWD 3),
 * from ICU's currency data rather than a table of our own.
 */
export function minorUnitDigits(currencyCode: string): number {
  let digits = MINOR_UNIT_DIGITS.get(currencyCode);
  if (digits === undefined) {
    digits = new Intl.NumberFormat("en", { style: "currency", currency: currencyCode }).resolvedOptions().maximumFractionDigits ?? 2;
    MINOR_UNIT_DIGITS.set(currencyCode, digits);
  }
  return digits;
}

/** Building an Intl.NumberFormat costs about a millisecond: ask ICU once per currency. */
const MINOR_UNIT_DIGITS = new Map<string, number>();

/**
 * The one place an amount is rounded: to the currency's minor unit, half to
 * even, written with exactly that many digits ("12.50", "1000").
 */
export function roundToMinorUnit(amount: Decimal, currencyCode: string): string {
  const digits = minorUnitDigits(currencyCode);
  return amount.roundHalfEven(digits).toFixed(digits);
}
