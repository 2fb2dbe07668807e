import { randomBytes } from "node:crypto";
import pg from "pg";
import { fromNanoUnits, toNanoUnits } from "./crash-audit.js";

/**
 * The PostgreSQL server the postgres suite runs against: TALLY_TEST_POSTGRES_URL,
 * which `npm run test:postgres` sets (scripts/with-postgres.sh starts a
 * throwaway cluster on 127.0.0.1). A superuser URL: tests create their own
 * databases on it.
 */
export function testPostgresUrl(): string {
  const url = process.env.TALLY_TEST_POSTGRES_URL;
  if (url === undefined || url === "") {
    throw new Error("TALLY_TEST_POSTGRES_URL is not set: run these tests with `npm run test:postgres`");
  }
  return url;
}

/** Creates a new, empty database on the test server; returns its URL. */
export async function createTestDatabase(prefix = "tally_test"): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(testPostgresUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one query on the database at `url` on a connection of its own (behind the server's back). */
export async function queryDatabase(url: string, sql: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/** What a Tally PostgreSQL database holds, judged behind the server's back. */
export interface PostgresAudit {
  /** request_ids held by more than one usage row (must be empty). */
  duplicateRequestIds: string[];
  /** Every usage row's record id and quantity, by request_id. */
  usage: Map<string, { id: string; quantity: string; voided: boolean }>;
  /** Running totals that differ from the ledger rows minus their voids (must be empty). */
  totalsMismatches: string[];
}

/**
 * Reads the ledger and the running totals directly and recomputes the totals
 * with test/support/crash-audit.ts's own arithmetic (not src/domain's), so a
 * shared bug cannot agree with itself.
 */
export async function auditPostgres(url: string): Promise<PostgresAudit> {
  const duplicateRequestIds = (
    await queryDatabase(url, `SELECT request_id FROM usage_records GROUP BY tenant_id, request_id HAVING count(*) > 1`)
  ).map((row) => String(row.request_id));
  const rows = await queryDatabase(
    url,
    `SELECT r.tenant_id, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.period, v.record_id IS NOT NULL AS voided
     FROM usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id`,
  );
  const usage = new Map<string, { id: string; quantity: string; voided: boolean }>();
  const recomputed = new Map<string, { sum: bigint; count: number; max: bigint }>();
  for (const row of rows) {
    usage.set(String(row.request_id), { id: String(row.id), quantity: String(row.quantity), voided: row.voided === true });
    if (row.voided === true) continue;
    const key = [row.tenant_id, row.customer_id, row.period, row.meter_key].join("|");
    const totals = recomputed.get(key) ?? { sum: 0n, count: 0, max: 0n };
    const quantity = toNanoUnits(String(row.quantity));
    recomputed.set(key, { sum: totals.sum + quantity, count: totals.count + 1, max: quantity > totals.max ? quantity : totals.max });
  }
  const totalsMismatches: string[] = [];
  for (const row of await queryDatabase(url, `SELECT * FROM usage_totals`)) {
    const key = [row.tenant_id, row.customer_id, row.period, row.meter_key].join("|");
    const expected = recomputed.get(key) ?? { sum: 0n, count: 0, max: 0n };
    recomputed.delete(key);
    const stored = { sum: toNanoUnits(String(row.quantity_sum)), count: Number(row.event_count), max: toNanoUnits(String(row.quantity_max)) };
    if (stored.sum !== expected.sum || stored.count !== expected.count || stored.max !== expected.max) {
      totalsMismatches.push(`${key}: stored ${row.quantity_sum}/${row.event_count}/${row.quantity_max}, ledger ${fromNanoUnits(expected.sum)}/${expected.count}/${fromNanoUnits(expected.max)}`);
    }
  }
  for (const key of recomputed.keys()) totalsMismatches.push(`${key}: ledger rows without a usage_totals row`);
  return { duplicateRequestIds, usage, totalsMismatches };
}
