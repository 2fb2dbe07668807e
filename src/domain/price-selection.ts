import { lineKey } from "./bill.js";
import { candidatePriceKeys, priceDimensionKeyOf } from "./dimensions.js";
import type { Meter } from "./meter.js";
import type { Price } from "./price.js";

/** One series of price versions: what versions are numbered within, besides the currency. */
export interface PriceSeries {
  meterKey: string;
  /** priceDimensionKeyOf(dimension_values); "" for a price without them. */
  dimensionKey: string;
  /** The customer's Tally id; "" for the catalog's. */
  customerId: string;
}

/** A bill line to price: its meter and its combination of dimension values. */
export interface LineToPrice {
  meter: Meter;
  dimensionValues: string[];
}

/**
 * The price series that may price these lines for the customer: per line,
 * every candidate key of its combination (candidatePriceKeys, at most 16),
 * for the customer and for the catalog. Each distinct series once, so a store
 * looks up O(lines x candidate keys) series through its index, never a scan
 * of the tenant's prices.
 */
export function candidateSeries(lines: readonly LineToPrice[], customerId: string): PriceSeries[] {
  const series = new Map<string, PriceSeries>();
  for (const { meter, dimensionValues } of lines) {
    for (const dimensionKey of candidatePriceKeys(meter, dimensionValues)) {
      for (const owner of [customerId, ""]) {
        series.set(seriesKey(meter.key, dimensionKey, owner), { meterKey: meter.key, dimensionKey, customerId: owner });
      }
    }
  }
  return [...series.values()];
}

/**
 * Each line's price among `effective` (the effective version of each
 * candidate series that has one): the most specific dimension_values that
 * the line's combination includes win; at the same dimension_values the
 * customer's price wins over the catalog's; a price without dimension_values
 * covers the rest. Keyed by lineKey.
 */
export function choosePrices(lines: readonly LineToPrice[], customerId: string, effective: readonly Price[]): Map<string, Price> {
  const bySeries = new Map<string, Price>();
  for (const price of effective) {
    bySeries.set(seriesKey(price.meterKey, priceDimensionKeyOf(price.dimensionValues), price.customerId), price);
  }
  const chosen = new Map<string, Price>();
  for (const { meter, dimensionValues } of lines) {
    search: for (const dimensionKey of candidatePriceKeys(meter, dimensionValues)) {
      for (const owner of customerId === "" ? [""] : [customerId, ""]) {
        const price = bySeries.get(seriesKey(meter.key, dimensionKey, owner));
        if (price !== undefined) {
          chosen.set(lineKey(meter.key, dimensionValues), price);
          break search;
        }
      }
    }
  }
  return chosen;
}

/** A series as one map key (meter keys and customer ids hold no U+0000). */
function seriesKey(meterKey: string, dimensionKey: string, customerId: string): string {
  return `${meterKey}\u0000${dimensionKey}\u0000${customerId}`;
}
