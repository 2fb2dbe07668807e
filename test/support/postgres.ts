import { randomBytes } from "node:crypto";
import pg from "pg";

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
