import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { DEFAULT_TIME_RULES } from "../../src/config.js";
import { createAlerts } from "../../src/domain/alerts.js";
import { createCommitSignal, createUsageFeed } from "../../src/domain/usage-feed.js";
import { createBilling } from "../../src/domain/billing.js";
import { createCatalog } from "../../src/domain/catalog.js";
import { systemClock } from "../../src/domain/clock.js";
import { createCustomerDirectory } from "../../src/domain/customer-directory.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { DEFAULT_SCOPE, type Store } from "../../src/domain/store.js";
import { createUsageLedger } from "../../src/domain/usage-ledger.js";
import { createUsageLimits } from "../../src/domain/usage-limits.js";
import { createMetrics } from "../../src/server/interceptors/metrics.js";
import { createTallyServer } from "../../src/server/server.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { clientsFor, type Protocol, TEST_ADMIN_KEY, transportFor } from "../support/clients.js";
import { assertRefused, refusal } from "../support/errors.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

const run = promisify(execFile);

/** The largest message the second process accepts; small enough to exceed cheaply. */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** Runs `buf curl` (a real third-party gRPC client) and returns its stdout. */
async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ["node_modules/.bin/buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", `authorization: Bearer ${TEST_ADMIN_KEY}`, "--reflect-header", "*", ...args], {
    timeout: 30_000,
  });
  return stdout;
}

/** Waits until `predicate` holds for the process's logs (they arrive over a pipe). */
async function logLine(tally: TallyProcess, predicate: (entry: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  for (let waited = 0; waited < 5_000; waited += 20) {
    const entry = tally.logs.find(predicate);
    if (entry !== undefined) return entry;
    await delay(20);
  }
  assert.fail(`no log line ${what}; got ${JSON.stringify(tally.logs.slice(-10))}`);
}

/** Waits for a process to exit and for its stdout to be read to the end. */
async function exitOf(tally: TallyProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const exit = await tally.exited;
  const stdout = tally.child.stdout!;
  if (!stdout.closed) await once(stdout, "close");
  return exit;
}

async function killIfRunning(tally: TallyProcess | undefined): Promise<void> {
  if (tally !== undefined && tally.child.exitCode === null && tally.child.signalCode === null) {
    tally.child.kill("SIGKILL");
    await tally.exited;
  }
}

describe("the tally serve process", () => {
  const scratch = scratchDirectory("tally-lifecycle-");
  let tally: TallyProcess;
  let customerId = "";

  before(async () => {
    tally = await startTallyProcess(join(scratch.path, "tally.db"));
    const clients = clientsFor(transportFor("grpc", tally.url));
    ({ customerId } = await createCatalogFixture(clients));
    await clients.usage.recordUsage({ requestId: "seed-hosting", customerId, meterKey: "hosting", quantity: "58" });
    await clients.usage.recordUsage({ requestId: "seed-egress", customerId, meterKey: "egress", quantity: "1500.5" });
  });

  after(async () => {
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("--port 0 binds a free port and logs the address it chose", async () => {
    const listening = await logLine(tally, (entry) => entry.msg === "listening", '"listening"');
    assert.equal(typeof listening.port, "number");
    assert.ok(Number(listening.port) > 0 && Number(listening.port) < 65536);
    assert.equal(listening.url, `http://127.0.0.1:${String(listening.port)}`);
    assert.equal(tally.port, listening.port);
    const response = await fetch(`${String(listening.url)}/healthz`);
    assert.equal(response.status, 200);
  });

  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`serves reflection to buf curl (--reflect-protocol ${reflectProtocol})`, async () => {
      const services = (await bufCurl(["--reflect-protocol", reflectProtocol, "--list-services", tally.url])).split("\n").filter(Boolean);
      for (const service of ["billing.v1.BillingService", "billing.v1.CatalogService", "billing.v1.CustomerService", "billing.v1.UsageService"]) {
        assert.ok(services.includes(service), `${service} missing from ${JSON.stringify(services)}`);
      }
      const methods = (await bufCurl(["--reflect-protocol", reflectProtocol, "--list-methods", tally.url])).split("\n");
      assert.ok(methods.includes("billing.v1.UsageService/RecordUsage"), `RecordUsage missing from ${JSON.stringify(methods)}`);

      const output = await bufCurl([
        "--reflect-protocol",
        reflectProtocol,
        "--data",
        JSON.stringify({ customer_id: "acme" }),
        `${tally.url}/billing.v1.BillingService/GetCurrentBill`,
      ]);
      const { bill } = JSON.parse(output) as { bill: { customerId: string; total: string; lines: { meterKey: string; amount: string }[] } };
      assert.equal(bill.customerId, customerId);
      assert.deepEqual(
        bill.lines.map((line) => [line.meterKey, line.amount]),
        [
          ["egress", "116.04"],
          ["hosting", "0.72"],
        ],
      );
      assert.equal(bill.total, "116.76");
    });
  }

  it("reports health over grpc.health.v1 (Check and Watch) and GET /healthz", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: tally.url }));
    assert.equal((await health.check({ service: "" })).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await health.check({ service: "billing.v1.UsageService" })).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await refusal(health.check({ service: "no.such.Service" }))).code, Code.NotFound);

    const watching = new AbortController();
    const first = await (async () => {
      for await (const message of health.watch({ service: "" }, { signal: watching.signal, timeoutMs: 5_000 })) return message.status;
      return undefined;
    })();
    watching.abort();
    assert.equal(first, HealthCheckResponse_ServingStatus.SERVING);

    const healthz = await fetch(`${tally.url}/healthz`);
    assert.equal(healthz.status, 200);
    assert.equal((await healthz.text()).trim(), "SERVING");
  });

  it("logs one line per call with method, protocol, code, durationMs and requestId, never a credential", async () => {
    const headers = { authorization: "Bearer secret-token" };
    const calls: [Protocol, string][] = [
      ["grpc", "grpc"],
      ["connect-json-h1", "connect"],
      ["grpc-web-h1", "grpc-web"],
    ];
    for (const [protocol] of calls) {
      const { usage } = clientsFor(transportFor(protocol, tally.url));
      await usage.recordUsage({ requestId: `log-${protocol}`, customerId, meterKey: "calls", quantity: "1" }, { headers });
      await assertRefused(
        usage.recordUsage({ requestId: `log-${protocol}`, customerId, meterKey: "calls", quantity: "2" }, { headers }),
        Code.AlreadyExists,
        "REQUEST_ID_REUSED",
      );
    }
    for (const [protocol, wireProtocol] of calls) {
      await logLine(tally, (entry) => entry.requestId === `log-${protocol}` && entry.code !== "ok", `for the refused log-${protocol}`);
      const mine = tally.logs.filter((entry) => entry.requestId === `log-${protocol}`);
      assert.deepEqual(
        mine.map((entry) => [entry.msg, entry.method, entry.protocol, entry.code, typeof entry.durationMs]),
        [
          ["call", "billing.v1.UsageService/RecordUsage", wireProtocol, "ok", "number"],
          ["call", "billing.v1.UsageService/RecordUsage", wireProtocol, "AlreadyExists", "number"],
        ],
        `log lines of log-${protocol}`,
      );
      for (const entry of mine) assert.ok(Number(entry.durationMs) >= 0 && Number(entry.durationMs) < 10_000);
    }
    const leaking = tally.logs.filter((entry) => /secret-token|bearer/i.test(JSON.stringify(entry)));
    assert.deepEqual(leaking, []);
  });

  it("stops on SIGTERM with exit code 0 and a stopped log line, promptly although idle keep-alive clients are connected", async () => {
    // The tests above left idle HTTP/1.1 keep-alive connections (fetch and
    // the Connect HTTP/1.1 transport) and idle HTTP/2 sessions behind.
    const signalled = performance.now();
    tally.child.kill("SIGTERM");
    assert.deepEqual(await exitOf(tally), { code: 0, signal: null });
    assert.ok(tally.logs.some((entry) => entry.msg === "shutting down" && entry.signal === "SIGTERM"));
    assert.ok(tally.logs.some((entry) => entry.msg === "stopped"));
    const tookMs = Math.round(performance.now() - signalled);
    assert.ok(tookMs < 2_500, `SIGTERM took ${tookMs} ms to stop a server with nothing in flight (idle keep-alive connections not closed?)`);
  });

  it("refuses a message larger than --max-message-bytes, keeps serving, and stops on SIGINT without a stream left open", async () => {
    const small = await startTallyProcess(join(scratch.path, "tally.db"), ["--max-message-bytes", String(MAX_MESSAGE_BYTES), "--shutdown-grace", "3s"]);
    try {
      // What the first process acknowledged is still there.
      const replay = await clientsFor(transportFor("grpc", small.url)).usage.recordUsage({ requestId: "seed-hosting", customerId, meterKey: "hosting", quantity: "58" });
      assert.equal(replay.replayed, true);

      const huge = { note: "x".repeat(MAX_MESSAGE_BYTES + 1024) };
      // HTTP/2 only, so that no idle HTTP/1.1 connection is involved in how long the stop takes.
      for (const protocol of ["grpc", "connect-binary-h2", "grpc-web-h2"] as const) {
        const { usage } = clientsFor(transportFor(protocol, small.url));
        const refused = await refusal(usage.recordUsage({ requestId: `huge-${protocol}`, customerId, meterKey: "hosting", quantity: "1", attributes: huge }));
        assert.equal(Code[refused.code], Code[Code.ResourceExhausted], `${protocol}: ${refused.message}`);
        // The connection and the request_id are both still good.
        const accepted = await usage.recordUsage({ requestId: `huge-${protocol}`, customerId, meterKey: "hosting", quantity: "1" });
        assert.equal(accepted.replayed, false);
        assert.equal(accepted.record?.quantity, "1");
      }

      const signalled = performance.now();
      small.child.kill("SIGINT");
      assert.deepEqual(await exitOf(small), { code: 0, signal: null });
      assert.ok(small.logs.some((entry) => entry.msg === "shutting down" && entry.signal === "SIGINT"));
      assert.ok(small.logs.some((entry) => entry.msg === "stopped"));
      const tookMs = Math.round(performance.now() - signalled);
      assert.ok(tookMs < 2_000, `SIGINT took ${tookMs} ms (grace 3 s): a refused oversized request left its HTTP/2 stream half-open`);
    } finally {
      await killIfRunning(small);
    }
  });
});

describe("graceful shutdown", () => {
  const scratch = scratchDirectory("tally-drain-");
  let store: Store;
  before(() => {
    store = openSqliteStore({ path: join(scratch.path, "drain.db") });
  });
  after(async () => {
    await store?.close();
    scratch.cleanup();
  });

  it("drains an in-flight call: NOT_SERVING and UNAVAILABLE for newcomers, success for the call, no connection left", async (t) => {
    // The store under the ledger takes 500 ms to start each usage write, so
    // a call is reliably in flight when shutdown begins.
    let writeStarted!: () => void;
    const started = new Promise<void>((resolve) => (writeStarted = resolve));
    const slowStore = new Proxy(store, {
      get(target, property) {
        if (property === "recordUsage") {
          return async (...args: Parameters<Store["recordUsage"]>) => {
            writeStarted();
            await delay(500);
            return target.recordUsage(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const clock = systemClock;
    const timeRules = DEFAULT_TIME_RULES;
    const server = createTallyServer({
      services: {
        directory: createCustomerDirectory({ store, clock }),
        catalog: createCatalog({ store, clock, timeRules }),
        ledger: createUsageLedger({ store: slowStore, clock, timeRules }),
        billing: createBilling({ store, clock, timeRules }),
        feed: createUsageFeed({ store, signal: createCommitSignal(), pollIntervalMs: 1000, batchSize: 500 }),
        alerts: createAlerts({ store, clock, maxAlertsPerCustomer: 100 }),
        limits: createUsageLimits({ store, clock }),
      },
      logger: pino({ level: "silent" }),
      keyring: createKeyring({ store, clock, configuredKeys: [{ key: TEST_ADMIN_KEY, role: "admin", name: "test" }] }),
      metrics: createMetrics({ databaseBytes: () => store.storageBytes() }),
      callLimits: { maxBatchSize: 1000, maxStreamMessages: 100_000, maxDeadlineMs: 30_000, maxStreamLifetimeMs: 60_000, rateLimit: 0, rateBurst: 1 },
    });
    const address = await server.listen(0, "127.0.0.1");
    const url = `http://127.0.0.1:${address.port}`;
    let shutdown: Promise<void> | undefined;
    try {
      const clients = clientsFor(transportFor("grpc", url));
      const { customerId } = await createCatalogFixture(clients);
      const health = createClient(Health, createGrpcTransport({ baseUrl: url }));

      const watched: HealthCheckResponse_ServingStatus[] = [];
      const watchEnded = (async () => {
        for await (const message of health.watch({ service: "" })) watched.push(message.status);
      })().then(
        () => "ended",
        (error: unknown) => (error instanceof ConnectError ? Code[error.code] : String(error)),
      );
      for (let waited = 0; watched.length === 0 && waited < 2_000; waited += 10) await delay(10);
      assert.deepEqual(watched, [HealthCheckResponse_ServingStatus.SERVING]);

      let inFlightSettled = false;
      const inFlight = clients.usage.recordUsage({ requestId: "drain-in-flight", customerId, meterKey: "hosting", quantity: "7" });
      void inFlight.finally(() => (inFlightSettled = true)).catch(() => undefined);
      await started;

      let shutdownSettled = false;
      shutdown = server.shutdown(5_000);
      void shutdown.finally(() => (shutdownSettled = true)).catch(() => undefined);

      const healthz = await fetch(`${url}/healthz`);
      assert.equal(healthz.status, 503);
      assert.equal((await healthz.text()).trim(), "NOT_SERVING");

      // Health still answers during the drain, so a probe reads NOT_SERVING.
      const probe = await health.check({ service: "" }).then(
        (response) => HealthCheckResponse_ServingStatus[response.status],
        (error: unknown) => (error instanceof ConnectError ? Code[error.code] : String(error)),
      );
      assert.equal(probe, "NOT_SERVING");

      await assertRefused(
        clients.usage.recordUsage({ requestId: "drain-newcomer", customerId, meterKey: "hosting", quantity: "1" }),
        Code.Unavailable,
        "SHUTTING_DOWN",
      );
      const freshConnection = clientsFor(transportFor("connect-json-h1", url));
      await assertRefused(freshConnection.billing.getCurrentBill({ customerId }), Code.Unavailable, "SHUTTING_DOWN");
      assert.equal(inFlightSettled, false, "the in-flight call finished before the checks above; the drain was not observed");

      const finished = await inFlight;
      assert.equal(shutdownSettled, false, "shutdown resolved before the call in flight had its answer");
      assert.equal(finished.replayed, false);
      assert.equal(finished.record?.quantity, "7");
      const drained = performance.now();

      await shutdown;
      const closed = performance.now();
      assert.equal(server.openConnections(), 0);
      // Idle connections (the HTTP/1.1 keep-alive ones above included) are
      // closed at once, not left to run out the 5 s grace.
      assert.ok(closed - drained < 2_000, `connections took ${Math.round(closed - drained)} ms to close after the drain`);

      assert.equal(await watchEnded, "ended");
      assert.deepEqual(watched, [HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);

      // What was acknowledged during the drain is in the store; the refused newcomer is not.
      assert.equal((await store.findUsageByRequestId(DEFAULT_SCOPE, "drain-in-flight"))?.id, finished.record?.id);
      assert.equal(await store.findUsageByRequestId(DEFAULT_SCOPE, "drain-newcomer"), undefined);
    } finally {
      await (shutdown ?? server.shutdown(1_000));
    }
  });
});
