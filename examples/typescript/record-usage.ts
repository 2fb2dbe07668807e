// Tally from TypeScript with the project's retrying client: create a
// customer, record usage with a request id, retry it, see the refusals a
// caller must handle, and print the current bill.
//
//   TALLY_API_KEY=<key> npx tsx examples/typescript/record-usage.ts localhost:8080 example-typescript
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { BillingError, createBillingClient } from "tally/client";

const [target = "localhost:8080", customerRef = "example-typescript"] = process.argv.slice(2);
// Every call but health needs an API key.
const client = createBillingClient({ baseUrl: `http://${target}`, protocol: "grpc", apiKey: process.env.TALLY_API_KEY });

function refusal(error: unknown): string {
  if (!(error instanceof BillingError)) throw error;
  return `${error.codeName} ${error.reason} fields=${error.fieldViolations.map((violation) => violation.field).join(",")}`;
}

// The catalog: fixed request ids make these safe to run again.
await client.createMeter({
  requestId: "example-meter",
  meter: { key: "example-requests", displayName: "Example requests", unit: "request", aggregation: Aggregation.SUM, wholeUnits: true },
});
await client.createPrice({
  requestId: "example-price",
  price: { meterKey: "example-requests", currencyCode: "USD", tiers: [{ upTo: 1000, unitAmount: "0.01" }, { unitAmount: "0.005" }] },
});
await client.createCustomer({
  requestId: `example-customer-${customerRef}`,
  customer: { externalId: customerRef, displayName: `Example ${customerRef}`, currencyCode: "USD" },
});

const request = { requestId: `example-usage-${customerRef}`, customerId: customerRef, meterKey: "example-requests", quantity: 1500 };
const first = await client.recordUsage(request);
console.log(`recorded ${first.record?.id} replayed=${first.replayed}`);
const retry = await client.recordUsage(request);
console.log(`retried: replayed=${retry.replayed} same_record=${retry.record?.id === first.record?.id}`);

await client.recordUsage({ ...request, quantity: 1501 }).catch((error: unknown) => console.log(`changed retry refused: ${refusal(error)}`));
await client
  .recordUsage({ requestId: `example-bad-${customerRef}`, customerId: customerRef, meterKey: "example-requests", quantity: "-5" })
  .catch((error: unknown) => console.log(`bad input refused: ${refusal(error)}`));

const { bill } = await client.getCurrentBill({ customerId: customerRef });
console.log(`bill ${bill?.period} ${bill?.currencyCode} total ${bill?.total}`);
for (const line of bill?.lines ?? []) console.log(`  ${line.meterKey} ${line.quantity} ${line.amount}`);
