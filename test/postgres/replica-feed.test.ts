import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { UsageChangeKind } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { clientsFor, type TallyClients, transportFor } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { forEachLimited } from "../support/crash-audit.js";
import { createTestDatabase } from "../support/postgres.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Two Tally replicas on one PostgreSQL database commit usage at the same time
// while a watcher follows the feed through one of them: every change,
// whichever replica committed it and in whatever order the transactions
// ended, reaches the watcher exactly once. Alerts decided by two replicas at
// once fire once.

const REPLICAS = 2;

describe("Replicas: the usage feed and alerts with two Tally processes on one PostgreSQL database", () => {
  let replicas: TallyProcess[] = [];
  let clients: TallyClients[] = [];

  before(async () => {
    const url = await createTestDatabase("tally_replica_feed");
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startTallyProcess(url, ["--rate-limit", "0", "--feed-poll-interval", "100ms"])));
    clients = replicas.map((replica) => clientsFor(transportFor("grpc", replica.url)));
  });

  after(async () => {
    for (const replica of replicas) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill("SIGKILL");
      await replica.exited;
    }
  });

  it("a watcher of one replica sees every change committed by both, once, while they commit concurrently", async () => {
    const customers: string[] = [];
    for (let index = 0; index < 6; index++) customers.push((await createCatalogFixture(clients[0]!, `feed-${index}`)).customerId);
    const events = Array.from({ length: 400 }, (_, index) => ({ requestId: `feed-${index}`, customerId: customers[index % customers.length]!, replica: index % REPLICAS }));
    const expected = new Set<string>();

    const seen: string[] = [];
    const abort = new AbortController();
    let lastCursor = "";
    const watching = (async () => {
      try {
        for await (const message of clients[0]!.usage.watchUsage({ afterCursor: "" }, { signal: abort.signal })) {
          for (const change of message.changes) {
            seen.push(`${change.kind === UsageChangeKind.RECORDED ? "recorded" : "voided"} ${change.record!.requestId}`);
            lastCursor = change.cursor;
          }
        }
      } catch (error) {
        if (!(error instanceof ConnectError && error.code === Code.Canceled)) throw error;
      }
    })();

    await forEachLimited(events, 24, async (event) => {
      const replicaClients = clients[event.replica]!;
      await replicaClients.usage.recordUsage({ requestId: event.requestId, customerId: event.customerId, meterKey: "hosting", quantity: "1" });
      expected.add(`recorded ${event.requestId}`);
      if (Number(event.requestId.split("-")[1]) % 7 === 0) {
        // Voided through the other replica.
        await clients[(event.replica + 1) % REPLICAS]!.usage.voidUsage({ requestId: event.requestId, reason: "test" });
        expected.add(`voided ${event.requestId}`);
      }
    });
    const deadline = Date.now() + 15_000;
    while (seen.length < expected.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything more would be a repeat
    abort.abort();
    await watching;

    const counts = new Map<string, number>();
    for (const change of seen) counts.set(change, (counts.get(change) ?? 0) + 1);
    assert.deepEqual([...counts].filter(([, count]) => count > 1), [], "no change twice");
    assert.deepEqual([...expected].filter((change) => !counts.has(change)), [], "no change missed");
    assert.equal(seen.length, expected.size);

    // The other replica resumes from the watcher's last cursor with nothing more to send.
    const resumed = new AbortController();
    setTimeout(() => resumed.abort(), 500);
    let more = 0;
    try {
      for await (const message of clients[1]!.usage.watchUsage({ afterCursor: lastCursor }, { signal: resumed.signal })) more += message.changes.length;
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === Code.Canceled)) throw error;
    }
    assert.equal(more, 0);
  });

  it("alerts decided by both replicas at once fire once: a meter alert, and bill-total alerts reached only by two writes on different replicas together", async () => {
    // For each customer, replica 0 records 1 seat (12.00) and replica 1 640 GB-hours of hosting (8.00) at the
    // same moment: neither alone reaches the 20.00 alert, both together do. Their transactions lock different
    // totals rows, so only the bill-total lock keeps each from pricing the bill without the other's usage.
    const customers: string[] = [];
    for (let index = 0; index < 10; index++) {
      const { customerId } = await createCatalogFixture(clients[0]!, `alerted-${index}`);
      customers.push(customerId);
      await clients[index % REPLICAS]!.billing.createAlert({ requestId: `total-${index}`, alert: { customerId, meterKey: "", threshold: "20" } });
    }
    await clients[0]!.billing.createAlert({ requestId: "meter-alert", alert: { customerId: customers[0]!, meterKey: "calls", threshold: "20" } });
    await Promise.all(
      customers.flatMap((customerId, index) => [
        clients[0]!.usage.recordUsage({ requestId: `seat-${index}`, customerId, meterKey: "seats", quantity: "1" }),
        clients[1]!.usage.recordUsage({ requestId: `hosting-${index}`, customerId, meterKey: "hosting", quantity: "640" }),
      ]),
    );
    await forEachLimited(Array.from({ length: 60 }, (_, index) => index), 24, async (index) => {
      await clients[index % REPLICAS]!.usage.recordUsage({ requestId: `calls-${index}`, customerId: customers[0]!, meterKey: "calls", quantity: "1" });
    });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 1500);
    const fired: string[] = [];
    try {
      for await (const message of clients[1]!.billing.watchAlerts({ afterCursor: "" }, { signal: abort.signal })) {
        for (const event of message.events) fired.push(`${customers.indexOf(event.customerId)} ${event.meterKey || "total"} ${event.value}`);
      }
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === Code.Canceled)) throw error;
    }
    const totals = customers.map((_, index) => `${index} total 20.00`);
    assert.deepEqual(fired.filter((event) => event.includes("total")).sort(), totals.sort(), fired.join(", "));
    // The calls alert: once, with the value when the crossing write committed (a group may carry several events past 20).
    const calls = fired.filter((event) => event.includes("calls"));
    assert.equal(calls.length, 1, fired.join(", "));
    assert.ok(Number(calls[0]!.split(" ")[2]) >= 20, calls[0]);
  });
});
