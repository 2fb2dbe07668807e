import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { createBillingClient } from "../../clients/typescript/src/node.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { TEST_ADMIN_KEY, type TallyClients } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

describe("the per-tenant rate limit", () => {
  let tally: TestTally;
  let tenantA: TallyClients;
  let tenantB: TallyClients;
  let keyA: string;
  before(async () => {
    tally = await startTestTally({ rateLimit: 5, rateBurst: 5 });
    keyA = await tally.createKey("admin", "tenant-a");
    tenantA = tally.clients("grpc", keyA);
    tenantB = tally.clients("connect-json-h1", await tally.createKey("admin", "tenant-b"));
  });
  after(() => tally.stop());

  it("answers a flood with RESOURCE_EXHAUSTED and a retry delay, records nothing it refused, and leaves other tenants alone", async () => {
    const calls = Array.from({ length: 40 }, (_, index) =>
      tenantA.customers.createCustomer({ requestId: `flood-${index}`, customer: { displayName: `C${index}`, currencyCode: "USD" } }).then(
        () => "ok" as const,
        (error: unknown) => ConnectError.from(error),
      ),
    );
    const outcomes = await Promise.all(calls);
    const accepted = outcomes.filter((outcome) => outcome === "ok").length;
    const refused = outcomes.filter((outcome): outcome is ConnectError => outcome !== "ok");
    assert.ok(accepted >= 5 && accepted <= 7, `the burst of 5 (plus what refilled) gets through, got ${accepted}`);
    for (const error of refused) {
      assert.equal(error.code, Code.ResourceExhausted);
      const [retryInfo] = error.findDetails(RetryInfoSchema);
      assert.ok(retryInfo?.retryDelay !== undefined, "a retry delay is given");
      const delayMs = Number(retryInfo.retryDelay.seconds) * 1000 + retryInfo.retryDelay.nanos / 1e6;
      assert.ok(delayMs > 0 && delayMs <= 200, `delay ${delayMs} ms for 5 calls/s`);
    }
    await delay(1100); // the bucket refills
    const listed = await tenantA.customers.listCustomers({ pageSize: 100 });
    assert.equal(listed.customers.length, accepted, "each refused call recorded nothing");

    // Tenant B has a bucket of its own.
    assert.equal((await tenantB.customers.listCustomers({})).customers.length, 0);
  });

  it("is honoured by the client library, which waits the delay and gets through", async () => {
    await delay(1100);
    const client = createBillingClient({ baseUrl: tally.url, apiKey: keyA, retry: { maxAttempts: 20, initialBackoffMs: 1, maxBackoffMs: 5, budget: { maxTokens: 100, tokenRatio: 1 } } });
    const results = await Promise.all(Array.from({ length: 15 }, () => client.listMeters({})));
    assert.equal(results.length, 15, "every call succeeded after waiting");
  });
});

describe("batch, stream and deadline limits", () => {
  let tally: TestTally;
  let clients: TallyClients;
  const slowMethods = new Set<string>();
  const slowdown: Interceptor = (next) => async (request) => {
    if (slowMethods.has(request.method.name)) await delay(1_000);
    return next(request);
  };
  before(async () => {
    tally = await startTestTally({ maxBatchSize: 3, maxStreamMessages: 2, maxDeadline: 200 }, undefined, [slowdown]);
    clients = tally.clients();
    await createCatalogFixture(clients);
  });
  after(() => tally.stop());

  const event = (requestId: string) => ({ requestId, customerId: "acme", meterKey: "hosting", quantity: "1" });

  it("refuses a batch over --max-batch-size with INVALID_ARGUMENT and records none of it", async () => {
    await assertRefused(
      clients.usage.batchRecordUsage({ requests: [event("b1"), event("b2"), event("b3"), event("b4")] }),
      Code.InvalidArgument,
      "INVALID_FIELD",
      ["requests"],
    );
    assert.equal((await clients.usage.listUsageRecords({ customerId: "acme" })).records.length, 0);
    assert.equal((await clients.usage.batchRecordUsage({ requests: [event("b1"), event("b2"), event("b3")] })).results.length, 3);
  });

  it("ends a stream past --max-stream-messages with RESOURCE_EXHAUSTED after acknowledging what came before", async () => {
    async function* messages() {
      for (let sequence = 1n; sequence <= 3n; sequence++) yield { sequence, requests: [event(`s${sequence}`)] };
    }
    const acknowledged: bigint[] = [];
    await assert.rejects(
      (async () => {
        for await (const response of clients.usage.streamUsage(messages())) acknowledged.push(response.sequence);
      })(),
      (error) => ConnectError.from(error).code === Code.ResourceExhausted,
    );
    assert.deepEqual(acknowledged, [1n, 2n]);
    const recorded = (await clients.usage.listUsageRecords({ customerId: "acme" })).records.map((record) => record.requestId).sort();
    assert.deepEqual(recorded, ["b1", "b2", "b3", "s1", "s2"]);
  });

  it("lets the client's stream producer carry on past --max-stream-messages on new streams, each event once", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, protocol: "grpc", retry: { initialBackoffMs: 1, maxBackoffMs: 5, maxAttempts: 10 } });
    const producer = client.usage.producer({ maxBatch: 3, maxDelayMs: 1, concurrency: 1, via: "stream" });
    const acks = Array.from({ length: 30 }, () => producer.enqueue({ customerId: "acme", meterKey: "calls", quantity: "1" }));
    await Promise.all(acks);
    await producer.close();
    const { bill } = await client.getCurrentBill({ customerId: "acme" });
    assert.equal(bill?.lines.find((line) => line.meterKey === "calls")?.quantity, "30");
  });

  it("cuts a unary call off at --max-deadline even when the caller set none", async () => {
    slowMethods.add("GetCurrentBill");
    try {
      const started = Date.now();
      await assertRefused(clients.billing.getCurrentBill({ customerId: "acme" }), Code.DeadlineExceeded, "");
      assert.ok(Date.now() - started < 900, "answered at the cap, not when the work ended");
    } finally {
      slowMethods.clear();
    }
  });
});
