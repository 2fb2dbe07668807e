import type Database from "better-sqlite3";
import type { Customer } from "../../domain/customer.js";
import { Decimal } from "../../domain/decimal.js";
import type { Aggregation, Meter } from "../../domain/meter.js";
import type { Price, PriceTier } from "../../domain/price.js";
import type { UsageRecord, UsageTotals } from "../../domain/usage-record.js";

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, unknown>;

/**
 * Sets up one connection: busy timeout, WAL, synchronous=FULL (asserted, so
 * an acknowledged write survives a crash or power loss). Both the readers'
 * connection and the writer thread's open the file this way.
 */
export function configureConnection(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const journalMode = db.pragma("journal_mode = WAL", { simple: true });
  if (journalMode !== "wal") throw new Error(`SQLite refused WAL mode (journal_mode is ${String(journalMode)})`);
  db.pragma("synchronous = FULL");
  const synchronous = db.pragma("synchronous", { simple: true });
  if (synchronous !== 2) throw new Error(`SQLite synchronous is ${String(synchronous)}, not FULL (2)`);
}

export const USAGE_COLUMNS = `r.seq, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.event_time,
  r.requested_event_time, r.create_time, r.period, r.attributes, v.reason AS void_reason, v.void_time`;
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
