import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { Decimal } from "../../src/domain/decimal.js";
import type { Store, UsageWrite } from "../../src/domain/store.js";
import { type NewUsageRecord, totalsOf } from "../../src/domain/usage-record.js";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const directory = mkdtempSync(join(tmpdir(), "tally-store-"));
after(() => rmSync(directory, { recursive: true, force: true }));
let databases = 0;
const newPath = () => join(directory, `nested/dir/${++databases}.db`);

async function seeded(path: string): Promise<Store> {
  const store = openSqliteStore({ path });
  await store.createCustomer("default", "c1", { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 1 });
  await store.createMeter("default", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, createTime: 1 });
  return store;
}

const record = (requestId: string, quantity: string, overrides: Partial<NewUsageRecord> = {}): NewUsageRecord => ({
  id: `rec_${requestId}`,
  requestId,
  customerId: "cus_1",
  meterKey: "hosting",
  quantity: Decimal.parse(quantity)!,
  eventTime: Date.UTC(2026, 10, 5),
  requestedEventTime: null,
  createTime: Date.UTC(2026, 10, 5),
  period: "2026-11",
  attributes: {},
  ...overrides,
});
const usage = (requestId: string, quantity: string, overrides: Partial<NewUsageRecord> = {}): UsageWrite => ({
  record: record(requestId, quantity, overrides),
});

describe("SQLite store", () => {
  it("creates its directory, runs in WAL with synchronous=FULL, and migrates once", async () => {
    const path = newPath();
    const store = openSqliteStore({ path });
    await store.close();
    const reopened = openSqliteStore({ path }); // migrations already applied: must not re-run
    await reopened.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("user_version", { simple: true }), MIGRATIONS.length);
    db.close();
  });

  it("refuses a database from a newer Tally", () => {
    const path = newPath();
    openSqliteStore({ path }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openSqliteStore({ path }), /newer than this Tally/);
  });

  it("keeps running totals equal to totals recomputed from the records, across voids", async () => {
    const store = await seeded(newPath());
    const outcomes = await store.recordUsage("default", [usage("a", "1.5"), usage("b", "4"), usage("c", "0.25")], false);
    assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["recorded", "recorded", "recorded"]);
    await store.voidUsage("default", "rec_b", "duplicate meter reading", Date.UTC(2026, 10, 6));
    const running = await store.usageTotals("default", "cus_1", "2026-11");
    const recomputed = totalsOf(await store.liveUsageRecords("default", "cus_1", "2026-11"));
    assert.deepEqual(
      running.map((t) => [t.sum.toString(), t.count, t.max.toString()]),
      recomputed.map((t) => [t.sum.toString(), t.count, t.max.toString()]),
    );
    assert.equal(running[0]?.sum.toString(), "1.75");
    assert.equal(running[0]?.max.toString(), "1.5");
    await store.close();
  });

  it("replays an identical request, refuses a changed one, and writes nothing for either", async () => {
    const store = await seeded(newPath());
    await store.recordUsage("default", [usage("a", "2")], false);
    const [replay, mismatch] = await store.recordUsage("default", [usage("a", "2.0", { id: "rec_other" }), usage("a", "3")], false);
    assert.equal(replay?.kind, "replayed");
    assert.equal(replay?.kind === "replayed" && replay.record.id, "rec_a");
    assert.equal(mismatch?.kind === "refused" && mismatch.failure.reason, "REQUEST_ID_REUSED");
    const [totals] = await store.usageTotals("default", "cus_1", "2026-11");
    assert.equal(totals?.sum.toString(), "2");
    assert.equal(totals?.count, 1);
    await store.close();
  });

  it("applies a write's own refusal only to a new request_id: a retry of a recorded event still replays", async () => {
    const store = await seeded(newPath());
    await store.recordUsage("default", [usage("late", "2")], false);
    const closed = { reason: "BILL_FINALIZED" as const, message: "closed", fieldViolations: [] };
    const [replay, refusedNew] = await store.recordUsage("default", [{ ...usage("late", "2"), refusal: closed }, { ...usage("new", "2"), refusal: closed }], false);
    assert.equal(replay?.kind, "replayed");
    assert.equal(refusedNew?.kind === "refused" && refusedNew.failure.reason, "BILL_FINALIZED");
    assert.equal(await store.findUsageByRequestId("default", "new"), undefined);
    await store.close();
  });

  it("rolls back every event of an atomic write when one is refused", async () => {
    const store = await seeded(newPath());
    await store.recordUsage("default", [usage("taken", "1")], false);
    const outcomes = await store.recordUsage("default", [usage("x", "5"), usage("taken", "9"), usage("y", "6")], true);
    assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["aborted", "refused", "aborted"]);
    assert.equal(await store.findUsageByRequestId("default", "x"), undefined);
    const [totals] = await store.usageTotals("default", "cus_1", "2026-11");
    assert.equal(totals?.sum.toString(), "1");
    await store.close();
  });

  it("keeps request ids and data apart per scope", async () => {
    const store = await seeded(newPath());
    await store.createCustomer("other", "c1", { id: "cus_9", externalId: "acme", displayName: "Other Acme", currencyCode: "EUR", createTime: 1 });
    assert.equal((await store.findCustomer("other", "acme"))?.id, "cus_9");
    assert.equal((await store.findCustomer("default", "acme"))?.id, "cus_1");
    assert.equal(await store.findCustomer("other", "cus_1"), undefined);
    await store.close();
  });

  it("keeps what it acknowledged across a reopen", async () => {
    const path = newPath();
    const store = await seeded(path);
    await store.recordUsage("default", [usage("a", "7.125")], false);
    await store.close();
    const reopened = openSqliteStore({ path });
    assert.equal((await reopened.findUsageByRequestId("default", "a"))?.quantity.toString(), "7.125");
    assert.equal((await reopened.usageTotals("default", "cus_1", "2026-11"))[0]?.sum.toString(), "7.125");
    await reopened.close();
  });
});
