import type pg from "pg";
import type { Scope } from "../../domain/store.js";
import type { UsageTotals } from "../../domain/usage-record.js";
import { isMeterTotalsKey, type RunningStateChanges, type TotalsKey, totalsKeyOf, totalsKeyParts, type ValueKey, valueKeyOf, valueKeyParts } from "../running-state.js";
import type { Meter } from "../../domain/meter.js";
import type { BillingPeriod } from "../../domain/billing-period.js";
import type { PriceSeries } from "../../domain/price-selection.js";
import { type Row, TOTALS_VALUE_COLUMNS, toMeter, toTotals, totalsColumns } from "../store-rows.js";

/** A query runner: the pool, or one client inside a transaction. */
export type Queryable = Pick<pg.PoolClient, "query">;

/** The columns of totalsColumns as unnest arrays, with their SQL types. */
const VALUE_ARRAYS = `$6::text[], $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::bigint[]`;
const VALUE_NAMES = TOTALS_VALUE_COLUMNS.join(", ");

function valueArrays(all: UsageTotals[]): unknown[][] {
  const columns: unknown[][] = TOTALS_VALUE_COLUMNS.map(() => []);
  for (const totals of all) totalsColumns(totals).forEach((value, index) => columns[index]!.push(value));
  return columns;
}

/** Writes running totals computed in the transaction back to their (locked) rows, in one statement. */
export async function writeTotals(client: Queryable, changes: { scope: Scope; totals: UsageTotals }[]): Promise<void> {
  if (changes.length === 0) return;
  await client.query(
    `UPDATE usage_totals t SET quantity_sum = u.quantity_sum, event_count = u.event_count, quantity_max = u.quantity_max,
       distinct_count = u.distinct_count, latest_record_id = u.latest_record_id, latest_time = u.latest_time, latest_quantity = u.latest_quantity,
       combination_count = u.combination_count
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], ${VALUE_ARRAYS})
       AS u(tenant_id, customer_id, period, meter_key, dimension_key, ${VALUE_NAMES})
     WHERE t.tenant_id = u.tenant_id AND t.customer_id = u.customer_id AND t.period = u.period AND t.meter_key = u.meter_key`,
    [
      changes.map((change) => change.scope),
      changes.map((change) => change.totals.customerId),
      changes.map((change) => change.totals.period),
      changes.map((change) => change.totals.meterKey),
      changes.map(() => ""),
      ...valueArrays(changes.map((change) => change.totals)),
    ],
  );
}

/**
 * Writes the rest of the running state a transaction changed: combinations'
 * totals and distinct values' live counts, each in one statement. Callers hold
 * the lock of each one's meter totals row (usage_totals), which every writer
 * of them takes first, so these rows need no lock of their own.
 */
export async function writeRunningState(client: Queryable, changes: RunningStateChanges): Promise<void> {
  const combinations = changes.totals.filter(([key]) => !isMeterTotalsKey(key));
  if (combinations.length > 0) {
    const keys = combinations.map(([key]) => totalsKeyParts(key));
    await client.query(
      `INSERT INTO usage_dimension_totals (tenant_id, customer_id, period, meter_key, dimension_key, ${VALUE_NAMES})
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], ${VALUE_ARRAYS})
       ON CONFLICT (tenant_id, customer_id, period, meter_key, dimension_key) DO UPDATE SET
         quantity_sum = excluded.quantity_sum, event_count = excluded.event_count, quantity_max = excluded.quantity_max,
         distinct_count = excluded.distinct_count, latest_record_id = excluded.latest_record_id, latest_time = excluded.latest_time,
         latest_quantity = excluded.latest_quantity, combination_count = excluded.combination_count`,
      ([0, 1, 2, 3, 4].map((column) => keys.map((parts) => parts[column])) as unknown[][]).concat(valueArrays(combinations.map(([, totals]) => totals))),
    );
  }
  if (changes.liveCounts.length > 0) {
    await client.query(
      `INSERT INTO usage_distinct_values (tenant_id, customer_id, period, meter_key, dimension_key, value, live_count)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
       ON CONFLICT (tenant_id, customer_id, period, meter_key, dimension_key, value) DO UPDATE SET live_count = excluded.live_count`,
      ([0, 1, 2, 3, 4, 5].map((column) => changes.liveCounts.map(([key]) => valueKeyParts(key)[column])) as unknown[][]).concat([changes.liveCounts.map(([, live]) => live)]),
    );
  }
}

/** Reads the combinations' totals and the live counts of these keys (meter totals keys, dimension key "", are skipped). */
export async function readRunningState(
  client: Queryable,
  totalsKeys: readonly TotalsKey[],
  valueKeys: readonly ValueKey[],
): Promise<{ totals: Map<string, UsageTotals>; liveCounts: Map<string, number> }> {
  const totals = new Map<string, UsageTotals>();
  const liveCounts = new Map<string, number>();
  const combinations = totalsKeys.filter((key) => !isMeterTotalsKey(key)).map(totalsKeyParts);
  if (combinations.length > 0) {
    const { rows } = await client.query(
      `SELECT * FROM usage_dimension_totals
       WHERE (tenant_id, customer_id, period, meter_key, dimension_key) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]))`,
      [0, 1, 2, 3, 4].map((column) => combinations.map((key) => key[column])),
    );
    for (const row of rows as Row[]) {
      totals.set(totalsKeyOf(String(row.tenant_id), String(row.customer_id), String(row.period), String(row.meter_key), String(row.dimension_key)), toTotals(row));
    }
  }
  if (valueKeys.length > 0) {
    const { rows } = await client.query(
      `SELECT * FROM usage_distinct_values
       WHERE (tenant_id, customer_id, period, meter_key, dimension_key, value)
         IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]))`,
      [0, 1, 2, 3, 4, 5].map((column) => valueKeys.map((key) => valueKeyParts(key)[column])),
    );
    for (const row of rows as Row[]) {
      const totalsKey = totalsKeyOf(String(row.tenant_id), String(row.customer_id), String(row.period), String(row.meter_key), String(row.dimension_key));
      liveCounts.set(valueKeyOf(totalsKey, String(row.value)), Number(row.live_count));
    }
  }
  return { totals, liveCounts };
}

/** A meter's (tenant, key) as one map key, as createMeterLookup's map holds it. */
export function meterLookupKey(tenant: string, meterKey: string): string {
  return `${tenant}\u0000${meterKey}`;
}

/**
 * The meters a process has looked up (they never change once created), so a
 * usage group reads only those it has not seen, in one query.
 */
export function createMeterLookup() {
  const known = new Map<string, Meter>();
  return {
    /** The meters of these (tenant, key) pairs that exist, by meterLookupKey(tenant, key). */
    async load(client: Queryable, pairs: readonly (readonly [string, string])[]): Promise<Map<string, Meter>> {
      if (known.size > 100_000) known.clear();
      const missing = new Map<string, readonly [string, string]>();
      for (const pair of pairs) if (!known.has(meterLookupKey(...pair))) missing.set(meterLookupKey(...pair), pair);
      if (missing.size > 0) {
        const { rows } = await client.query(`SELECT * FROM meters WHERE (tenant_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, [
          [...missing.values()].map(([scope]) => scope),
          [...missing.values()].map(([, key]) => key),
        ]);
        for (const row of rows as Row[]) known.set(meterLookupKey(String(row.tenant_id), String(row.key)), toMeter(row));
      }
      return known;
    },
  };
}

export type MeterLookup = ReturnType<typeof createMeterLookup>;

/**
 * Each price series' highest version effective in `period`, in one statement:
 * one lookup per series through the unique index (tenant_id, meter_key,
 * currency_code, dimension_key, customer_id, version), newest first. Bills
 * (the store's effectivePrices) and bill-total alerts (in the write) read
 * prices through it alike. Text and values, for any query runner.
 */
export function effectivePricesQuery(scope: Scope, currencyCode: string, period: BillingPeriod, series: readonly PriceSeries[]): [string, unknown[]] {
  return [
    `SELECT p.* FROM unnest($4::text[], $5::text[], $6::text[]) AS s(meter_key, dimension_key, customer_id)
     CROSS JOIN LATERAL (
       SELECT * FROM prices
       WHERE tenant_id = $1 AND meter_key = s.meter_key AND currency_code = $2 AND dimension_key = s.dimension_key
         AND customer_id = s.customer_id AND effective_period <= $3
       ORDER BY version DESC LIMIT 1) p`,
    [scope, currencyCode, period, series.map((one) => one.meterKey), series.map((one) => one.dimensionKey), series.map((one) => one.customerId)],
  ];
}
