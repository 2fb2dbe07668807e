import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import { isBillingPeriod } from "../domain/billing-period.js";
import { Decimal } from "../domain/decimal.js";
import { FailureError, type FailureReason, type FieldViolation } from "../domain/failure.js";
import { MAX_METER_PRECISION, METER_KEY_PATTERN } from "../domain/meter.js";
import { isCurrencyCode } from "../domain/money.js";
import { MAX_PRICE_FRACTION_DIGITS, MAX_PRICE_INTEGER_DIGITS } from "../domain/price.js";

/**
 * The shape rules of requests, declared once with zod at the API boundary.
 * Rules that need stored data (a meter's precision, time rules, uniqueness)
 * belong to the domain. Every violation carries the proto field path, e.g.
 * "requests[3].request_id".
 */

/** AIP-155 request ids, required on every mutating call (a step beyond the AIP, which makes them optional). */
export const requestId = z.string().min(1, "request_id is required on every mutating call").max(128, "at most 128 characters");

/** A reference to a customer: Tally id or external_id. */
export const customerReference = z.string().min(1, "is required").max(128, "at most 128 characters");

/** A meter key. */
export const meterKey = z.string().regex(METER_KEY_PATTERN, 'must be lower-case letters, digits and "-", starting with a letter, at most 63 characters');

/** An ISO 4217 currency code. */
export const currencyCode = z.string().refine(isCurrencyCode, 'must be an ISO 4217 currency code such as "USD"');

/** A billing period "YYYY-MM". */
export const billingPeriod = z.string().refine(isBillingPeriod, 'must be a billing period "YYYY-MM"');

/**
 * A decimal of a price: non-negative, at most MAX_PRICE_INTEGER_DIGITS before
 * the point and MAX_PRICE_FRACTION_DIGITS after, else INVALID_DECIMAL. The
 * bounds are checked on the text, before any BigInt is made of it (a 4 MiB
 * string of digits takes seconds to parse); `what` names it in the message.
 */
export function priceDecimal(what: string) {
  return z.string().refine(isPriceDecimal, priceDecimalRule(what)).transform((text) => Decimal.parse(text)!);
}

/** An optional price decimal (a tier's up_to or flat_amount, a package_size): "" for none (null). */
export function optionalPriceDecimal(what: string) {
  return z
    .string()
    .refine((text) => text === "" || isPriceDecimal(text), priceDecimalRule(what))
    .transform((text) => (text === "" ? null : Decimal.parse(text)!));
}

function isPriceDecimal(text: string): boolean {
  return PRICE_DECIMAL.test(text);
}

function priceDecimalRule(what: string) {
  return {
    message: `${what} must be a non-negative decimal string such as "0.25", with at most ${MAX_PRICE_INTEGER_DIGITS} digits before the point and ${MAX_PRICE_FRACTION_DIGITS} after`,
    params: { reason: "INVALID_DECIMAL" },
  };
}

const PRICE_DECIMAL = new RegExp(`^\\d{1,${MAX_PRICE_INTEGER_DIGITS}}(?:\\.\\d{1,${MAX_PRICE_FRACTION_DIGITS}})?$`);

/** page_size: 0 means the listing's default; larger than the maximum is reduced to it (AIP-158). */
export function pageSize(defaultSize: number, maxSize: number) {
  return z
    .number()
    .int()
    .min(0, "must not be negative")
    .transform((size) => (size === 0 ? defaultSize : Math.min(size, maxSize)));
}

/** A protobuf Timestamp between years 1970 and 9999, as epoch milliseconds. */
export const timestamp = z
  .custom<Timestamp>()
  .refine(
    (value) => value.seconds >= 0n && value.seconds <= 253402300799n && value.nanos >= 0 && value.nanos <= 999_999_999,
    "must be a valid timestamp between 1970 and 9999",
  )
  .transform((value) => Number(value.seconds) * 1000 + Math.floor(value.nanos / 1_000_000));

/** Usage attributes: at most 32, keys up to 64 characters, values up to 256. */
export const attributes = z
  .record(z.string().min(1, "attribute keys must not be empty").max(64, "attribute keys are at most 64 characters"), z.string().max(256, "attribute values are at most 256 characters"))
  .refine((map) => Object.keys(map).length <= 32, "at most 32 attributes");

/** A meter's precision. */
export const precision = z.number().int().min(0, "must be 0 or more").max(MAX_METER_PRECISION, `must be at most ${MAX_METER_PRECISION}`);

/**
 * Checks `value` against `schema`: the parsed value, or a thrown
 * FailureError naming every field at fault, with the reason of the first
 * (INVALID_FIELD, unless its rule names another in `params.reason`).
 */
export function validate<Schema extends z.ZodType>(schema: Schema, value: unknown, pathPrefix = ""): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fieldViolations: FieldViolation[] = result.error.issues.map((issue) => ({
    field: fieldPath(pathPrefix, issue.path),
    description: issue.message,
  }));
  const first = fieldViolations[0]!;
  const reason = (result.error.issues[0] as { params?: { reason?: FailureReason } }).params?.reason ?? "INVALID_FIELD";
  throw new FailureError({
    reason,
    message: `invalid ${first.field}: ${first.description}${fieldViolations.length > 1 ? ` (and ${fieldViolations.length - 1} more)` : ""}`,
    fieldViolations,
  });
}

/** ["requests", 3, "requestId"] → "requests[3].request_id" (proto field names, as in google.rpc.BadRequest). */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let text = prefix;
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += `${text === "" ? "" : "."}${String(part).replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}`;
  }
  return text;
}
