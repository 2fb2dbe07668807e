import { type Failure, failure } from "./failure.js";
import type { Meter } from "./meter.js";

/**
 * Where one usage event counts, besides its meter's totals (DESIGN.md, "Meters"):
 * the combination of its meter's dimension values it is aggregated under, and
 * the value a UNIQUE_COUNT meter counts. Worked out from the meter and the
 * event's attributes alone, so the ledger (which refuses an event missing one),
 * both stores (which keep the running state) and the recomputation from the
 * ledger all agree.
 */
export interface AggregationKeys {
  /** The event's values of the meter's dimensions, in the meter's order; [] for a meter without dimensions. */
  dimensionValues: string[];
  /** dimensionKeyOf(dimensionValues), worked out once with them: the combination's totals row's key. */
  dimensionKey: string;
  /** unique_count: the event's value of the unique attribute; null for every other aggregation. */
  uniqueValue: string | null;
  /** latest: the totals track the latest event. */
  tracksLatest: boolean;
}

/** The keys of an event with these attributes on `meter`; DIMENSION_REQUIRED (field `attributes`) when one is missing. */
export function aggregationKeysOf(meter: Meter, attributes: Record<string, string>): AggregationKeys | Failure {
  const missing = missingAggregationAttribute(meter, attributes);
  if (missing !== undefined) return missing;
  const dimensionValues = meter.dimensions.map((dimension) => attributes[dimension]!);
  const uniqueValue = meter.aggregation === "unique_count" ? attributes[meter.uniqueAttribute]! : null;
  return { dimensionValues, dimensionKey: dimensionKeyOf(dimensionValues), uniqueValue, tracksLatest: meter.aggregation === "latest" };
}

/**
 * DIMENSION_REQUIRED (field `attributes`) for the first of the meter's
 * dimensions or unique attribute the event's attributes lack: the ledger's
 * check of every event, which needs no keys built.
 */
export function missingAggregationAttribute(meter: Meter, attributes: Record<string, string>): Failure | undefined {
  for (const dimension of meter.dimensions) {
    if (!Object.hasOwn(attributes, dimension)) return dimensionRequired(meter, dimension);
  }
  if (meter.aggregation === "unique_count" && !Object.hasOwn(attributes, meter.uniqueAttribute)) return dimensionRequired(meter, meter.uniqueAttribute);
  return undefined;
}

/**
 * The most combinations of dimension values with live usage one customer's
 * meter may have in a period, by default (`--max-dimension-combinations`):
 * each is a bill line, so this bounds a bill at (meters x it) lines.
 */
export const DEFAULT_MAX_DIMENSION_COMBINATIONS = 1_000;

/** DIMENSION_COMBINATIONS_EXCEEDED: an event would open one combination more than `limit`; nothing was recorded. */
export function combinationsExceeded(meterKey: string, limit: number): Failure {
  return failure(
    "DIMENSION_COMBINATIONS_EXCEEDED",
    `meter "${meterKey}" already has ${limit} combinations of dimension values with usage for this customer in this period, the most allowed`,
    "attributes",
  );
}

function dimensionRequired(meter: Meter, attribute: string): Failure {
  return failure("DIMENSION_REQUIRED", `meter "${meter.key}" needs the attribute "${attribute}" on every event`, "attributes");
}

/**
 * How a combination of dimension values is stored (usage_dimension_totals,
 * usage_distinct_values): its values as a JSON array in the meter's order.
 * "" is the meter's own totals over every combination.
 */
export function dimensionKeyOf(dimensionValues: readonly string[]): string {
  return dimensionValues.length === 0 ? "" : JSON.stringify(dimensionValues);
}

/** The values a dimension key holds. */
export function dimensionValuesOf(dimensionKey: string): string[] {
  return dimensionKey === "" ? [] : (JSON.parse(dimensionKey) as string[]);
}

/** A combination's values by dimension, e.g. {"region": "eu-west-1"}; {} for a meter without dimensions. */
export function dimensionsOf(meter: Meter, dimensionValues: readonly string[]): Record<string, string> {
  const dimensions: Record<string, string> = {};
  meter.dimensions.forEach((dimension, index) => {
    if (index < dimensionValues.length) dimensions[dimension] = dimensionValues[index]!;
  });
  return dimensions;
}

/** Bill lines' order within a meter: by the first dimension's value, then the next (UTF-16 code units, as the keys sort). */
export function compareDimensionValues(a: readonly string[], b: readonly string[]): number {
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    if (a[index]! !== b[index]!) return a[index]! < b[index]! ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * How a price's dimension_values are stored and looked up: its entries sorted
 * by key, as JSON; "" for a price without them. Versions are numbered per
 * (meter, currency, this key, customer).
 */
export function priceDimensionKeyOf(dimensionValues: Record<string, string>): string {
  const entries = Object.entries(dimensionValues).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? "" : JSON.stringify(entries);
}

/** The dimension_values a stored price key holds. */
export function priceDimensionValuesOf(priceDimensionKey: string): Record<string, string> {
  return priceDimensionKey === "" ? {} : Object.fromEntries(JSON.parse(priceDimensionKey) as [string, string][]);
}

/**
 * The price keys that may price a combination, best first: every subset of
 * its (dimension, value) pairs, the most specific (most pairs) first, and
 * among equally specific ones the subset holding the meter's earlier
 * dimensions first; the last is "" (a price without dimension_values). At
 * most 2^MAX_METER_DIMENSIONS = 16 keys.
 */
export function candidatePriceKeys(meter: Meter, dimensionValues: readonly string[]): string[] {
  const count = Math.min(meter.dimensions.length, dimensionValues.length);
  const byName = dimensionsByName(meter.dimensions);
  return subsetsBestFirst(count).map((mask) => {
    const entries: [string, string][] = [];
    // Entries sorted by key, as priceDimensionKeyOf writes them.
    for (const index of byName) {
      if (index < count && mask & (1 << (count - 1 - index))) entries.push([meter.dimensions[index]!, dimensionValues[index]!]);
    }
    return entries.length === 0 ? "" : JSON.stringify(entries);
  });
}

/**
 * The subsets of `count` dimensions as bit masks, best first: most members
 * first, then those holding earlier dimensions (bit count - 1 - i stands for
 * dimension i, so a larger mask holds earlier ones). Worked out once per count.
 */
const SUBSETS: number[][] = [];
function subsetsBestFirst(count: number): number[] {
  let subsets = SUBSETS[count];
  if (subsets === undefined) {
    const members = (mask: number) => mask.toString(2).replaceAll("0", "").length;
    subsets = Array.from({ length: 1 << count }, (_, mask) => mask).sort((a, b) => members(b) - members(a) || b - a);
    SUBSETS[count] = subsets;
  }
  return subsets;
}

/** A meter's dimension indexes in the order of their names (as price keys sort them), kept per list of dimensions. */
const NAME_ORDERS = new WeakMap<readonly string[], number[]>();
function dimensionsByName(dimensions: readonly string[]): number[] {
  let order = NAME_ORDERS.get(dimensions);
  if (order === undefined) {
    order = dimensions.map((_, index) => index).sort((a, b) => (dimensions[a]! < dimensions[b]! ? -1 : dimensions[a]! > dimensions[b]! ? 1 : 0));
    NAME_ORDERS.set(dimensions, order);
  }
  return order;
}

/** Whether a record's attributes include every one of `wanted` (a listing's or daily usage's filter). */
export function attributesInclude(attributes: Record<string, string>, wanted: Record<string, string>): boolean {
  for (const key in wanted) {
    if (!Object.hasOwn(attributes, key) || attributes[key] !== wanted[key]) return false;
  }
  return true;
}
