import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { auditDatabase, fromNanoUnits, toNanoUnits } from "../support/crash-audit.js";
import { refusal } from "../support/errors.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import type { TallyClients } from "../support/clients.js";
import { healthz, keyedClients, killIfRunning, startFaultServer } from "./fault-harness.js";

// A full disk and a database locked by another process are faults of the
// machine, not of the request: every call they stop must be answered
// UNAVAILABLE (reason STORE_UNAVAILABLE, nothing of SQLite in the message),
// never INTERNAL and never a success that was not stored; the server stays up,
// logs the fault, and takes writes again once space or the lock is back.

/** One event the test sent and what it was told. */
interface SentEvent {
  requestId: string;
  quantity: string;
  outcome: "acknowledged" | "unavailable";
}

/** 30 attributes of 250 characters: about 8 KB per event, so a few fill the last free pages. */
const BULKY_ATTRIBUTES = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`attribute-${i}`, `${i}`.padEnd(250, "x")]));

/** Sends one bulky hosting event; what it was told, asserting it is one of the two honest answers. */
async function sendBulky(clients: TallyClients, customerId: string, event: { requestId: string; quantity: string }): Promise<SentEvent> {
  const call = clients.usage.recordUsage(
    { requestId: event.requestId, customerId, meterKey: "hosting", quantity: event.quantity, attributes: BULKY_ATTRIBUTES },
    { timeoutMs: 30_000 },
  );
  try {
    const response = await call;
    assert.equal(response.replayed, false);
    return { ...event, outcome: "acknowledged" };
  } catch {
    const refused = await refusal(call);
    assert.equal(Code[refused.code], "Unavailable", `${event.requestId}: ${refused.message}`);
    assert.equal(refused.reason, "STORE_UNAVAILABLE");
    assert.doesNotMatch(refused.message, /sqlite|insert|select|update|\.db/i, "the message leaks storage internals");
    return { ...event, outcome: "unavailable" };
  }
}

/** Request ids the server lists for the customer. */
async function listedRequestIds(clients: TallyClients, customerId: string): Promise<string[]> {
  const requestIds: string[] = [];
  let pageToken = "";
  do {
    const page = await clients.usage.listUsageRecords({ customerId, pageSize: 1000, pageToken });
    requestIds.push(...page.records.map((record) => record.requestId));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return requestIds;
}

/** The billed hosting quantity of the customer's current bill. */
async function billedHosting(clients: TallyClients, customerId: string): Promise<string> {
  const { bill } = await clients.billing.getCurrentBill({ customerId });
  return bill?.lines.find((line) => line.meterKey === "hosting")?.quantity ?? "0";
}

/** GET /metrics (Prometheus text). */
async function metricsText(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

/** The sum of a metric's samples whose labels include `labels`. */
function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf("}"));
    if (Object.entries(labels).every(([label, value]) => labelText.includes(`${label}="${value}"`))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Every storage-unavailable log line the server wrote. */
function storageLogLines(tally: TallyProcess): Record<string, unknown>[] {
  return tally.logs.filter((entry) => entry.msg === "store unavailable");
}

/** Settles the refused events once storage is back: each is recorded now (it was not before), once. */
async function settleRefused(clients: TallyClients, customerId: string, sent: SentEvent[]): Promise<void> {
  for (const event of sent.filter((candidate) => candidate.outcome === "unavailable")) {
    const response = await clients.usage.recordUsage({
      requestId: event.requestId,
      customerId,
      meterKey: "hosting",
      quantity: event.quantity,
      attributes: BULKY_ATTRIBUTES,
    });
    assert.equal(response.replayed, false, `${event.requestId} was refused UNAVAILABLE yet had been recorded`);
    event.outcome = "acknowledged";
  }
}

/** After a clean stop: the file is sound and holds exactly the events sent, each once, with matching totals. */
function assertDatabaseHolds(db: string, sent: SentEvent[]): void {
  const audit = auditDatabase(db);
  assert.deepEqual(audit.integrity, ["ok"]);
  assert.deepEqual(audit.duplicateRequestIds, []);
  assert.deepEqual(audit.totalsMismatches, []);
  assert.deepEqual([...audit.usage.keys()].sort(), sent.map((event) => event.requestId).sort());
}

function expectedHosting(sent: SentEvent[]): string {
  return fromNanoUnits(sent.filter((event) => event.outcome === "acknowledged").reduce((sum, event) => sum + toNanoUnits(event.quantity), 0n));
}

describe("storage faults", () => {
  const scratch = scratchDirectory("tally-storage-");
  let tally: TallyProcess | undefined;
  let mounted: string | undefined;

  after(async () => {
    await killIfRunning(tally);
    if (mounted !== undefined) execFileSync("umount", ["-l", mounted]);
    scratch.cleanup();
  });

  it("a full disk answers UNAVAILABLE, acknowledges nothing it did not store, and takes writes again once space is freed", async (t) => {
    // A real filesystem that really fills: a small tmpfs of our own.
    const volume = join(scratch.path, "volume");
    execFileSync("mkdir", ["-p", volume]);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tally-fault-disk", volume], { stdio: "pipe" });
      mounted = volume;
    } catch (error) {
      t.skip(`cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${String(error).split("\n")[0]}`);
      return;
    }
    const db = join(volume, "tally.db");
    tally = await startFaultServer(db);
    const grpc = keyedClients("grpc", tally.url);
    const connect = keyedClients("connect-json-h1", tally.url);
    const { customerId } = await createCatalogFixture(grpc);

    const sent: SentEvent[] = [];
    for (let i = 0; i < 4; i++) {
      const event = await sendBulky(i % 2 === 0 ? grpc : connect, customerId, { requestId: `before-full-${i}`, quantity: `${i + 1}.5` });
      assert.equal(event.outcome, "acknowledged", "writes before the disk filled");
      sent.push(event);
    }

    // Fill every free byte of the volume, 64 KiB and then 4 KiB at a time.
    const ballast = join(volume, "ballast");
    const fd = openSync(ballast, "w");
    let filled = 0;
    for (const chunk of [Buffer.alloc(64 * 1024, 1), Buffer.alloc(4096, 1), Buffer.alloc(512, 1)]) {
      for (;;) {
        try {
          filled += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
    closeSync(fd);
    t.diagnostic(`filled the volume with ${filled} bytes of ballast`);

    // Unary calls over gRPC (the fast path) and Connect, then a batch.
    const whileFull: SentEvent[] = [];
    for (let i = 0; i < 12; i++) {
      whileFull.push(await sendBulky(i % 2 === 0 ? grpc : connect, customerId, { requestId: `while-full-${i}`, quantity: `${i}.25` }));
    }
    const batchIds = [0, 1, 2].map((i) => `while-full-batch-${i}`);
    try {
      const batch = await grpc.usage.batchRecordUsage({
        requests: batchIds.map((requestId) => ({ requestId, customerId, meterKey: "hosting", quantity: "2", attributes: BULKY_ATTRIBUTES })),
      });
      for (const [index, result] of batch.results.entries()) {
        assert.equal(result.result.case, "response", `batch item ${index} while full: ${JSON.stringify(result.result.value)}`);
        whileFull.push({ requestId: batchIds[index]!, quantity: "2", outcome: "acknowledged" });
      }
    } catch {
      const refused = await refusal(grpc.usage.batchRecordUsage({
        requests: batchIds.map((requestId) => ({ requestId, customerId, meterKey: "hosting", quantity: "2", attributes: BULKY_ATTRIBUTES })),
      }));
      assert.equal(Code[refused.code], "Unavailable", refused.message);
      assert.equal(refused.reason, "STORE_UNAVAILABLE");
      for (const requestId of batchIds) whileFull.push({ requestId, quantity: "2", outcome: "unavailable" });
    }
    sent.push(...whileFull);
    const refusedWhileFull = whileFull.filter((event) => event.outcome === "unavailable").length;
    t.diagnostic(`while full: ${whileFull.length - refusedWhileFull} acknowledged, ${refusedWhileFull} UNAVAILABLE`);
    assert.ok(refusedWhileFull > 0, "a full disk refused nothing");

    // The server is up, says why in its log, and reads still answer; what it
    // acknowledged is listed and billed, what it refused is not.
    assert.equal(await healthz(tally.url), 200);
    assert.ok(
      storageLogLines(tally).some((entry) => entry.store === "full"),
      `no "store unavailable" log line with storage "full": ${JSON.stringify(tally.logs.filter((entry) => entry.level !== 30).slice(0, 3))}`,
    );
    // /metrics reports what happened: the refusals by code and by reason.
    const metrics = await metricsText(tally.url);
    const unavailableCalls = metricSum(metrics, "tally_rpc_calls_total", { method: "billing.v1.UsageService/RecordUsage", code: "Unavailable" });
    assert.equal(unavailableCalls, whileFull.filter((event) => event.outcome === "unavailable" && !event.requestId.includes("batch")).length);
    assert.ok(metricSum(metrics, "tally_usage_events_total", { outcome: "refused", reason: "STORE_UNAVAILABLE" }) >= unavailableCalls);
    const listed = new Set(await listedRequestIds(connect, customerId));
    for (const event of sent) assert.equal(listed.has(event.requestId), event.outcome === "acknowledged", `${event.requestId} (${event.outcome})`);
    assert.equal(await billedHosting(grpc, customerId), expectedHosting(sent));

    // Space is back: the refused events go through (recorded now, not replays).
    unlinkSync(ballast);
    await settleRefused(grpc, customerId, sent);
    for (let i = 0; i < 3; i++) sent.push(await sendBulky(connect, customerId, { requestId: `after-full-${i}`, quantity: "1" }));
    assert.ok(sent.every((event) => event.outcome === "acknowledged"), "writes after space was freed");
    assert.equal(await billedHosting(grpc, customerId), expectedHosting(sent));

    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    assertDatabaseHolds(db, sent);
  });

  it("a database locked by another process answers UNAVAILABLE and takes writes again once the lock is released", async (t) => {
    const db = join(scratch.path, "locked.db");
    tally = await startFaultServer(db);
    const grpc = keyedClients("grpc", tally.url);
    const connect = keyedClients("connect-binary-h2", tally.url);
    const { customerId } = await createCatalogFixture(grpc);
    const sent: SentEvent[] = [await sendBulky(grpc, customerId, { requestId: "before-lock", quantity: "3" })];

    // Another process (this one) takes SQLite's write lock and holds it past
    // the 5 s the server waits for it.
    const intruder = new Database(db);
    intruder.exec("BEGIN IMMEDIATE");
    try {
      const settled = { writes: false };
      const writes = Promise.all([
        sendBulky(grpc, customerId, { requestId: "while-locked-grpc", quantity: "4" }),
        sendBulky(connect, customerId, { requestId: "while-locked-connect", quantity: "5" }),
      ]).finally(() => (settled.writes = true));
      // While the writes wait for the lock, the server keeps answering: health,
      // and reads (which need no write lock in WAL mode), without the waiting events.
      assert.equal(await healthz(tally.url), 200);
      assert.equal(await billedHosting(connect, customerId), "3");
      assert.equal(settled.writes, false, "the writes were refused before health and a read were answered: the wait blocked the server");
      const whileLocked = await writes;
      assert.deepEqual(whileLocked.map((event) => event.outcome), ["unavailable", "unavailable"]);
      sent.push(...whileLocked);
      assert.ok(storageLogLines(tally).some((entry) => entry.store === "locked"), 'no "store unavailable" log line with storage "locked"');
      assert.equal(await healthz(tally.url), 200);
    } finally {
      intruder.exec("ROLLBACK");
      intruder.close();
    }
    t.diagnostic("lock released");

    await settleRefused(connect, customerId, sent);
    sent.push(await sendBulky(grpc, customerId, { requestId: "after-lock", quantity: "6" }));

    // A lock released while a write waits for it: the write goes through.
    const briefly = new Database(db);
    briefly.exec("BEGIN IMMEDIATE");
    const waiting = sendBulky(connect, customerId, { requestId: "during-brief-lock", quantity: "7" });
    assert.equal(await healthz(tally.url), 200);
    briefly.exec("ROLLBACK");
    briefly.close();
    const waited = await waiting;
    assert.equal(waited.outcome, "acknowledged", "a write waiting for a lock released in time");
    sent.push(waited);
    assert.equal(await billedHosting(grpc, customerId), expectedHosting(sent));

    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    assertDatabaseHolds(db, sent);
  });
});
