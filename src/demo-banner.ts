import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

/** The demo's API keys: admin, and read for the dashboard. The server holds them in memory; they are never in the database. */
export interface DemoKeys {
  admin: string;
  read: string;
  /** The file beside the SQLite database that keeps them across restarts; undefined for PostgreSQL (a fresh pair each start). */
  file: string | undefined;
}

/**
 * The demo keys of the database `db`: for a SQLite file, the pair kept in
 * `<db>.demo-keys` (readable by its owner only), made on the first start, so
 * a restart of the same demo keeps the keys people pasted and the dashboard
 * link working; delete the file for a new pair. For PostgreSQL, a fresh pair.
 */
export function demoKeysFor(db: string, sqlite: boolean): DemoKeys {
  if (!sqlite) return { admin: demoKey(), read: demoKey(), file: undefined };
  const file = `${db}.demo-keys`;
  try {
    const kept = JSON.parse(readFileSync(file, "utf8")) as Partial<DemoKeys>;
    if (isDemoKey(kept.admin) && isDemoKey(kept.read)) return { admin: kept.admin, read: kept.read, file };
  } catch {
    // No file yet (or not ours): make the pair below.
  }
  const keys = { admin: demoKey(), read: demoKey() };
  writeFileSync(file, `${JSON.stringify(keys)}\n`, { mode: 0o600 });
  return { ...keys, file };
}

function isDemoKey(value: unknown): value is string {
  return typeof value === "string" && /^tally_demo_[A-Za-z0-9_-]{32}$/.test(value);
}

function demoKey(): string {
  return `tally_demo_${randomBytes(24).toString("base64url")}`;
}

/** What `tally serve --demo` prints once it listens: the keys, the dashboard link and calls to paste. */
export function demoBanner(url: string, port: number, customer: string, seeded: boolean, keys: DemoKeys): string {
  const authority = `localhost:${port}`;
  return `
Tally is serving ${url} (gRPC, gRPC-Web and Connect on one port)${seeded ? "; demo data seeded" : ""}.

Demo keys (every call but health needs one${keys.file === undefined ? "; for this run only" : `; kept in ${keys.file} across restarts, delete it for new ones`}):
  admin: ${keys.admin}
  read:  ${keys.read}
Dashboard (read key in the link): ${url}/#key=${keys.read}

  export TALLY_API_KEY=${keys.admin}
  curl -s ${url}/billing.v1.BillingService/GetCurrentBill -H "authorization: Bearer $TALLY_API_KEY" -H 'content-type: application/json' -d '{"customerId":"${customer}"}'
  curl -s ${url}/billing.v1.UsageService/RecordUsage -H "authorization: Bearer $TALLY_API_KEY" -H 'content-type: application/json' -d '{"requestId":"try-1","customerId":"${customer}","meterKey":"database-hosting","quantity":"12.5"}'
  grpcurl -plaintext -H "authorization: Bearer $TALLY_API_KEY" ${authority} list
  grpcurl -plaintext -H "authorization: Bearer $TALLY_API_KEY" -d '{"customer_id":"${customer}"}' ${authority} billing.v1.BillingService/GetCurrentBill

`;
}
