// A Node program outside the repository, run by plain `node` with nothing but
// the packed @tally/client installed: it records usage through a connection
// the test cuts once (the client retries with the same request_id and the
// server replays), is refused a changed retry, and reads the bill.
//   node consumer.mjs <base URL> <customer id>      (TALLY_API_KEY set)
import { BillingError, createBillingClient } from "@tally/client";

const [baseUrl, customerId] = process.argv.slice(2);
let retries = 0;
const client = createBillingClient({
  baseUrl,
  protocol: "grpc",
  apiKey: process.env.TALLY_API_KEY,
  retry: { initialBackoffMs: 20, maxBackoffMs: 100 },
  onRetry: () => retries++,
});
const { record, replayed } = await client.recordUsage({ customerId, meterKey: "calls", quantity: "2" });
let refusal;
try {
  await client.recordUsage({ requestId: record.requestId, customerId, meterKey: "calls", quantity: "3" });
} catch (error) {
  if (!(error instanceof BillingError)) throw error;
  refusal = `${error.codeName} ${error.reason}`;
}
const { bill } = await client.getCurrentBill({ customerId });
console.log(JSON.stringify({ requestId: record.requestId, replayed, retries, refusal, quantity: bill.lines[0]?.quantity, total: bill.total }));
