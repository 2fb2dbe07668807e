import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createClient } from "@connectrpc/connect";
import { Health } from "../../gen/ts/health/v1/health_pb.js";
import type { AlertEvent } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { type UsageChange, UsageChangeKind } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { PROTOCOLS, type TallyClients, TEST_ADMIN_KEY } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { scratchDirectory } from "../support/tally-process.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";
import { authInterceptors } from "../../clients/typescript/src/auth-interceptor.js";
import { apiKeyId } from "../../src/domain/api-key.js";
import { systemClock } from "../../src/domain/clock.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { openStore } from "../../src/main.js";

// WatchUsage, WatchAlerts and CreateAlert through the real server, over real
// sockets and every protocol that can stream answers.

/** Reads a stream's messages until `count` items arrived (or `timeoutMs` passed), then ends the call. */
async function take<M, T>(open: (signal: AbortSignal) => AsyncIterable<M>, itemsOf: (message: M) => T[], count: number, timeoutMs = 5000): Promise<T[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const items: T[] = [];
  try {
    for await (const message of open(abort.signal)) {
      items.push(...itemsOf(message));
      if (items.length >= count) break;
    }
  } catch (error) {
    if (!(error instanceof ConnectError && error.code === Code.Canceled)) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return items;
}

const described = (changes: UsageChange[]) =>
  changes.map((change) => `${change.kind === UsageChangeKind.RECORDED ? "recorded" : "voided"} ${change.record?.requestId} voided=${change.record?.voided}`);

async function record(clients: TallyClients, customerId: string, requestId: string, quantity = "1", meterKey = "hosting") {
  return (await clients.usage.recordUsage({ requestId, customerId, meterKey, quantity })).record!;
}

describe("Usage feed and alerts through the server", () => {
  let tally: TestTally;
  let customerId: string;
  let otherId: string;
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
    ({ customerId: otherId } = await createCatalogFixture(tally.clients(), "beta"));
  });
  after(async () => tally?.stop());

  it("WatchUsage on every protocol: the history in commit order, then live changes as they commit", async () => {
    const admin = tally.clients();
    await record(admin, customerId, "h-1");
    await record(admin, otherId, "h-2");
    await admin.usage.voidUsage({ requestId: "h-1", reason: "test" });
    for (const protocol of PROTOCOLS) {
      const clients = tally.clients(protocol);
      const live = `live-${protocol}`;
      const seen = take(
        (signal) => clients.usage.watchUsage({ afterCursor: "" }, { signal }),
        (message) => message.changes,
        3 + PROTOCOLS.indexOf(protocol) + 1,
      );
      // Written while the watch is open: it arrives live.
      setTimeout(() => void record(admin, customerId, live), 200);
      const changes = await seen;
      assert.deepEqual(described(changes).slice(0, 3), ["recorded h-1 voided=false", "recorded h-2 voided=false", "voided h-1 voided=true"], protocol);
      assert.equal(changes.at(-1)?.record?.requestId, live, protocol);
      assert.equal(new Set(changes.map((change) => change.cursor)).size, changes.length);
    }
    // One customer's changes, by external_id, after a cursor.
    const all = await take((signal) => admin.usage.watchUsage({ afterCursor: "" }, { signal }), (message) => message.changes, 3 + PROTOCOLS.length);
    const acme = await take(
      (signal) => admin.usage.watchUsage({ afterCursor: all[0]!.cursor, customerId: "acme" }, { signal }),
      (message) => message.changes,
      1 + PROTOCOLS.length,
    );
    assert.deepEqual(described(acme).slice(0, 1), ["voided h-1 voided=true"]);
    assert.ok(acme.every((change) => change.record?.customerId === customerId));
  });

  it("WatchUsage: a cursor it did not hand out is INVALID_ARGUMENT / INVALID_CURSOR naming after_cursor; an unknown customer is NOT_FOUND", async () => {
    const clients = tally.clients();
    const [alertCursorLike] = ["YWxlcnRzOjE"]; // "alerts:1": a WatchAlerts cursor
    for (const afterCursor of ["nonsense!", "MTIz", alertCursorLike, "dXNhZ2U6eA"]) {
      await assertRefused(
        take((signal) => clients.usage.watchUsage({ afterCursor }, { signal }), (message) => message.changes, 1),
        Code.InvalidArgument,
        "INVALID_CURSOR",
        ["after_cursor"],
      );
    }
    await assertRefused(
      take((signal) => clients.billing.watchAlerts({ afterCursor: "dXNhZ2U6MQ" }, { signal }), (message) => message.events, 1),
      Code.InvalidArgument,
      "INVALID_CURSOR",
      ["after_cursor"],
    );
    await assertRefused(
      take((signal) => clients.usage.watchUsage({ afterCursor: "", customerId: "nobody" }, { signal }), (message) => message.changes, 1),
      Code.NotFound,
      "CUSTOMER_NOT_FOUND",
    );
  });

  it("CreateAlert: idempotent on request_id, REQUEST_ID_REUSED for a changed retry; customer by external_id; unknown meter, bad threshold and read keys refused", async () => {
    const clients = tally.clients();
    const created = await clients.billing.createAlert({ requestId: "alert-1", alert: { customerId: "acme", meterKey: "calls", threshold: "2" } });
    assert.equal(created.replayed, false);
    assert.equal(created.alert?.customerId, customerId);
    assert.match(created.alert?.id ?? "", /^alert_/);
    const replayed = await clients.billing.createAlert({ requestId: "alert-1", alert: { customerId, meterKey: "calls", threshold: "2.0" } });
    assert.equal(replayed.replayed, true);
    assert.equal(replayed.alert?.id, created.alert?.id);
    await assertRefused(
      clients.billing.createAlert({ requestId: "alert-1", alert: { customerId, meterKey: "calls", threshold: "3" } }),
      Code.AlreadyExists,
      "REQUEST_ID_REUSED",
      ["alert.threshold"],
    );
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2", alert: { customerId, meterKey: "nope", threshold: "3" } }), Code.NotFound, "METER_NOT_FOUND", ["alert.meter_key"]);
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2", alert: { customerId: "nobody", meterKey: "", threshold: "3" } }), Code.NotFound, "CUSTOMER_NOT_FOUND", ["alert.customer_id"]);
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2", alert: { customerId, meterKey: "", threshold: "-1" } }), Code.InvalidArgument, "INVALID_DECIMAL", ["alert.threshold"]);
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2", alert: { customerId, meterKey: "", threshold: "1".repeat(31) } }), Code.InvalidArgument, "INVALID_DECIMAL", ["alert.threshold"]);
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2", alert: { customerId, meterKey: "", threshold: "0.00" } }), Code.InvalidArgument, "INVALID_FIELD", ["alert.threshold"]);
    await assertRefused(clients.billing.createAlert({ requestId: "alert-2" }), Code.InvalidArgument, "INVALID_FIELD", ["alert"]);
    const readKey = await tally.createKey("read");
    await assertRefused(tally.clients("grpc", readKey).billing.createAlert({ requestId: "alert-3", alert: { customerId, meterKey: "", threshold: "3" } }), Code.PermissionDenied, "ROLE_NOT_PERMITTED");
  });

  it("WatchAlerts: an alert fires when the usage reaching its threshold commits, live, once per period", async () => {
    const clients = tally.clients();
    const watching = take((signal) => clients.billing.watchAlerts({ afterCursor: "" }, { signal }), (message) => message.events, 1);
    await record(clients, customerId, "calls-1", "1", "calls");
    await record(clients, customerId, "calls-2", "1", "calls");
    const [event] = await watching;
    assert.equal(event?.customerId, customerId);
    assert.equal(event?.meterKey, "calls");
    assert.equal(event?.value, "2");
    assert.equal(event?.threshold, "2");
    assert.equal(event?.period, "2026-11");
    assert.ok(event?.crossedTime !== undefined);
  });

  it("watch streams share --max-watch-streams with health Watch, and a shutdown ends them UNAVAILABLE at once", async () => {
    const limited = await startTestTally({ maxWatchStreams: 2, shutdownGrace: 10_000 });
    try {
      const clients = limited.clients();
      const health = createClient(Health, createGrpcTransport({ baseUrl: limited.url, interceptors: authInterceptors(TEST_ADMIN_KEY) }));
      const abort = new AbortController();
      const healthWatch = health.watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();
      await healthWatch.next();
      const feed = clients.usage.watchUsage({ afterCursor: "" })[Symbol.asyncIterator]();
      const feedEnded = feed.next().then(
        () => "ended",
        (error: unknown) => (error instanceof ConnectError ? Code[error.code] : String(error)),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await assertRefused(
        take((signal) => clients.billing.watchAlerts({ afterCursor: "" }, { signal }), (message) => message.events, 1),
        Code.ResourceExhausted,
        "WATCH_LIMIT_REACHED",
      );
      abort.abort();
      const started = performance.now();
      await limited.stop();
      assert.equal(await feedEnded, "Unavailable");
      assert.ok(performance.now() - started < 5_000, "the watch did not hold the shutdown for its grace time");
    } finally {
      await limited.stop();
    }
  });

  it("a watch ends UNAVAILABLE / STREAM_LIFETIME_REACHED at --max-stream-lifetime, and gives its slot back", async () => {
    const short = await startTestTally({ maxStreamLifetime: 500, maxWatchStreams: 1 });
    try {
      const clients = short.clients();
      for (let attempt = 0; attempt < 2; attempt++) {
        await assertRefused(
          take((signal) => clients.usage.watchUsage({ afterCursor: "" }, { signal }), (message) => message.changes, 1, 5000),
          Code.Unavailable,
          "STREAM_LIFETIME_REACHED",
        );
      }
    } finally {
      await short.stop();
    }
  });

  it("a watch opened with a key ends UNAUTHENTICATED / API_KEY_INVALID soon after the key is revoked, even while idle", async () => {
    const rechecked = await startTestTally({ keyRecheckInterval: 200 });
    try {
      const key = await rechecked.createKey("read");
      const watching = take((signal) => rechecked.clients("grpc", key).usage.watchUsage({ afterCursor: "" }, { signal }), (message) => message.changes, 1, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const store = await openStore(rechecked.db);
      try {
        await createKeyring({ store, clock: systemClock }).revokeKey(apiKeyId(key)!);
      } finally {
        await store.close();
      }
      const revoked = Date.now();
      await assertRefused(watching, Code.Unauthenticated, "API_KEY_INVALID");
      assert.ok(Date.now() - revoked < 3000, `ended ${Date.now() - revoked} ms after the revocation`);
    } finally {
      await rechecked.stop();
    }
  });

  it("across a restart: the feed resumes from a cursor with no gap and no repeat, and an alert crossed before the restart is one event", async () => {
    const scratch = scratchDirectory();
    const db = `${scratch.path}/tally.db`;
    let first: TestTally | undefined = await startTestTally({ db });
    try {
      const clients = first.clients();
      const { customerId: id } = await createCatalogFixture(clients);
      await clients.billing.createAlert({ requestId: "a", alert: { customerId: id, meterKey: "hosting", threshold: "10" } });
      for (let index = 0; index < 6; index++) await record(clients, id, `r-${index}`, "2");
      const before = await take((signal) => clients.usage.watchUsage({ afterCursor: "" }, { signal }), (message) => message.changes, 6);
      await first.stop();
      first = undefined;

      const second = await startTestTally({ db });
      try {
        const again = second.clients();
        await record(again, id, "r-6", "2");
        await again.usage.voidUsage({ requestId: "r-0", reason: "test" });
        const resumed = await take((signal) => again.usage.watchUsage({ afterCursor: before[2]!.cursor }, { signal }), (message) => message.changes, 5);
        assert.deepEqual(described(resumed), [
          "recorded r-3 voided=false",
          "recorded r-4 voided=false",
          "recorded r-5 voided=false",
          "recorded r-6 voided=false",
          "voided r-0 voided=true",
        ]);
        // 10 was reached by r-4 (before the restart); r-6 after the void crossed 10 again in the same period.
        await record(again, id, "r-7", "5");
        const events: AlertEvent[] = await take((signal) => again.billing.watchAlerts({ afterCursor: "" }, { signal }), (message) => message.events, 2, 1500);
        assert.deepEqual(events.map((event) => `${event.period} ${event.value}`), ["2026-11 10"]);
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
      scratch.cleanup();
    }
  });
});
