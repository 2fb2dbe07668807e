import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BillingError, createBillingClient, type RetryEvent } from "tally/client";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Faults injected for real: a TCP proxy between client and server that lets a
// request through and cuts the connection before the response returns, and a
// server process killed and restarted mid-run.
describe("the retrying client through a flaky network and a restarting server", () => {
  const scratch = scratchDirectory();
  const db = join(scratch.path, "tally.db");
  let server: TallyProcess;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

  before(async () => {
    server = await startTallyProcess(db);
    proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    const client = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await client.createPrice({ price: { meterKey: "calls", currencyCode: "USD", tiers: [{ unitAmount: "0.01" }] } });
    for (const protocol of ["grpc", "connect", "grpc-web", "restart"]) {
      await client.createCustomer({ customer: { externalId: protocol, displayName: protocol, currencyCode: "USD" } });
    }
  });
  after(async () => {
    await proxy.close();
    server.child.kill("SIGKILL");
    await server.exited;
    scratch.cleanup();
  });

  for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
    it(`${protocol}: a response lost on a cut connection is retried with the same request_id and replayed, recorded once`, async () => {
      const retries: RetryEvent[] = [];
      const client = createBillingClient({
        baseUrl: proxy.url, apiKey: TEST_ADMIN_KEY,
        protocol,
        retry: { initialBackoffMs: 20, maxBackoffMs: 50 },
        onRetry: (event) => retries.push(event),
      });
      const cutsBefore = proxy.cuts();
      proxy.cutResponses(1);
      const response = await client.recordUsage({ customerId: protocol, meterKey: "calls", quantity: "5" });
      assert.equal(proxy.cuts(), cutsBefore + 1);
      assert.equal(retries.length, 1, `retried on ${retries.map((event) => event.error.code)}`);
      assert.equal(retries[0]?.requestId, response.record?.requestId);
      assert.equal(response.replayed, true, "the first attempt was recorded; the retry must replay it");
      const direct = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
      const { records } = await direct.listUsageRecords({ customerId: protocol });
      assert.equal(records.length, 1);
      assert.equal((await direct.getCurrentBill({ customerId: protocol })).bill?.lines[0]?.quantity, "5");
    });
  }

  it("every logical call is recorded exactly once across cut connections and a kill -9 restart", async () => {
    const client = createBillingClient({
      baseUrl: proxy.url, apiKey: TEST_ADMIN_KEY,
      protocol: "grpc",
      timeoutMs: 20_000,
      retry: { initialBackoffMs: 50, maxBackoffMs: 500, maxAttempts: 30, budget: { maxTokens: 1000, tokenRatio: 1 } },
    });
    const calls = 300;
    let started = 0;
    const results: { index: number; replayed: boolean }[] = [];
    const failures: unknown[] = [];
    const worker = async () => {
      while (started < calls) {
        const index = started++;
        try {
          const response = await client.recordUsage({ requestId: `restart-${index}`, customerId: "restart", meterKey: "calls", quantity: "1" });
          results.push({ index, replayed: response.replayed });
        } catch (error) {
          failures.push(error);
        }
        if (index === 60 || index === 150) proxy.cutResponses(3);
      }
    };
    const chaos = (async () => {
      while (started < 100) await new Promise((resolve) => setTimeout(resolve, 10));
      server.child.kill("SIGKILL");
      proxy.setRefusing(true);
      await server.exited;
      await new Promise((resolve) => setTimeout(resolve, 300));
      server = await startTallyProcess(db);
      proxy.retarget({ host: "127.0.0.1", port: server.port });
      proxy.setRefusing(false);
    })();
    await Promise.all([worker(), worker(), worker(), worker(), chaos]);
    assert.deepEqual(failures.map((error) => (error instanceof BillingError ? error.message : String(error))), []);
    assert.equal(results.length, calls);
    const direct = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
    const { bill } = await direct.getCurrentBill({ customerId: "restart" });
    assert.equal(bill?.lines[0]?.quantity, String(calls));
    assert.equal(bill?.lines[0]?.amount, (calls * 0.01).toFixed(2));
  });

  it("a call that cannot get through names the cause and the attempts made", async () => {
    proxy.setRefusing(true);
    try {
      const client = createBillingClient({ baseUrl: proxy.url, apiKey: TEST_ADMIN_KEY, retry: { initialBackoffMs: 10, maxBackoffMs: 20, maxAttempts: 4 } });
      await assert.rejects(client.recordUsage({ requestId: "down-1", customerId: "restart", meterKey: "calls", quantity: "1" }), (error: unknown) => {
        assert.ok(error instanceof BillingError);
        assert.equal(error.attempts, 4);
        assert.equal(error.outcome, "gave-up");
        assert.match(error.message, /RecordUsage gave up after 4 attempts \(all 4 attempts failed\); the last error was (UNAVAILABLE|CANCELED): /);
        assert.match(error.message, /request_id "down-1"/);
        return true;
      });
    } finally {
      proxy.setRefusing(false);
    }
  });
});
