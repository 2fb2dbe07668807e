import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { clientsFor, type Protocol, type TallyClients, transportFor } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { auditDatabase, type DatabaseAudit, forEachLimited, fromNanoUnits, toNanoUnits } from "../support/crash-audit.js";
import { seededRandom } from "../support/seeded-random.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Invariant 2, "acknowledged means durable", tried the hard way: the real
// server process is killed with SIGKILL while eight clients ingest over gRPC,
// gRPC-Web and Connect, then restarted on the same file. What the clients were
// told must still be true; what they were not told must be settled by a retry
// without ever counting an event twice.
//
// Note: SIGKILL ends the process, not the machine, so the OS page cache
// survives; this proves commit-before-acknowledge and no half-written
// transaction, not fsync behaviour on power loss.

/** Eight ingest loops, each on its own connection. */
const WORKER_PROTOCOLS: Protocol[] = [
  "grpc",
  "connect-binary-h1",
  "connect-json-h2",
  "grpc",
  "connect-json-h1",
  "connect-binary-h2",
  "grpc",
  "grpc-web-h2",
];
const KILL_CYCLES = 3;
/** A call that hangs longer than this after the kill is counted as in doubt. */
const CALL_TIMEOUT_MS = 5_000;

type MeterKey = "hosting" | "egress" | "calls" | "seats";

/** One usage event as a client sent it (quantities already in canonical spelling). */
interface UsageEvent {
  requestId: string;
  /** The customer's Tally id or external_id "acme"; a retry may use either. */
  customerRef: string;
  meterKey: MeterKey;
  quantity: string;
}

/** Everything the clients were told, across kills. */
class ClientView {
  readonly events = new Map<string, UsageEvent>();
  /** request_id → the record id a response carried. */
  readonly acknowledged = new Map<string, string>();
  /** Responses that said replayed=false, per request_id: never more than one. */
  readonly firstRecordings = new Map<string, number>();
  /** Voids sent, by the voided record's request_id. */
  readonly voids = new Map<string, { reason: string; acknowledged: boolean }>();
  /** Broken promises seen while ingesting; the test fails if any. */
  readonly anomalies: string[] = [];
  /** Acknowledged request_ids in acknowledgement order, for duplicates and voids to pick from. */
  readonly acknowledgedOrder: string[] = [];

  acknowledge(event: UsageEvent, response: { record?: { id: string; requestId: string; meterKey: string; quantity: string }; replayed: boolean }): void {
    const record = response.record;
    if (record === undefined) {
      this.anomalies.push(`${event.requestId}: a response without a record`);
      return;
    }
    if (record.requestId !== event.requestId || record.meterKey !== event.meterKey || record.quantity !== event.quantity) {
      this.anomalies.push(`${event.requestId}: answered with ${JSON.stringify(record)}`);
    }
    const known = this.acknowledged.get(event.requestId);
    if (known === undefined) {
      this.acknowledged.set(event.requestId, record.id);
      this.acknowledgedOrder.push(event.requestId);
    } else if (known !== record.id) {
      this.anomalies.push(`${event.requestId}: two record ids, ${known} and ${record.id}`);
    }
    if (!response.replayed) {
      const count = (this.firstRecordings.get(event.requestId) ?? 0) + 1;
      this.firstRecordings.set(event.requestId, count);
      if (count > 1) this.anomalies.push(`${event.requestId}: replayed=false ${count} times`);
    }
  }

  inDoubt(): UsageEvent[] {
    return [...this.events.values()].filter((event) => !this.acknowledged.has(event.requestId));
  }

  /** The billable quantity per meter the events not voided add up to. */
  expectedQuantities(): Map<MeterKey, bigint> {
    const quantities = new Map<MeterKey, bigint>();
    for (const event of this.events.values()) {
      if (this.voids.has(event.requestId)) continue;
      const current = quantities.get(event.meterKey);
      const quantity = toNanoUnits(event.quantity);
      switch (event.meterKey) {
        case "hosting":
        case "egress":
          quantities.set(event.meterKey, (current ?? 0n) + quantity);
          break;
        case "calls":
          quantities.set(event.meterKey, (current ?? 0n) + toNanoUnits("1"));
          break;
        case "seats":
          quantities.set(event.meterKey, current === undefined || quantity > current ? quantity : current);
          break;
      }
    }
    return quantities;
  }
}

describe("Invariant 2: acknowledged means durable", () => {
  const scratch = scratchDirectory("tally-crash-");
  const db = join(scratch.path, "tally.db");
  let tally: TallyProcess | undefined;

  after(async () => {
    if (tally !== undefined && tally.child.exitCode === null && tally.child.signalCode === null) {
      tally.child.kill("SIGKILL");
      await tally.exited;
    }
    scratch.cleanup();
  });

  it("kill -9 during concurrent ingest loses no acknowledged write and doubles none", async (t) => {
    const seed = Date.now() % 1_000_000;
    t.diagnostic(`seed ${seed}`);
    const random = seededRandom(seed).next;
    const view = new ClientView();

    tally = await startTallyProcess(db);
    const { customerId } = await createCatalogFixture(clientsFor(transportFor("grpc", tally.url)));
    const customerRefs = [customerId, "acme"];

    function newEvent(cycle: number, worker: number, n: number): UsageEvent {
      const meterKey = (["hosting", "egress", "calls", "seats"] as const)[Math.floor(random() * 4)]!;
      const thousandths = BigInt(Math.floor(random() * 200_000));
      const quantity =
        meterKey === "hosting" || meterKey === "egress"
          ? fromNanoUnits(thousandths * 1_000_000n)
          : meterKey === "calls"
            ? "1"
            : String(1 + Math.floor(random() * 500));
      const event = { requestId: `crash-${cycle}-${worker}-${n}`, customerRef: customerRefs[n % 2]!, meterKey, quantity };
      view.events.set(event.requestId, event);
      return event;
    }

    async function record(clients: TallyClients, event: UsageEvent): Promise<void> {
      const response = await clients.usage.recordUsage(
        { requestId: event.requestId, customerId: event.customerRef, meterKey: event.meterKey, quantity: event.quantity },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      view.acknowledge(event, response);
    }

    async function voidOne(clients: TallyClients, requestId: string): Promise<void> {
      const reason = `duplicate meter reading ${requestId}`;
      view.voids.set(requestId, { reason, acknowledged: false });
      const response = await clients.usage.voidUsage({ requestId, reason }, { timeoutMs: CALL_TIMEOUT_MS });
      if (response.record?.id !== view.acknowledged.get(requestId) || response.record?.voided !== true) {
        view.anomalies.push(`void of ${requestId} answered with ${JSON.stringify(response.record)}`);
      }
      view.voids.get(requestId)!.acknowledged = true;
    }

    for (let cycle = 1; cycle <= KILL_CYCLES; cycle++) {
      const running: TallyProcess = tally;
      const stop = { killed: false };
      const acknowledgedBefore = view.acknowledged.size;
      const workerClients = WORKER_PROTOCOLS.map((protocol) => clientsFor(transportFor(protocol, running.url)));

      // Each loop mixes new events, a retry of its last event as if the
      // response had been lost, the same new event sent at once over two
      // connections, late duplicates of acknowledged events, and voids.
      const ready = WORKER_PROTOCOLS.map(() => {
        let resolve!: () => void;
        const promise = new Promise<void>((settle) => (resolve = settle));
        return { promise, resolve };
      });
      const ingest = async (worker: number): Promise<void> => {
        const own = workerClients[worker]!;
        const peer = workerClients[(worker + 1) % workerClients.length]!;
        for (let n = 0; !stop.killed; n++) {
          const roll = random();
          try {
            if (roll < 0.05 && view.acknowledgedOrder.length > 0) {
              const old = view.acknowledgedOrder[Math.floor(random() * view.acknowledgedOrder.length)]!;
              await record(own, { ...view.events.get(old)!, customerRef: customerRefs[n % 2]! });
            } else if (roll < 0.08 && view.acknowledgedOrder.length > 0) {
              const target = view.acknowledgedOrder.find((requestId) => !view.voids.has(requestId));
              if (target !== undefined) await voidOne(own, target);
            } else {
              const event = newEvent(cycle, worker, n);
              if (roll < 0.14) {
                await Promise.all([record(own, event), record(peer, event)]);
              } else if (roll < 0.2) {
                await record(own, event);
                await record(own, event);
              } else {
                await record(own, event);
              }
            }
            ready[worker]!.resolve();
          } catch (error) {
            if (!stop.killed) view.anomalies.push(`worker ${worker}: a call failed before the kill: ${String(error)}`);
            return;
          }
        }
      };
      const workers = WORKER_PROTOCOLS.map((_, worker) => ingest(worker));

      // The kill comes at a random moment once every loop is under way (a
      // fresh process answers its first calls slowly while it warms up).
      await Promise.race([Promise.all(ready.map((signal) => signal.promise)), delay(10_000, undefined, { ref: false })]);
      const killAfterMs = 200 + Math.floor(random() * 600);
      await delay(killAfterMs);
      stop.killed = true;
      running.child.kill("SIGKILL");
      await Promise.all(workers);
      assert.deepEqual(await running.exited, { code: null, signal: "SIGKILL" });

      const doubtful = view.inDoubt();
      const acknowledgedNow = view.acknowledged.size - acknowledgedBefore;
      t.diagnostic(`cycle ${cycle}: killed after ${killAfterMs} ms; ${acknowledgedNow} newly acknowledged, ${doubtful.length} in doubt`);
      assert.deepEqual(view.anomalies, [], "anomalies while ingesting");
      assert.ok(acknowledgedNow >= WORKER_PROTOCOLS.length, `only ${acknowledgedNow} events were acknowledged before the kill`);

      // The file as the crash left it, before any server touches it again.
      const audit = auditDatabase(db);
      assertLedgerSound(audit);
      for (const [requestId, recordId] of view.acknowledged) {
        const stored = audit.usage.get(requestId);
        assert.equal(stored?.id, recordId, `acknowledged ${requestId} is missing after the kill`);
        assert.equal(stored!.quantity, view.events.get(requestId)!.quantity);
        assert.equal(stored!.customerId, customerId);
      }
      for (const stored of audit.usage.values()) {
        assert.ok(view.events.has(stored.requestId), `a row nobody sent: ${stored.requestId}`);
        if (stored.voided) assert.ok(view.voids.has(stored.requestId), `a void nobody sent: ${stored.requestId}`);
      }
      for (const [requestId, sent] of view.voids) {
        if (sent.acknowledged) assert.equal(audit.usage.get(requestId)?.voided, true, `acknowledged void of ${requestId} was lost`);
      }

      tally = await startTallyProcess(db);
      const clients = clientsFor(transportFor("grpc", tally.url));

      // Acknowledged this cycle: readable by id, and a retry is a replay.
      const newlyAcknowledged = view.acknowledgedOrder.slice(acknowledgedBefore);
      await forEachLimited(newlyAcknowledged, 16, async (requestId) => {
        const recordId = view.acknowledged.get(requestId)!;
        const { record } = await clients.usage.getUsageRecord({ id: recordId });
        assert.equal(record?.requestId, requestId);
        assert.equal(record?.quantity, view.events.get(requestId)!.quantity);
        const event = view.events.get(requestId)!;
        const retry = await clients.usage.recordUsage({ requestId, customerId, meterKey: event.meterKey, quantity: event.quantity });
        assert.equal(retry.replayed, true, `retry of acknowledged ${requestId}`);
        assert.equal(retry.record?.id, recordId);
      });

      // In doubt: a retry settles each one, replayed exactly when the crash
      // had committed it, recorded otherwise.
      await forEachLimited(doubtful, 16, async (event) => {
        const committed = audit.usage.get(event.requestId);
        const response = await clients.usage.recordUsage({
          requestId: event.requestId,
          customerId: event.customerRef,
          meterKey: event.meterKey,
          quantity: event.quantity,
        });
        assert.equal(response.replayed, committed !== undefined, `retry of in-doubt ${event.requestId}`);
        if (committed !== undefined) assert.equal(response.record?.id, committed.id);
        view.acknowledge(event, response);
      });
      for (const [requestId, sent] of view.voids) {
        if (sent.acknowledged) continue;
        const response = await clients.usage.voidUsage({ requestId, reason: sent.reason });
        assert.equal(response.replayed, audit.usage.get(requestId)?.voided === true, `retry of in-doubt void of ${requestId}`);
        assert.equal(response.record?.voided, true);
        sent.acknowledged = true;
      }
      assert.deepEqual(view.anomalies, [], "anomalies while settling the in-doubt calls");
      assert.equal(view.inDoubt().length, 0);

      // Now every event ever sent is recorded exactly once.
      const listed = new Map<string, number>();
      let pageToken = "";
      do {
        const page = await clients.usage.listUsageRecords({ customerId, pageSize: 1000, pageToken });
        for (const record of page.records) {
          listed.set(record.requestId, (listed.get(record.requestId) ?? 0) + 1);
          assert.equal(record.voided, view.voids.has(record.requestId), `voided flag of ${record.requestId}`);
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual([...listed.entries()].filter(([, count]) => count !== 1), [], "request_ids listed more than once");
      assert.deepEqual([...view.events.keys()].filter((requestId) => !listed.has(requestId)), [], "events never recorded");
      assert.equal(listed.size, view.events.size);

      // And the bill counts each of them once.
      const { bill } = await clients.billing.getCurrentBill({ customerId });
      const billed = new Map((bill?.lines ?? []).map((line) => [line.meterKey, toNanoUnits(line.quantity)]));
      const expected = view.expectedQuantities();
      assert.deepEqual(
        Object.fromEntries([...billed].map(([meterKey, quantity]) => [meterKey, fromNanoUnits(quantity)])),
        Object.fromEntries([...expected].map(([meterKey, quantity]) => [meterKey, fromNanoUnits(quantity)])),
      );
    }

    // A clean stop at the end, and the file audited once more.
    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    const final = auditDatabase(db);
    assertLedgerSound(final);
    assert.equal(final.usage.size, view.events.size);
    assert.equal([...final.usage.values()].filter((stored) => stored.voided).length, view.voids.size);
  });
});

function assertLedgerSound(audit: DatabaseAudit): void {
  assert.deepEqual(audit.integrity, ["ok"]);
  assert.deepEqual(audit.duplicateRequestIds, []);
  assert.deepEqual(audit.totalsMismatches, []);
  assert.ok(audit.totalsCompared > 0, "no running totals to compare");
}
