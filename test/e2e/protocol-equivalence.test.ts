import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import { type Protocol } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";
import type { TallyClients } from "../support/clients.js";

/** The protocols compared: gRPC (on the fast path where the server has it), gRPC-Web and Connect, binary and JSON. */
const COMPARED: Protocol[] = ["grpc", "grpc-web-h2", "grpc-web-h1", "connect-binary-h2", "connect-json-h1"];

/** A call's outcome as data: the answer, or the status with every detail's type and bytes. */
type Outcome = { answer: unknown } | { code: number; message: string; details: { type: string; value: string }[] };

async function outcomeOf(call: Promise<unknown>): Promise<Outcome> {
  try {
    return { answer: JSON.parse(JSON.stringify(await call, (_, value: unknown) => (typeof value === "bigint" ? `${value}n` : value))) };
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    return {
      code: error.code,
      message: error.rawMessage,
      details: error.details.map((detail) => {
        assert.ok("type" in detail, "details from the wire carry their type name and bytes");
        return { type: detail.type, value: Buffer.from(detail.value).toString("base64") };
      }),
    };
  }
}

/**
 * Calls whose answers must not depend on the protocol: reads, replays of
 * recorded writes (the same record, `replayed`), and refusals of every kind.
 * Each is made once per protocol against the same data.
 */
function script(customerId: string, recordId: string): [string, (clients: TallyClients) => Promise<unknown>][] {
  return [
    ["GetCustomer", (c) => c.customers.getCustomer({ id: customerId })],
    ["GetCustomer by external_id", (c) => c.customers.getCustomer({ id: "acme" })],
    ["GetCustomer unknown", (c) => c.customers.getCustomer({ id: "nobody" })],
    ["ListCustomers", (c) => c.customers.listCustomers({ pageSize: 10 })],
    ["ListMeters", (c) => c.catalog.listMeters({})],
    ["ListPrices", (c) => c.catalog.listPrices({ meterKey: "egress" })],
    ["CreateMeter replayed", (c) => c.catalog.createMeter({ requestId: "fixture-meter-hosting", meter: { key: "hosting", unit: "GB-hour", aggregation: 1, precision: 3, displayName: "hosting" } })],
    ["RecordUsage replayed", (c) => c.usage.recordUsage({ requestId: "seed-1", customerId, meterKey: "egress", quantity: "250" })],
    ["RecordUsage request_id reused", (c) => c.usage.recordUsage({ requestId: "seed-1", customerId, meterKey: "egress", quantity: "251" })],
    ["RecordUsage bad quantity and meter", (c) => c.usage.recordUsage({ requestId: "bad-1", customerId, meterKey: "Not A Key", quantity: "-1" })],
    ["RecordUsage unknown customer", (c) => c.usage.recordUsage({ requestId: "bad-2", customerId: "nobody", meterKey: "egress", quantity: "1" })],
    ["RecordUsage NUL", (c) => c.usage.recordUsage({ requestId: "bad\u0000", customerId, meterKey: "egress", quantity: "1" })],
    [
      "BatchRecordUsage replayed, with a refused item",
      (c) =>
        c.usage.batchRecordUsage({
          requests: [
            { requestId: "seed-2", customerId, meterKey: "hosting", quantity: "12.5" },
            { requestId: "bad-3", customerId, meterKey: "hosting", quantity: "1.23456" },
          ],
        }),
    ],
    ["GetUsageRecord", (c) => c.usage.getUsageRecord({ id: recordId })],
    ["ListUsageRecords", (c) => c.usage.listUsageRecords({ customerId, pageSize: 10 })],
    ["GetDailyUsage", (c) => c.usage.getDailyUsage({ customerId, period: "2026-11" })],
    ["VoidUsage replayed", (c) => c.usage.voidUsage({ requestId: "seed-3", reason: "duplicate" })],
    ["GetCurrentBill", (c) => c.billing.getCurrentBill({ customerId })],
    ["GetBill", (c) => c.billing.getBill({ customerId, period: "2026-11" })],
    ["GetBill bad period", (c) => c.billing.getBill({ customerId, period: "2026-13" })],
    ["ListBills", (c) => c.billing.listBills({ customerId })],
  ];
}

/** Runs the script over every compared protocol; returns the outcomes by call, asserting each call's are equal. */
async function outcomesOf(tally: TestTally): Promise<Map<string, Outcome>> {
  const seed = tally.clients("grpc");
  const { customerId } = await createCatalogFixture(seed);
  const { record } = await seed.usage.recordUsage({ requestId: "seed-1", customerId, meterKey: "egress", quantity: "250" });
  await seed.usage.recordUsage({ requestId: "seed-2", customerId, meterKey: "hosting", quantity: "12.5" });
  await seed.usage.recordUsage({ requestId: "seed-3", customerId, meterKey: "hosting", quantity: "1" });
  await seed.usage.voidUsage({ requestId: "seed-3", reason: "duplicate" });
  const outcomes = new Map<string, Outcome>();
  for (const [name, call] of script(customerId, record!.id)) {
    const byProtocol = new Map<Protocol, Outcome>();
    for (const protocol of COMPARED) byProtocol.set(protocol, await outcomeOf(call(tally.clients(protocol))));
    const expected = byProtocol.get("grpc")!;
    for (const [protocol, outcome] of byProtocol) assert.deepEqual(outcome, expected, `${name}: ${protocol} answered otherwise than gRPC`);
    outcomes.set(name, expected);
  }
  return outcomes;
}

/** Ids are random per server: compare them by their kind only. */
function withoutIds(outcomes: Map<string, Outcome>): unknown {
  return JSON.parse(JSON.stringify([...outcomes]).replace(/\b(cus|price|rec)_[0-9a-zA-Z]+/g, "$1_<id>"));
}

// One set of calls, equal answers: over gRPC with the fast path on and off,
// gRPC-Web and Connect (binary and JSON, HTTP/1.1 and HTTP/2). Statuses are
// compared with every error detail's bytes, so the fast path's status
// trailers are held to connect-node's.
describe("the same request gets the same answer on every protocol", () => {
  let fast: TestTally;
  let generic: TestTally;
  before(async () => {
    fast = await startTestTally({ grpcFastPath: true });
    generic = await startTestTally({ grpcFastPath: false });
  });
  after(async () => {
    await fast.stop();
    await generic.stop();
  });

  it("with the gRPC fast path on, and off, alike", async () => {
    const onFastPath = await outcomesOf(fast);
    const offFastPath = await outcomesOf(generic);
    const refusals = [...onFastPath.values()].filter((outcome) => "code" in outcome);
    assert.ok(refusals.length >= 6, "the script exercises refusals");
    assert.ok(refusals.some((outcome) => "details" in outcome && outcome.details.length >= 2), "refusals carry their details");
    assert.deepEqual(withoutIds(onFastPath), withoutIds(offFastPath));
  });
});
