import type pg from "pg";
import type { Scope } from "../../domain/store.js";
import type { UsageTotals } from "../../domain/usage-record.js";

/** A query runner: the pool, or one client inside a transaction. */
export type Queryable = Pick<pg.PoolClient, "query">;

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
