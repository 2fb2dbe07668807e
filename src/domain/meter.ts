import { Decimal } from "./decimal.js";
import { type Failure, failure } from "./failure.js";

/**
 * How a period's events become one billable quantity: their sum, their count,
 * the largest, the number of distinct values of the meter's unique attribute,
 * or the quantity of the latest by event time (ties: the one recorded last).
 */
export type Aggregation = "sum" | "count" | "max" | "unique_count" | "latest";

/** A meter as stored. */
export interface Meter {
  key: string;
  displayName: string;
  unit: string;
  aggregation: Aggregation;
  /** Digits allowed after the point in a usage quantity (0 to 9); 0 = whole units only (the API's whole_units). */
  precision: number;
  /** unique_count: the attribute whose distinct values are counted; "" for every other aggregation. */
  uniqueAttribute: string;
  /** Attribute keys (at most MAX_METER_DIMENSIONS) whose values split the usage into combinations; [] for none. */
  dimensions: string[];
  createTime: number;
}

/** What a caller asks for when creating a meter. */
export type MeterDraft = Omit<Meter, "createTime">;

/** The most digits after the point a meter may allow. */
export const MAX_METER_PRECISION = 9;

/** The most digits before the point of one usage quantity. */
export const MAX_QUANTITY_INTEGER_DIGITS = 18;

/** The most dimensions a meter may name. */
export const MAX_METER_DIMENSIONS = 4;

/** Attribute keys a meter may name (dimensions, unique_attribute): a letter, then letters, digits, '_', '-' or '.'. */
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Meter keys: lower-case words joined by '-', like "database-hosting". */
export const METER_KEY_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Parses a usage quantity for `meter`: a non-negative decimal string with at
 * most 18 digits before the point and at most the meter's precision after it.
 * Extra digits are refused, never rounded away.
 */
export function parseQuantity(text: string, meter: Meter, field = "quantity"): Decimal | Failure {
  const quantity = Decimal.parse(text);
  if (quantity === undefined) {
    return failure("INVALID_QUANTITY", `quantity "${text}" is not a non-negative decimal number such as "58" or "0.25"`, field);
  }
  if (quantity.integerDigits > MAX_QUANTITY_INTEGER_DIGITS) {
    return failure("INVALID_QUANTITY", `quantity "${text}" has more than ${MAX_QUANTITY_INTEGER_DIGITS} digits before the point`, field);
  }
  if (quantity.scale > meter.precision) {
    return failure(
      "INVALID_QUANTITY",
      `quantity "${text}" has ${quantity.scale} digits after the point; meter "${meter.key}" allows ${meter.precision}`,
      field,
    );
  }
  return quantity;
}

/** METER_NOT_FOUND for a key, at the request's `field`. */
export function meterNotFound(key: string, field: string): Failure {
  return failure("METER_NOT_FOUND", `meter "${key}" does not exist`, field);
}

/** The fields of `draft` that differ from the stored meter, for REQUEST_ID_REUSED. */
export function meterDifferences(stored: Meter, draft: MeterDraft): string[] {
  const differences: string[] = [];
  if (stored.key !== draft.key) differences.push("meter.key");
  if (stored.displayName !== draft.displayName) differences.push("meter.display_name");
  if (stored.unit !== draft.unit) differences.push("meter.unit");
  if (stored.aggregation !== draft.aggregation) differences.push("meter.aggregation");
  if (stored.precision !== draft.precision) differences.push("meter.precision");
  if (stored.uniqueAttribute !== draft.uniqueAttribute) differences.push("meter.unique_attribute");
  if (stored.dimensions.join("\u0000") !== draft.dimensions.join("\u0000") || stored.dimensions.length !== draft.dimensions.length) {
    differences.push("meter.dimensions");
  }
  return differences;
}
