import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BillingError, createBillingClient, type RetryEvent } from "tally/client";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { UsageChangeKind } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// The client's watchUsage and watchAlerts against a real server that is
// stopped and restarted (gracefully, then with kill -9) while consumers
// follow it through a TCP proxy: each consumer sees every change once.

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("the client's watches across a restarting server", () => {
  const scratch = scratchDirectory();
  const db = join(scratch.path, "tally.db");
  const serverArgs = ["--feed-poll-interval", "100ms", "--shutdown-grace", "2s"];
  let server: TallyProcess;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

  before(async () => {
    server = await startTallyProcess(db, serverArgs);
    proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    const client = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await client.createCustomer({ customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
  });
  after(async () => {
    await proxy.close();
    server.child.kill("SIGKILL");
    await server.exited;
    scratch.cleanup();
  });

  async function restart(signal: NodeJS.Signals): Promise<void> {
    server.child.kill(signal);
    await server.exited;
    server = await startTallyProcess(db, serverArgs);
    proxy.retarget({ host: "127.0.0.1", port: server.port });
  }

  it("watchUsage (gRPC and Connect) and watchAlerts resume after the last change they handed out: every change once, across a graceful stop and a kill -9", async () => {
    const direct = () => createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
    const record = async (from: number, to: number) => {
      for (let index = from; index < to; index++) await direct().recordUsage({ requestId: `u-${index}`, customerId: "acme", meterKey: "calls", quantity: "1" });
    };
    await direct().createAlert({ requestId: "alert", alert: { customerId: "acme", meterKey: "calls", threshold: "45" } });
    await record(0, 30);

    const abort = new AbortController();
    const consumers = (["grpc", "connect"] as const).map((protocol) => {
      const retries: RetryEvent[] = [];
      const client = createBillingClient({
        baseUrl: proxy.url,
        apiKey: TEST_ADMIN_KEY,
        protocol,
        retry: { initialBackoffMs: 50, maxBackoffMs: 250, maxAttempts: 40 },
        onRetry: (event) => retries.push(event),
      });
      const seen: string[] = [];
      const done = (async () => {
        for await (const change of client.watchUsage({ customerId: "acme" }, { signal: abort.signal })) {
          seen.push(`${change.kind === UsageChangeKind.RECORDED ? "recorded" : "voided"} ${change.record?.requestId}`);
        }
      })();
      return { protocol, seen, retries, done };
    });
    const alertClient = createBillingClient({ baseUrl: proxy.url, apiKey: TEST_ADMIN_KEY, retry: { initialBackoffMs: 50, maxBackoffMs: 250, maxAttempts: 40 } });
    const alerts: string[] = [];
    const alertsDone = (async () => {
      for await (const event of alertClient.watchAlerts({}, { signal: abort.signal })) alerts.push(`${event.period} ${event.value}`);
    })();

    await until(() => consumers.every((consumer) => consumer.seen.length === 30), "the history");
    await restart("SIGTERM");
    await record(30, 40);
    await direct().voidUsage({ requestId: "u-3", reason: "test" });
    await until(() => consumers.every((consumer) => consumer.seen.length === 41), "the changes after a graceful restart");
    await restart("SIGKILL");
    await record(40, 50);
    await until(() => consumers.every((consumer) => consumer.seen.length === 51), "the changes after a kill -9");
    await until(() => alerts.length === 1, "the alert");
    await new Promise((resolve) => setTimeout(resolve, 300)); // a repeat would arrive now
    abort.abort();
    await Promise.all([...consumers.map((consumer) => consumer.done), alertsDone]);

    const expected = [...Array.from({ length: 40 }, (_, index) => `recorded u-${index}`), "voided u-3", ...Array.from({ length: 10 }, (_, index) => `recorded u-${40 + index}`)];
    for (const consumer of consumers) {
      assert.deepEqual(consumer.seen, expected, consumer.protocol);
      assert.ok(consumer.retries.length >= 2, `${consumer.protocol} reconnected (${consumer.retries.length})`);
      assert.ok(consumer.retries.every((event) => event.method === "WatchUsage"));
    }
    // 45 was reached by u-45 (u-3 voided before), after the kill -9: one event.
    assert.deepEqual(alerts, [`${new Date().toISOString().slice(0, 7)} 45`]);
  });

  it("a refusal that retrying cannot change ends the iteration with a BillingError", async () => {
    const client = createBillingClient({ baseUrl: proxy.url, apiKey: TEST_ADMIN_KEY });
    await assert.rejects(
      (async () => {
        for await (const _ of client.watchUsage({ afterCursor: "not-a-cursor" })) assert.fail("no change expected");
      })(),
      (error: unknown) => error instanceof BillingError && error.reason === "INVALID_CURSOR",
    );
  });
});
