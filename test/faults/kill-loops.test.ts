import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createBillingClient, type BillingClient, BillingError } from "../../clients/typescript/src/node.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { auditDatabase, type DatabaseAudit, fromNanoUnits, toNanoUnits } from "../support/crash-audit.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { type FixtureMeter, fixtureBill, type SentUsage, UsageHistory } from "../support/usage-history.js";
import { faultSeed, keyedClients, killIfRunning, startFaultServer } from "./fault-harness.js";
import { seededRandom } from "../support/seeded-random.js";

// Jepsen's set check against kill -9: ingest loops on every protocol and
// shape (unary, batches, the producer's StreamUsage) with duplicates sent at
// once over two connections, late repeats of old events, deliberately bad
// events, and the client library's own retries riding through each restart,
// while the real server process is killed with SIGKILL at random moments and
// restarted on the same port. Every event is tracked as acknowledged, refused
// or in doubt; after each kill the file is audited as the crash left it, and
// at the end what the API lists, what the file holds and what the bills say
// must agree with what the callers were told.
//
// Replay a failure with TALLY_FAULT_SEED=<seed printed> npm run test:faults.
// (SIGKILL ends the process, not the machine: this proves
// commit-before-acknowledge and atomic transactions, not fsync on power loss.)

const KILLS = Number(process.env.TALLY_FAULT_KILLS ?? 8);
const METERS: FixtureMeter[] = ["hosting", "egress", "calls", "seats"];

/** The ways the loops reach the server. */
type Loop =
  | { shape: "unary"; protocol: "grpc" | "connect" | "grpc-web"; httpVersion: "1.1" | "2" }
  | { shape: "batch"; protocol: "grpc" | "connect" | "grpc-web"; httpVersion: "1.1" | "2" }
  | { shape: "producer"; protocol: "grpc" | "connect"; httpVersion: "2" };
const LOOPS: Loop[] = [
  { shape: "unary", protocol: "grpc", httpVersion: "2" },
  { shape: "unary", protocol: "connect", httpVersion: "1.1" },
  { shape: "unary", protocol: "grpc-web", httpVersion: "2" },
  { shape: "unary", protocol: "connect", httpVersion: "2" },
  { shape: "batch", protocol: "grpc", httpVersion: "2" },
  { shape: "batch", protocol: "connect", httpVersion: "1.1" },
  { shape: "producer", protocol: "grpc", httpVersion: "2" },
  { shape: "producer", protocol: "connect", httpVersion: "2" },
];

function retryingClient(loop: Loop, baseUrl: string): BillingClient {
  return createBillingClient({
    baseUrl,
    protocol: loop.protocol,
    httpVersion: loop.httpVersion,
    apiKey: TEST_ADMIN_KEY,
    // Long enough to ride through a kill and a restart most of the time;
    // short enough that some calls give up and stay in doubt.
    timeoutMs: 4_000,
    retry: { maxAttempts: 12, initialBackoffMs: 50, maxBackoffMs: 600, attemptTimeoutMs: 2_500, budget: { maxTokens: 1_000, tokenRatio: 1 } },
  });
}

describe("kill -9 loops", () => {
  const scratch = scratchDirectory("tally-kill-");
  const db = join(scratch.path, "tally.db");
  let tally: TallyProcess | undefined;

  after(async () => {
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("lose no acknowledged event, double none, store no refused one, and keep bills equal to their records", async (t) => {
    const seed = faultSeed();
    t.diagnostic(`seed ${seed} (replay with TALLY_FAULT_SEED=${seed})`);
    try {
      await killLoops(seed, (message) => t.diagnostic(message));
    } catch (error) {
      if (error instanceof Error) error.message = `[seed ${seed}; replay with TALLY_FAULT_SEED=${seed}] ${error.message}`;
      throw error;
    }
  });

  async function killLoops(seed: number, note: (message: string) => void): Promise<void> {
    // The kill schedule has its own sequence, so the loops' draws (whose
    // interleaving depends on timing) do not move it.
    const random = seededRandom(seed);
    const schedule = seededRandom(seed ^ 0x5bd1e995);
    const history = new UsageHistory();
    tally = await startFaultServer(db);
    const port = tally.port;
    const setup = keyedClients("grpc", tally.url);
    const customers = [(await createCatalogFixture(setup, "acme")).customerId, (await createCatalogFixture(setup, "globex")).customerId];

    let serial = 0;
    const newEvent = (loop: number): SentUsage => {
      const meterKey = random.pick(METERS);
      const quantity =
        meterKey === "calls"
          ? "1"
          : meterKey === "seats"
            ? String(random.int(1, 400))
            : `${random.int(0, 3000)}.${String(random.int(0, 999)).padStart(3, "0")}`.replace(/\.?0+$/, "") || "0";
      return { requestId: `kill-${seed}-${loop}-${serial++}`, customerId: random.pick(customers), meterKey, quantity };
    };
    /** An event the server must refuse (INVALID_QUANTITY: the calls meter takes whole numbers). */
    const badEvent = (loop: number): SentUsage => ({ ...newEvent(loop), meterKey: "calls", quantity: "1.5" });

    const stop = { requested: false };
    const loops = LOOPS.map((loop, index) => runLoop(loop, index, retryingClient(loop, tally!.url), retryingClient(LOOPS[(index + 1) % LOOPS.length]!, tally!.url)));

    async function sendUnary(client: BillingClient, event: SentUsage): Promise<void> {
      history.sent(event);
      try {
        const response = await client.recordUsage({ requestId: event.requestId, customerId: event.customerId, meterKey: event.meterKey, quantity: event.quantity });
        history.acknowledged(event, response.record, response.replayed);
      } catch (error) {
        judgeFailure(event, error);
      }
    }

    function judgeFailure(event: SentUsage, error: unknown): void {
      if (error instanceof BillingError && error.outcome === "refused") {
        if (error.reason === "INVALID_QUANTITY") history.refused(event, error.reason);
        else history.anomalies.push(`${event.requestId}: refused ${error.codeName} ${error.reason}: ${error.message}`);
      }
      // Anything else (gave up, a transport error): the event stays in doubt.
    }

    async function runLoop(loop: Loop, index: number, client: BillingClient, peer: BillingClient): Promise<void> {
      const producer = loop.shape === "producer" ? client.usage.producer({ maxBatch: 50, maxDelayMs: 10, via: "auto" }) : undefined;
      while (!stop.requested) {
        const roll = random.next();
        const acknowledged = history.acknowledgedEvents();
        if (roll < 0.06 && acknowledged.length > 0) {
          // A late repeat of an acknowledged event: must replay.
          await sendUnary(client, random.pick(acknowledged));
        } else if (roll < 0.1) {
          await sendUnary(client, badEvent(index));
        } else if (roll < 0.18) {
          // The same new event at once over two connections.
          const event = newEvent(index);
          await Promise.all([sendUnary(client, event), sendUnary(peer, event)]);
        } else if (loop.shape === "unary") {
          await sendUnary(client, newEvent(index));
        } else if (loop.shape === "batch") {
          const events = Array.from({ length: random.int(2, 20) }, () => (random.next() < 0.05 ? badEvent(index) : newEvent(index)));
          // A batch may repeat one of its own events: both items answer the same record.
          if (random.next() < 0.3) events.push(events[0]!);
          events.forEach((event) => history.sent(event));
          try {
            const { results } = await client.batchRecordUsage({
              requests: events.map(({ requestId, customerId, meterKey, quantity }) => ({ requestId, customerId, meterKey, quantity })),
            });
            results.forEach((result, item) => {
              const event = events[item]!;
              if (result.result.case === "response") history.acknowledged(event, result.result.value.record, result.result.value.replayed);
              else if (result.result.value?.reason === "INVALID_QUANTITY") history.refused(event, "INVALID_QUANTITY");
              else history.anomalies.push(`${event.requestId}: batch item refused ${JSON.stringify(result.result.value)}`);
            });
          } catch (error) {
            if (error instanceof BillingError && error.outcome === "refused") history.anomalies.push(`batch refused: ${error.message}`);
          }
        } else {
          const events = Array.from({ length: random.int(5, 40) }, () => (random.next() < 0.05 ? badEvent(index) : newEvent(index)));
          await Promise.all(
            events.map(async (event) => {
              history.sent(event);
              try {
                const { record, replayed } = await producer!.enqueue({ requestId: event.requestId, customerId: event.customerId, meterKey: event.meterKey, quantity: event.quantity });
                history.acknowledged(event, record, replayed);
              } catch (error) {
                judgeFailure(event, error);
              }
            }),
          );
        }
      }
      await producer?.close();
    }

    const audits: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const runMs = schedule.int(300, 1_500);
      await delay(runMs);
      const running: TallyProcess = tally;
      running.child.kill("SIGKILL");
      assert.deepEqual(await running.exited, { code: null, signal: "SIGKILL" });

      // The file as the crash left it: sound, and holding every event
      // acknowledged so far (none can be acknowledged while it is down).
      const audit = auditDatabase(db);
      assertSound(audit, `after kill ${kill}`);
      const lost = history.outcomes().filter(({ event, outcome }) => outcome === "ok" && !audit.usage.has(event.requestId));
      assert.deepEqual(lost.map(({ event }) => event.requestId), [], `acknowledged events missing after kill ${kill}`);
      audits.push(`kill ${kill} after ${runMs} ms: ${audit.usage.size} stored, ${history.inDoubt().length} in doubt`);

      await delay(schedule.int(0, 800));
      tally = await startFaultServer(db, { port });
    }
    note(audits.join("; "));

    stop.requested = true;
    await Promise.all(loops);
    assert.deepEqual(history.anomalies, [], "broken promises while ingesting");

    // Read everything back through the API (every customer, every page)...
    const reader = keyedClients("connect-binary-h2", tally.url);
    const listed: { id: string; requestId: string; quantity: string; customerId: string; meterKey: string; voided: boolean }[] = [];
    for (const customerId of customers) {
      let pageToken = "";
      do {
        const page = await reader.usage.listUsageRecords({ customerId, pageSize: 1000, pageToken });
        listed.push(...page.records);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    }
    const viaApi = history.check(listed);
    note(`checked through the API: ${viaApi.ok} acknowledged, ${viaApi.fail} refused, ${viaApi.info} in doubt (${viaApi.infoStored} of them stored)`);
    assert.deepEqual(viaApi.problems, [], "set check through the API");
    assert.ok(viaApi.ok > KILLS * 10, `only ${viaApi.ok} events were acknowledged`);
    assert.ok(viaApi.fail > 0, "no bad event was sent");

    // ... and each bill equals the one recomputed from its raw records.
    for (const customerId of customers) await assertBillMatches(reader, customerId, listed.filter((record) => record.customerId === customerId));

    // Settle what is in doubt: a retry replays exactly what was stored.
    const storedIds = new Set(listed.map((record) => record.requestId));
    const settler = retryingClient(LOOPS[0]!, tally.url);
    for (const event of history.inDoubt()) {
      const retry = settler.recordUsage({ requestId: event.requestId, customerId: event.customerId, meterKey: event.meterKey, quantity: event.quantity });
      try {
        const response = await retry;
        assert.equal(response.replayed, storedIds.has(event.requestId), `retry of in-doubt ${event.requestId}`);
        history.acknowledged(event, response.record, response.replayed);
      } catch (error) {
        // A bad event whose refusal was lost is refused again (and was never stored).
        assert.ok(error instanceof BillingError && error.reason === "INVALID_QUANTITY", `retry of in-doubt ${event.requestId}: ${String(error)}`);
        history.refused(event, error.reason);
      }
    }

    // A clean stop, and the file agrees with the history too.
    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    const final = auditDatabase(db);
    assertSound(final, "at the end");
    const inFile = history.check(final.usage.values());
    assert.deepEqual(inFile.problems, [], "set check against the file");
    assert.equal(inFile.info, 0);
  }
});

function assertSound(audit: DatabaseAudit, when: string): void {
  assert.deepEqual(audit.integrity, ["ok"], `integrity_check ${when}`);
  assert.deepEqual(audit.duplicateRequestIds, [], `request_ids stored twice ${when}`);
  assert.deepEqual(audit.totalsMismatches, [], `running totals ${when}`);
}

async function assertBillMatches(
  reader: ReturnType<typeof keyedClients>,
  customerId: string,
  records: { meterKey: string; quantity: string; voided: boolean }[],
): Promise<void> {
  const expected = fixtureBill(records.filter((record) => !record.voided));
  const { bill } = await reader.billing.getCurrentBill({ customerId });
  assert.ok(bill !== undefined);
  const billed = Object.fromEntries(bill.lines.map((line) => [line.meterKey, { quantity: normal(line.quantity), amount: normal(line.amount) }]));
  assert.deepEqual(billed, Object.fromEntries(expected.lines), `bill of ${customerId}`);
  assert.equal(normal(bill.total), expected.total, `total of ${customerId}`);
}

/** A decimal string in the checker's canonical spelling ("12.50" → "12.5"). */
function normal(text: string): string {
  return fromNanoUnits(toNanoUnits(text));
}
