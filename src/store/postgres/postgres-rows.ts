import type pg from "pg";
import type { ApiKey, Role } from "../../domain/api-key.js";
import type { Customer } from "../../domain/customer.js";
import { Decimal } from "../../domain/decimal.js";
import type { Aggregation, Meter } from "../../domain/meter.js";
import type { Price, PriceTier } from "../../domain/price.js";
import type { Scope } from "../../domain/store.js";
import type { UsageRecord, UsageTotals } from "../../domain/usage-record.js";

/** A row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** A query runner: the pool, or one client inside a transaction. */
export type Queryable = Pick<pg.PoolClient, "query">;

/** The columns of a usage record with its void, selected FROM USAGE_FROM. */
export const USAGE_COLUMNS = `r.seq, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.event_time,
  r.requested_event_time, r.create_time, r.period, r.attributes, v.reason AS void_reason, v.void_time`;
/** Usage records joined with their voids. */
export const USAGE_FROM = `usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id`;

/** Writes running totals computed in the transaction back to their (locked) rows, in one statement. */
export async function writeTotals(client: Queryable, changes: { scope: Scope; totals: UsageTotals }[]): Promise<void> {
  if (changes.length === 0) return;
  await client.query(
    `UPDATE usage_totals t SET quantity_sum = u.quantity_sum, event_count = u.event_count, quantity_max = u.quantity_max
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
       AS u(tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max)
     WHERE t.tenant_id = u.tenant_id AND t.customer_id = u.customer_id AND t.period = u.period AND t.meter_key = u.meter_key`,
    [
      changes.map((change) => change.scope),
      changes.map((change) => change.totals.customerId),
      changes.map((change) => change.totals.period),
      changes.map((change) => change.totals.meterKey),
      changes.map((change) => change.totals.sum.toString()),
      changes.map((change) => change.totals.count),
      changes.map((change) => change.totals.max.toString()),
    ],
  );
}

// Row converters. node-postgres hands BIGINT columns over as strings (times
// are epoch milliseconds, well within a safe integer) and TEXT as strings;
// quantities never pass through a number.

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
    createTime: Number(row.create_time),
  };
}

export function tiersToJson(tiers: PriceTier[]): string {
  return JSON.stringify(tiers.map((tier) => [tier.upTo?.toString() ?? null, tier.unitAmount.toString()]));
}

export function toPrice(row: Row): Price {
  const tiers = (JSON.parse(String(row.tiers)) as [string | null, string][]).map(([upTo, unitAmount]) => ({
    upTo: upTo === null ? null : Decimal.parse(upTo)!,
    unitAmount: Decimal.parse(unitAmount)!,
  }));
  return {
    id: String(row.id),
    meterKey: String(row.meter_key),
    currencyCode: String(row.currency_code),
    tiers,
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

export function toTotals(row: Row): UsageTotals {
  return {
    customerId: String(row.customer_id),
    meterKey: String(row.meter_key),
    period: String(row.period),
    sum: Decimal.parse(String(row.quantity_sum))!,
    count: Number(row.event_count),
    max: Decimal.parse(String(row.quantity_max))!,
  };
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
