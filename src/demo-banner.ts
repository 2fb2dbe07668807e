import { randomBytes } from "node:crypto";

/** The demo's API keys: held in memory for one run, never stored, a fresh pair each start. */
export interface DemoKeys {
  admin: string;
  read: string;
}

/** A fresh pair of demo keys. */
export function createDemoKeys(): DemoKeys {
  return { admin: demoKey(), read: demoKey() };
}

function demoKey(): string {
  return `tally_demo_${randomBytes(24).toString("base64url")}`;
}

/** What `tally serve --demo` prints once it listens: the keys, the dashboard link and calls to paste. */
export function demoBanner(url: string, port: number, customer: string, seeded: boolean, keys: DemoKeys): string {
  const authority = `localhost:${port}`;
  return `
Tally is serving ${url} (gRPC, gRPC-Web and Connect on one port)${seeded ? "; demo data seeded" : ""}.

Demo keys for this run only (every call but health needs one):
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
