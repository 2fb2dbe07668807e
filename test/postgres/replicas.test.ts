import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { RecordUsageResponse } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { clientsFor, type TallyClients, transportFor } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { forEachLimited, fromNanoUnits, toNanoUnits } from "../support/crash-audit.js";
import { auditPostgres, createTestDatabase } from "../support/postgres.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Several stateless Tally replicas on one PostgreSQL database, as behind a
// load balancer: the invariants must hold across processes exactly as they do
// inside one. Each request id is sent to all three replicas at the same
// moment; one replica is killed with SIGKILL while the load runs. Every
// replica starts with the test bootstrap key, which every client sends.

const REPLICAS = 3;
/** A call that hangs longer than this is counted as unanswered. */
const CALL_TIMEOUT_MS = 15_000;

/** Clients of one replica: gRPC, or Connect JSON over HTTP/1.1 (a load balancer may speak either). */
function clientsOf(replica: TallyProcess, protocol: "grpc" | "connect"): TallyClients {
  return clientsFor(transportFor(protocol === "grpc" ? "grpc" : "connect-json-h1", replica.url));
}

/** "hosting" is billed at 0.0125 USD per unit; the line's amount rounded half to even to cents, computed here independently. */
function hostingAmount(quantityNano: bigint): string {
  const exact = quantityNano * 125n; // units of 10^-13 USD
  const unit = 10n ** 11n; // one cent in those units
  let cents = exact / unit;
  const remainder = exact % unit;
  if (remainder * 2n > unit || (remainder * 2n === unit && cents % 2n === 1n)) cents += 1n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;
}

/** A quantity with up to three decimals, from a seeded sequence (the seed is printed). */
function quantities(seed: number): () => string {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return fromNanoUnits(BigInt(state % 100_000) * 1_000_000n + 1_000_000n);
  };
}

describe("Replicas: three Tally processes on one PostgreSQL database", () => {
  let url: string;
  let replicas: TallyProcess[] = [];

  before(async () => {
    url = await createTestDatabase("tally_replicas");
    // Started together: they migrate the new database at the same moment.
    replicas = await Promise.all(
      Array.from({ length: REPLICAS }, () => startTallyProcess(url, ["--rate-limit", "0"])),
    );
  });

  after(async () => {
    for (const replica of replicas) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill("SIGKILL");
      await replica.exited;
    }
  });

  it("the same request id sent to all three at once: exactly one record, the same record for every caller, exact bills", async (t) => {
    const seed = Date.now() % 1_000_000;
    t.diagnostic(`seed ${seed}`);
    const next = quantities(seed);
    const clients = replicas.map((replica, index) => clientsOf(replica, index === 1 ? "connect" : "grpc"));
    const { customerId } = await createCatalogFixture(clients[0]!, "dup-acme");
    // The catalog was created through replica 0; every replica sees it.
    for (const replicaClients of clients) assert.equal((await replicaClients.customers.getCustomer({ id: "dup-acme" })).customer?.id, customerId);

    const events = Array.from({ length: 240 }, (_, index) => ({ requestId: `dup-${seed}-${index}`, quantity: next() }));
    const anomalies: string[] = [];
    await forEachLimited(events, 16, async (event) => {
      const answers: RecordUsageResponse[] = await Promise.all(
        clients.map((replicaClients) =>
          replicaClients.usage.recordUsage(
            { requestId: event.requestId, customerId, meterKey: "hosting", quantity: event.quantity },
            { timeoutMs: CALL_TIMEOUT_MS },
          ),
        ),
      );
      const firsts = answers.filter((answer) => !answer.replayed).length;
      if (firsts !== 1) anomalies.push(`${event.requestId}: ${firsts} callers were told they recorded it`);
      const records = new Set(answers.map((answer) => JSON.stringify(answer.record, (_, value: unknown) => (typeof value === "bigint" ? `${value}n` : value))));
      if (records.size !== 1) anomalies.push(`${event.requestId}: callers saw different records ${[...records].join(" / ")}`);
      if (answers[0]!.record?.quantity !== event.quantity) anomalies.push(`${event.requestId}: recorded ${answers[0]!.record?.quantity}`);
    });
    assert.deepEqual(anomalies, []);

    const audit = await auditPostgres(url);
    assert.deepEqual(audit.duplicateRequestIds, []);
    assert.deepEqual(audit.totalsMismatches, []);
    const total = events.reduce((sum, event) => sum + toNanoUnits(event.quantity), 0n);
    for (const replicaClients of clients) {
      const { bill } = await replicaClients.billing.getCurrentBill({ customerId });
      const line = bill!.lines.find((candidate) => candidate.meterKey === "hosting");
      assert.equal(line?.quantity, fromNanoUnits(total));
      assert.equal(line?.amount, hostingAmount(total));
      assert.equal(bill!.total, hostingAmount(total));
    }
  });

  it("kill -9 of one replica mid-load: every acknowledged event is there exactly once, and retries settle the rest", async (t) => {
    const seed = (Date.now() + 1) % 1_000_000;
    t.diagnostic(`seed ${seed}`);
    const next = quantities(seed);
    const clients = replicas.map((replica, index) => clientsOf(replica, index === 0 ? "connect" : "grpc"));
    const { customerId } = await createCatalogFixture(clients[0]!, "kill-acme");
    const victim = 2;

    const sent = new Map<string, string>(); // request id → quantity
    const acknowledged = new Map<string, string>(); // request id → record id
    const anomalies: string[] = [];
    let stop = false;
    let counter = 0;

    /** Sends one event to the given replicas at once; an answer is an acknowledgement. */
    async function send(targets: number[]): Promise<void> {
      const requestId = `kill-${seed}-${counter++}`;
      const quantity = next();
      sent.set(requestId, quantity);
      await Promise.all(
        targets.map(async (target) => {
          try {
            const answer = await clients[target]!.usage.recordUsage(
              { requestId, customerId, meterKey: "hosting", quantity },
              { timeoutMs: CALL_TIMEOUT_MS },
            );
            const known = acknowledged.get(requestId);
            if (known !== undefined && known !== answer.record?.id) anomalies.push(`${requestId}: two record ids ${known}, ${answer.record?.id}`);
            acknowledged.set(requestId, answer.record!.id);
          } catch (error) {
            if (target !== victim) anomalies.push(`${requestId} on survivor ${target}: ${String(error)}`);
          }
        }),
      );
    }

    // Half the loops send each id to all three replicas at once; the other half only to the victim,
    // so that what the victim alone acknowledged before dying is put to the test.
    const loops = Array.from({ length: 8 }, async (_, loop) => {
      while (!stop) {
        if (loop % 2 === 0) await send([0, 1, 2]);
        else if (replicas[victim]!.child.signalCode === null) await send([victim]);
        else await send([loop % 4 === 1 ? 0 : 1]);
      }
    });
    await delay(2_000);
    replicas[victim]!.child.kill("SIGKILL");
    await replicas[victim]!.exited;
    const acknowledgedAtKill = acknowledged.size;
    await delay(1_500);
    stop = true;
    await Promise.all(loops);
    t.diagnostic(`${sent.size} events sent, ${acknowledgedAtKill} acknowledged when the victim died, ${acknowledged.size} in all`);
    assert.deepEqual(anomalies, []);
    assert.ok(acknowledgedAtKill > 20, "the load was running when the replica was killed");

    // Every acknowledged event is in the ledger exactly once, as acknowledged.
    const audit = await auditPostgres(url);
    assert.deepEqual(audit.duplicateRequestIds, []);
    assert.deepEqual(audit.totalsMismatches, []);
    for (const [requestId, recordId] of acknowledged) {
      assert.equal(audit.usage.get(requestId)?.id, recordId, `${requestId} acknowledged as ${recordId}`);
      assert.equal(audit.usage.get(requestId)?.quantity, sent.get(requestId));
    }
    // What the victim never answered is settled by a retry on a survivor: recorded or replayed, never twice.
    for (const [requestId, quantity] of sent) {
      if (acknowledged.has(requestId)) continue;
      const answer = await clients[0]!.usage.recordUsage({ requestId, customerId, meterKey: "hosting", quantity });
      assert.equal(answer.replayed, audit.usage.has(requestId), `${requestId}: replayed exactly when the victim had committed it`);
    }
    const total = [...sent.values()].reduce((sum, quantity) => sum + toNanoUnits(quantity), 0n);
    for (const survivor of [0, 1]) {
      const { bill } = await clients[survivor]!.billing.getCurrentBill({ customerId });
      assert.equal(bill!.lines.find((line) => line.meterKey === "hosting")?.quantity, fromNanoUnits(total));
      assert.equal(bill!.total, hostingAmount(total));
    }
    assert.deepEqual((await auditPostgres(url)).totalsMismatches, []);
  });
});
