import assert from "node:assert/strict";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { Health } from "../../gen/ts/health/v1/health_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { defaultServeConfig, type ServeConfig } from "../../src/config.js";
import { apiKeyId } from "../../src/domain/api-key.js";
import { systemClock } from "../../src/domain/clock.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { openStore, type RunningTally, startTally } from "../../src/main.js";
import { authInterceptors } from "../../clients/typescript/src/auth-interceptor.js";
import { createAsyncQueue } from "../../clients/typescript/src/async-queue.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { clientsFor, TEST_ADMIN_KEY, transportFor } from "../support/clients.js";
import { createStoredKey, TestClock } from "../support/test-tally.js";
import { scratchDirectory } from "../support/tally-process.js";

/** A Tally whose call log lines are kept, with test interceptors (inside the limits) and short stream limits. */
async function startLoggedTally(overrides: Partial<ServeConfig>, interceptors: Interceptor[] = []) {
  const scratch = scratchDirectory();
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const db = join(scratch.path, "tally.db");
  const config: ServeConfig = { ...defaultServeConfig(), port: 0, logLevel: "info", shutdownGrace: 1000, bootstrapKey: TEST_ADMIN_KEY, rateLimit: 0, ...overrides, db };
  const tally: RunningTally = await startTally(config, pino({ level: "info" }, sink), { clock: new TestClock(), interceptors });
  return {
    tally,
    db,
    /** The call log lines of a method, e.g. "UsageService/StreamUsage". */
    callLines: (method: string) => lines.filter((line) => line.msg === "call" && String(line.method).endsWith(method)),
    faultLines: () => lines.filter((line) => line.msg === "internal fault"),
    async stop() {
      await tally.stop();
      scratch.cleanup();
    },
  };
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function sample(text: string, series: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Holds a call for x-test-delay ms, inside the call limits (as a slow store would). */
const delay: Interceptor = (next) => async (request) => {
  const ms = Number(request.header.get("x-test-delay") ?? 0);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return next(request);
};

function reasonOf(error: unknown): string | undefined {
  return error instanceof ConnectError ? error.findDetails(ErrorInfoSchema)[0]?.reason : undefined;
}

describe("long calls: a revoked key's streams end, streams have a lifetime", () => {
  let server: Awaited<ReturnType<typeof startLoggedTally>>;
  before(async () => {
    server = await startLoggedTally({ keyRecheckInterval: 200, maxStreamLifetime: 1500 });
    await createCatalogFixture(clientsFor(transportFor("grpc", server.tally.url)));
  });
  after(() => server.stop());

  it("a StreamUsage stream opened with a key ends UNAUTHENTICATED soon after the key is revoked, even while idle", async () => {
    const key = await createStoredKey(server.db, "ingest");
    const usage = clientsFor(transportFor("grpc", server.tally.url, key)).usage;
    const requests = createAsyncQueue<{ sequence: bigint; requests: { requestId: string; customerId: string; meterKey: string; quantity: string }[] }>();
    const answers = usage.streamUsage(requests)[Symbol.asyncIterator]();
    requests.push({ sequence: 0n, requests: [{ requestId: "before-revoke", customerId: "acme", meterKey: "hosting", quantity: "1" }] });
    const first = await answers.next();
    assert.equal(first.value?.results[0]?.result.case, "response");

    const store = await openStore(server.db);
    try {
      await createKeyring({ store, clock: systemClock }).revokeKey(apiKeyId(key)!);
    } finally {
      await store.close();
    }
    const revoked = Date.now();
    await assert.rejects(answers.next(), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(Code[error.code], "Unauthenticated");
      assert.equal(reasonOf(error), "API_KEY_INVALID");
      return true;
    });
    assert.ok(Date.now() - revoked < 2000, `ended ${Date.now() - revoked} ms after the revocation`);
    requests.close();
    await until(() => server.callLines("UsageService/StreamUsage").length > 0, 2000);
    const [line] = server.callLines("UsageService/StreamUsage");
    assert.equal(line?.code, "Unauthenticated");
    assert.equal(line?.reason, "API_KEY_INVALID");
    assert.equal(line?.tenant, "default");
  });

  it("a health Watch (which needs no key) ends UNAVAILABLE with STREAM_LIFETIME_REACHED at the lifetime cap", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.tally.url }));
    const opened = Date.now();
    let updates = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of health.watch({ service: "" })) updates++;
      })(),
      (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(Code[error.code], "Unavailable");
        assert.equal(reasonOf(error), "STREAM_LIFETIME_REACHED");
        return true;
      },
    );
    assert.ok(updates >= 1, "the watch answered before it ended");
    const lived = Date.now() - opened;
    assert.ok(lived >= 1400 && lived < 4000, `lived ${lived} ms`);
  });
});

describe("honest accounting: the status a call ends with is the one logged and counted", () => {
  let server: Awaited<ReturnType<typeof startLoggedTally>>;
  before(async () => {
    server = await startLoggedTally({}, [delay]);
    await createCatalogFixture(clientsFor(transportFor("grpc", server.tally.url)));
  });
  after(() => server.stop());

  for (const protocol of ["grpc", "connect"] as const) {
    it(`${protocol}: a call whose deadline passes answers, logs and counts DEADLINE_EXCEEDED`, async () => {
      const transport =
        protocol === "grpc"
          ? createGrpcTransport({ baseUrl: server.tally.url, interceptors: authInterceptors(TEST_ADMIN_KEY) })
          : createConnectTransport({ baseUrl: server.tally.url, httpVersion: "1.1", interceptors: authInterceptors(TEST_ADMIN_KEY) });
      const billing = clientsFor(transport).billing;
      const started = Date.now();
      // A deadline of a second: a reset in its second half is the deadline passing (the client counted it
      // from before it connected), told as DEADLINE_EXCEEDED.
      await assert.rejects(billing.getCurrentBill({ customerId: "acme" }, { timeoutMs: 1000, headers: { "x-test-delay": "2500" } }), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(Code[error.code], "DeadlineExceeded");
        return true;
      });
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
      await until(() => server.callLines("BillingService/GetCurrentBill").some((line) => line.protocol === protocol), 2000);
      const line = server.callLines("BillingService/GetCurrentBill").find((candidate) => candidate.protocol === protocol);
      assert.equal(line?.code, "DeadlineExceeded");
      const text = await metricsText(server.tally.url);
      assert.equal(sample(text, `tally_rpc_calls_total{method="billing.v1.BillingService/GetCurrentBill",protocol="${protocol}",code="DeadlineExceeded"}`), 1);
      assert.equal(sample(text, `tally_rpc_calls_total{method="billing.v1.BillingService/GetCurrentBill",protocol="${protocol}",code="OK"}`), 0);
    });
  }

  it("a Connect call with connect-timeout-ms of 1 is not run: DEADLINE_EXCEEDED, nothing recorded", async () => {
    const response = await fetch(`${server.tally.url}/billing.v1.UsageService/RecordUsage`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_KEY}`, "connect-timeout-ms": "1", "x-test-delay": "50" },
      body: JSON.stringify({ requestId: "too-late", customerId: "acme", meterKey: "hosting", quantity: "1" }),
    });
    const body = (await response.json()) as { code?: string };
    assert.equal(body.code, "deadline_exceeded");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await assert.rejects(clientsFor(transportFor("grpc", server.tally.url)).usage.getUsageRecord({ id: "too-late" }));
  });

  it("a client that cancels its stream is logged and counted CANCELED, not as a server fault", async () => {
    const usage = clientsFor(transportFor("grpc", server.tally.url)).usage;
    const requests = createAsyncQueue<{ sequence: bigint; requests: { requestId: string; customerId: string; meterKey: string; quantity: string }[] }>();
    const abort = new AbortController();
    const answers = usage.streamUsage(requests, { signal: abort.signal })[Symbol.asyncIterator]();
    requests.push({ sequence: 0n, requests: [{ requestId: "stream-then-cancel", customerId: "acme", meterKey: "hosting", quantity: "1" }] });
    await answers.next();
    abort.abort();
    await assert.rejects(answers.next());
    await until(() => server.callLines("UsageService/StreamUsage").length > 0, 3000);
    const [line] = server.callLines("UsageService/StreamUsage");
    assert.equal(line?.code, "Canceled");
    assert.equal(server.faultLines().length, 0, "no internal fault logged");
    const text = await metricsText(server.tally.url);
    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.UsageService/StreamUsage",protocol="grpc",code="Canceled"}'), 1);
    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.UsageService/StreamUsage",protocol="grpc",code="Unknown"}'), 0);
    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.UsageService/StreamUsage",protocol="grpc",code="Internal"}'), 0);
  });

  it("a refused atomic batch and an unauthenticated batch count each of their events as refused, with the reason", async () => {
    const event = { customerId: "acme", meterKey: "hosting", quantity: "1" };
    const usage = clientsFor(transportFor("grpc", server.tally.url)).usage;
    await assert.rejects(
      usage.batchRecordUsage({ atomic: true, requests: [{ ...event, requestId: "a1" }, { ...event, requestId: "a2" }, { ...event, requestId: "a3", meterKey: "nope" }] }),
    );
    await assert.rejects(clientsFor(transportFor("grpc", server.tally.url, "")).usage.batchRecordUsage({ requests: [{ ...event, requestId: "u1" }, { ...event, requestId: "u2" }] }));
    const text = await metricsText(server.tally.url);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="refused",reason="METER_NOT_FOUND"}'), 3);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="refused",reason="API_KEY_MISSING"}'), 2);
    const refusedLine = server.callLines("UsageService/BatchRecordUsage").find((line) => line.code === "Unauthenticated");
    assert.equal(refusedLine?.reason, "API_KEY_MISSING");
    assert.match(String(refusedLine?.message), /API key/);
  });
});
