import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createBilling } from "../../src/domain/billing.js";
import { Decimal } from "../../src/domain/decimal.js";
import { valueOrThrow } from "../../src/domain/failure.js";
import type { Store } from "../../src/domain/store.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { scratchDirectory } from "../support/tally-process.js";
import { TestClock } from "../support/test-tally.js";

// Bill revisions (src/domain/bill-revisions.ts) over a real SQLite store: the
// background finalizer's sweep (what it finalizes, and that once a period is
// swept it does not scan it again), and a revision a crash left pending.

describe("bill revisions over a store", () => {
  const scratch = scratchDirectory();
  after(() => scratch.cleanup());

  it("finalizes due periods oldest first, in pages of `limit`, and scans nothing more until another period is final", async () => {
    const opened = openSqliteStore({ path: join(scratch.path, "sweep.db") });
    let scans = 0;
    const store: Store = Object.assign(Object.create(opened) as Store, {
      periodsToFinalize: (...args: Parameters<Store["periodsToFinalize"]>) => {
        scans++;
        return opened.periodsToFinalize(...args);
      },
    });
    const clock = new TestClock(Date.UTC(2026, 10, 15));
    const billing = createBilling({ store, clock, timeRules: { finalizeGraceMs: 24 * 3_600_000, maxEventTimeAheadMs: 300_000 } });
    try {
      await opened.createMeter("default", "m", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
      for (const id of ["cus_a", "cus_b"]) {
        await opened.createCustomer("default", id, { id, externalId: "", displayName: id, currencyCode: "USD", createTime: 1 });
        for (const [period, day] of [["2026-10", Date.UTC(2026, 9, 5)], ["2026-11", Date.UTC(2026, 10, 5)]] as const) {
          await opened.recordUsage(
            "default",
            [{ record: { id: `${id}-${period}`, requestId: `${id}-${period}`, customerId: id, meterKey: "hosting", quantity: Decimal.parse("1")!, eventTime: day, requestedEventTime: day, createTime: day, period, attributes: {} } }],
            false,
          );
        }
      }
      const errors: unknown[] = [];
      const onError = (error: unknown) => errors.push(error);
      // November 15: October is final (its end + 24 h passed), November is not.
      assert.equal(await billing.revisions.finalizeDue(1, onError), 1);
      assert.equal(await billing.revisions.finalizeDue(1, onError), 1);
      assert.equal(await billing.revisions.finalizeDue(1, onError), 0); // a short page: October is swept
      const scansAfterOctober = scans;
      assert.equal(await billing.revisions.finalizeDue(1, onError), 0);
      assert.equal(scans, scansAfterOctober, "a swept period is not scanned again");
      assert.equal((await opened.findBillRevision("default", "cus_a", "2026-10", 1))?.revision, 1);
      assert.equal(await opened.findBillRevision("default", "cus_a", "2026-11", 1), undefined);

      clock.set(Date.UTC(2026, 11, 2)); // November is final now
      assert.equal(await billing.revisions.finalizeDue(10, onError), 2);
      assert.equal(scans, scansAfterOctober + 1);
      assert.equal((await opened.findBillRevision("default", "cus_b", "2026-11", 0))?.revision, 1);
      assert.deepEqual(errors, []);
    } finally {
      await opened.close();
    }
  });

  it("a revision a crash left pending is written by the next read, from the totals after its own correction, and the next correction goes on after it", async () => {
    const opened = openSqliteStore({ path: join(scratch.path, "pending.db") });
    const clock = new TestClock(Date.UTC(2026, 11, 2));
    const billing = createBilling({ store: opened, clock, timeRules: { finalizeGraceMs: 24 * 3_600_000, maxEventTimeAheadMs: 300_000 } });
    const event = (requestId: string, quantity: string) => {
      const day = Date.UTC(2026, 10, 5);
      return { id: requestId, requestId, customerId: "cus_a", meterKey: "hosting", quantity: Decimal.parse(quantity)!, eventTime: day, requestedEventTime: day, createTime: day, period: "2026-11", attributes: {} };
    };
    try {
      await opened.createMeter("default", "m", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
      await opened.createCustomer("default", "c", { id: "cus_a", externalId: "", displayName: "A", currencyCode: "USD", createTime: 1 });
      await opened.recordUsage("default", [{ record: event("a", "1") }], false);
      assert.equal(valueOrThrow(await billing.getBill("default", "cus_a", "2026-11")).revision, 1);
      // The correction committed with its pending revision, then the process died before writing its bill.
      const cut = await opened.correctUsage("default", "cus_a", "2026-11", { kind: "record", write: { record: event("fix-1", "2") } });
      assert.equal(cut.kind === "corrected" && cut.revision, 2);
      assert.equal(await opened.pendingBillRevision("default", "cus_a", "2026-11"), 2);

      const read = valueOrThrow(await billing.getBill("default", "cus_a", "2026-11"));
      assert.deepEqual([read.revision, read.lines.map((line) => line.quantity.toString())], [2, ["3"]]);
      assert.equal(await opened.pendingBillRevision("default", "cus_a", "2026-11"), undefined);

      // Left pending again, and a correction comes first: it writes revision 3 (after fix-2), then its own 4.
      await opened.correctUsage("default", "cus_a", "2026-11", { kind: "record", write: { record: event("fix-2", "4") } });
      const next = await billing.revisions.correct("default", "cus_a", "2026-11", { kind: "record", write: { record: event("fix-3", "8") } });
      assert.equal(next.kind === "corrected" && next.revision, 4);
      const quantities = await Promise.all([2, 3, 4].map(async (revision) => valueOrThrow(await billing.getBill("default", "cus_a", "2026-11", revision)).lines[0]!.quantity.toString()));
      assert.deepEqual(quantities, ["3", "7", "15"]);
    } finally {
      await opened.close();
    }
  });
});
