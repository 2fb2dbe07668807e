import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { BillingError, createBillingClient } from "tally/client";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { createFaultInjector } from "../support/fault-injector.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

describe("the batching usage producer", () => {
  const faults = createFaultInjector(["BatchRecordUsage", "StreamUsage"]);
  let tally: TestTally;

  before(async () => {
    tally = await startTestTally({}, undefined, [faults.interceptor]);
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, precision: 3 } });
    await client.createPrice({ price: { meterKey: "calls", currencyCode: "USD", tiers: [{ unitAmount: "0.001" }] } });
    for (const name of ["bulk-calls", "bulk-stream", "refusals", "closing"]) {
      await client.createCustomer({ customer: { externalId: name, displayName: name, currencyCode: "USD" } });
    }
  });
  after(() => tally.stop());

  for (const via of ["calls", "stream"] as const) {
    it(`10,000 events over ${via} under injected faults: each durable exactly once, every promise settled, backpressure applied`, async () => {
      faults.reset();
      const client = createBillingClient({
        baseUrl: tally.url, apiKey: TEST_ADMIN_KEY,
        protocol: "grpc",
        retry: { initialBackoffMs: 5, maxBackoffMs: 50, maxAttempts: 20, budget: { maxTokens: 1000, tokenRatio: 1 } },
      });
      const customerId = `bulk-${via}`;
      const producer = client.usage.producer({ maxBatch: 200, maxDelayMs: 5, maxQueue: 1000, concurrency: 3, via });
      faults.random({ failBefore: 0.1, failAfter: 0.1, seed: 99 });
      let maxHeld = 0;
      let sawWaiting = false;
      const acks: Promise<unknown>[] = [];
      for (let index = 0; index < 10_000; index++) {
        acks.push(producer.enqueue({ customerId, meterKey: "calls", quantity: index % 2 === 0 ? "1.5" : 2 }));
        const stats = producer.stats();
        maxHeld = Math.max(maxHeld, stats.queued + stats.sending);
        sawWaiting ||= stats.waiting > 0;
        if (index % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
      const settled = await Promise.allSettled(acks);
      await producer.close();
      faults.random(undefined);

      assert.deepEqual(settled.filter((result) => result.status === "rejected").map((result) => String((result as PromiseRejectedResult).reason)), []);
      assert.ok(sawWaiting, "enqueue never had to wait for room");
      assert.ok(maxHeld <= 1000, `held ${maxHeld} events, more than maxQueue`);
      assert.ok(faults.seen.every((call) => call.method === (via === "calls" ? "BatchRecordUsage" : "StreamUsage")));
      const sentIds = faults.seen.flatMap((call) => call.itemRequestIds);
      assert.ok(sentIds.length > 10_000, "no batch was ever sent again");
      assert.equal(new Set(sentIds).size, 10_000);
      const { bill } = await client.getCurrentBill({ customerId });
      assert.equal(bill?.lines[0]?.quantity, "17500"); // 5000 × 1.5 + 5000 × 2, each once
      assert.equal(bill?.lines[0]?.amount, "17.50");
    });
  }

  it("a refused event rejects only its own promise, naming its own field", async () => {
    faults.reset();
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    const producer = client.usage.producer({ maxBatch: 10, maxDelayMs: 5, via: "calls" });
    const results = await Promise.allSettled([
      producer.enqueue({ requestId: "refusal-ok-1", customerId: "refusals", meterKey: "calls", quantity: "1" }),
      producer.enqueue({ requestId: "refusal-bad", customerId: "refusals", meterKey: "no-such-meter", quantity: "1" }),
      producer.enqueue({ requestId: "refusal-precision", customerId: "refusals", meterKey: "calls", quantity: "0.0001" }),
      producer.enqueue({ requestId: "refusal-ok-2", customerId: "refusals", meterKey: "calls", quantity: "2" }),
      producer.enqueue({ requestId: "refusal-nan", customerId: "refusals", meterKey: "calls", quantity: Number.NaN }),
    ]);
    await producer.close();
    assert.deepEqual(
      results.map((result) => (result.status === "fulfilled" ? "ok" : (result.reason as BillingError).reason)),
      ["ok", "METER_NOT_FOUND", "INVALID_QUANTITY", "ok", "INVALID_QUANTITY"],
    );
    const precision = (results[2] as PromiseRejectedResult).reason as BillingError;
    assert.equal(precision.requestId, "refusal-precision");
    assert.deepEqual(precision.fieldViolations.map((violation) => violation.field), ["quantity"]);
    assert.equal(precision.code, Code.InvalidArgument);
    assert.equal(faults.seen.length, 1); // one batch; the NaN never left the client
  });

  it("rejects when full if asked to, and close() drains then refuses", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    const producer = client.usage.producer({ maxBatch: 5, maxDelayMs: 50, maxQueue: 5, whenFull: "reject" });
    const accepted = Array.from({ length: 5 }, () => producer.enqueue({ customerId: "closing", meterKey: "calls", quantity: "1" }));
    await assert.rejects(producer.enqueue({ customerId: "closing", meterKey: "calls", quantity: "1" }), (error: unknown) => {
      assert.ok(error instanceof BillingError);
      assert.equal(error.code, Code.ResourceExhausted);
      assert.equal(error.reason, "PRODUCER_QUEUE_FULL");
      return true;
    });
    await producer.close();
    const acks = await Promise.all(accepted);
    assert.equal(acks.length, 5);
    await assert.rejects(producer.enqueue({ customerId: "closing", meterKey: "calls", quantity: "1" }), /closed/);
    assert.equal((await client.getCurrentBill({ customerId: "closing" })).bill?.lines[0]?.quantity, "5");
  });

  it("a batch that cannot get through rejects each of its events with the cause and the attempts", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: { initialBackoffMs: 5, maxBackoffMs: 10, maxAttempts: 3 } });
    const producer = client.usage.producer({ maxDelayMs: 1, via: "calls" });
    faults.reset();
    faults.always({ kind: "fail-before", code: Code.Unavailable });
    const results = await Promise.allSettled([
      producer.enqueue({ requestId: "stuck-1", customerId: "closing", meterKey: "calls", quantity: "1" }),
      producer.enqueue({ requestId: "stuck-2", customerId: "closing", meterKey: "calls", quantity: "1" }),
    ]);
    faults.always(undefined);
    await producer.close();
    for (const [index, result] of results.entries()) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason as BillingError;
      assert.equal(error.attempts, 3);
      assert.equal(error.requestId, `stuck-${index + 1}`);
      assert.match(error.message, /gave up after 3 attempts .* UNAVAILABLE.*request_id "stuck-\d"/);
    }
  });
});
