import type { ApiKey, Role } from "../domain/api-key.js";
import type { Bill } from "../domain/bill.js";
import { billOfDocument } from "../domain/bill-revisions.js";
import type { CreditGrant } from "../domain/credits.js";
import type { Customer } from "../domain/customer.js";
import { Decimal } from "../domain/decimal.js";
import type { Aggregation, Meter } from "../domain/meter.js";
import type { Price, PriceTier, PricingModel } from "../domain/price.js";
import { dimensionValuesOf, priceDimensionValuesOf } from "../domain/dimensions.js";
import type { UsageLimitSetting } from "../domain/usage-limits.js";
import type { UsageRecord, UsageTotals } from "../domain/usage-record.js";

/**
 * The rows of the schema both stores share (src/store/sqlite/migrations.ts and
 * src/store/postgres/migrations.ts lay out the same tables and columns), and
 * their conversion to domain values. Both drivers hand integers over as
 * numbers or strings (PostgreSQL's BIGINT; times are epoch milliseconds, well
 * within a safe integer) and text as strings, so every converter goes through
 * String() and Number(); quantities never pass through a number.
 */

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

/** The columns of a usage record with its void, selected FROM USAGE_FROM. */
export const USAGE_COLUMNS = `r.seq, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.event_time,
  r.requested_event_time, r.create_time, r.period, r.attributes, v.reason AS void_reason, v.void_time`;
/** Usage records joined with their voids. */
export const USAGE_FROM = `usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id`;

export function toCustomer(row: Row): Customer {
  return {
    id: String(row.id),
    externalId: String(row.external_id),
    displayName: String(row.display_name),
    currencyCode: String(row.currency_code),
    createTime: Number(row.create_time),
  };
}

export function toMeter(row: Row): Meter {
  return {
    key: String(row.key),
    displayName: String(row.display_name),
    unit: String(row.unit),
    aggregation: String(row.aggregation) as Aggregation,
    precision: Number(row.precision),
    uniqueAttribute: String(row.unique_attribute ?? ""),
    dimensions: JSON.parse(String(row.dimensions ?? "[]")) as string[],
    createTime: Number(row.create_time),
  };
}

/** Tiers as JSON text: [up_to, unit_amount] each, with flat_amount third when the tier has one. */
export function tiersToJson(tiers: PriceTier[]): string {
  return JSON.stringify(
    tiers.map((tier) => {
      const stored = [tier.upTo?.toString() ?? null, tier.unitAmount.toString()];
      return tier.flatAmount === null ? stored : [...stored, tier.flatAmount.toString()];
    }),
  );
}

export function toPrice(row: Row): Price {
  const tiers = (JSON.parse(String(row.tiers)) as [string | null, string, string?][]).map(([upTo, unitAmount, flatAmount]) => ({
    upTo: upTo === null ? null : Decimal.parse(upTo)!,
    unitAmount: Decimal.parse(unitAmount)!,
    flatAmount: flatAmount === undefined ? null : Decimal.parse(flatAmount)!,
  }));
  return {
    id: String(row.id),
    meterKey: String(row.meter_key),
    currencyCode: String(row.currency_code),
    model: String(row.model) as PricingModel,
    tiers,
    packageSize: row.package_size === null ? null : Decimal.parse(String(row.package_size))!,
    dimensionValues: priceDimensionValuesOf(String(row.dimension_key ?? "")),
    customerId: String(row.customer_id ?? ""),
    effectivePeriod: String(row.effective_period),
    version: Number(row.version),
    createTime: Number(row.create_time),
  };
}

export function toUsageRecord(row: Row): UsageRecord {
  return {
    id: String(row.id),
    requestId: String(row.request_id),
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    quantity: Decimal.parse(String(row.quantity))!,
    eventTime: Number(row.event_time),
    requestedEventTime: row.requested_event_time === null ? null : Number(row.requested_event_time),
    createTime: Number(row.create_time),
    period: String(row.period),
    attributes: JSON.parse(String(row.attributes)) as Record<string, string>,
    voided: row.void_time !== null,
    voidReason: row.void_reason === null ? "" : String(row.void_reason),
    voidTime: row.void_time === null ? null : Number(row.void_time),
  };
}

/** A row of usage_totals (a meter's own) or of usage_dimension_totals (one combination's, by its dimension_key). */
export function toTotals(row: Row): UsageTotals {
  return {
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    period: String(row.period),
    dimensionValues: dimensionValuesOf(String(row.dimension_key ?? "")),
    sum: Decimal.parse(String(row.quantity_sum))!,
    count: Number(row.event_count),
    max: Decimal.parse(String(row.quantity_max))!,
    distinct: Number(row.distinct_count ?? 0),
    latest:
      row.latest_record_id === null || row.latest_record_id === undefined
        ? null
        : { recordId: String(row.latest_record_id), eventTime: Number(row.latest_time), quantity: Decimal.parse(String(row.latest_quantity))! },
    combinations: Number(row.combination_count ?? 0),
  };
}

/** The columns a totals row stores besides its key, in the order totalsColumns gives them. */
export const TOTALS_VALUE_COLUMNS = [
  "quantity_sum",
  "event_count",
  "quantity_max",
  "distinct_count",
  "latest_record_id",
  "latest_time",
  "latest_quantity",
  "combination_count",
] as const;

/** A totals row's values for TOTALS_VALUE_COLUMNS. */
export function totalsColumns(totals: UsageTotals): [string, number, string, number, string | null, number | null, string | null, number] {
  return [
    totals.sum.toString(),
    totals.count,
    totals.max.toString(),
    totals.distinct,
    totals.latest?.recordId ?? null,
    totals.latest?.eventTime ?? null,
    totals.latest?.quantity.toString() ?? null,
    totals.combinations,
  ];
}

export function toApiKey(row: Row): ApiKey {
  return {
    id: String(row.id),
    tenant: String(row.tenant_id),
    role: String(row.role) as Role,
    name: String(row.name),
    createTime: Number(row.create_time),
    revokeTime: row.revoke_time === null ? null : Number(row.revoke_time),
  };
}

/** The most parsed prices a PriceCache keeps. */
const PRICE_CACHE_ENTRIES = 20_000;

/**
 * Parsed prices by id. A price version never changes once written, and a
 * bill of a thousand 32-tier prices would otherwise parse 64,000 decimals
 * (and make as much garbage) on every read. Bounded: past its size it starts afresh.
 */
export function createPriceCache() {
  const prices = new Map<string, Price>();
  return {
    /** The row as a Price, parsed once per id. */
    price(row: Row): Price {
      const id = String(row.id);
      let price = prices.get(id);
      if (price === undefined) {
        if (prices.size >= PRICE_CACHE_ENTRIES) prices.clear();
        price = toPrice(row);
        prices.set(id, price);
      }
      return price;
    },
  };
}

/** A usage limit's row (usage_limits, or usage_limit_requests for what a request_id set); '' = removed. */
export function toUsageLimitSetting(row: Row): UsageLimitSetting {
  const limit = String(row.usage_limit);
  return {
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    limit: limit === "" ? null : Decimal.parse(limit)!,
    updateTime: Number(row.update_time),
  };
}

// ---- Credits and bill revisions (issue 19) ----

export function toCreditGrant(row: Row): CreditGrant {
  return {
    id: String(row.id),
    customerId: String(row.customer_id),
    amount: Decimal.parse(String(row.amount))!,
    currencyCode: String(row.currency_code),
    expireTime: row.expire_time === null ? null : Number(row.expire_time),
    reason: String(row.reason),
    remainingAmount: Decimal.parse(String(row.remaining_amount))!,
    createTime: Number(row.create_time),
  };
}

/** A stored revision: the bill's document, with the revision and credit columns (which the document of revision 1 predates). */
export function toStoredBill(row: Row): Bill {
  return {
    ...billOfDocument(String(row.bill)),
    status: "finalized",
    revision: Number(row.revision),
    total: String(row.total),
    creditsApplied: String(row.credits_applied),
    amountDue: String(row.amount_due),
  };
}
