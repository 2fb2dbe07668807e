import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Bill } from "../../src/domain/bill.js";
import type { CreditGrant } from "../../src/domain/credits.js";
import { Decimal } from "../../src/domain/decimal.js";
import type { Store } from "../../src/domain/store.js";
import type { NewUsageRecord } from "../../src/domain/usage-record.js";
import type { StoreHarness } from "./store-contract.js";

/**
 * The Store contract of credits and bill revisions (issue 19), run against
 * every adapter from storeContract: grants keyed by request_id, revision 1
 * stored and credits consumed exactly once (also by two stores on one
 * database at once), a correction and its revision written together or not
 * at all, and revisions never rewritten.
 */

const d = (text: string) => Decimal.parse(text)!;
const OCT_10 = Date.UTC(2026, 9, 10);

async function seed(store: Store): Promise<void> {
  await store.createCustomer("default", "c1", { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 1 });
  await store.createMeter("default", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
}

const grant = (id: string, amount: string, overrides: Partial<CreditGrant> = {}): CreditGrant => ({
  id,
  customerId: "cus_1",
  amount: d(amount),
  currencyCode: "USD",
  expireTime: null,
  reason: `grant ${id}`,
  remainingAmount: d(amount),
  createTime: OCT_10,
  ...overrides,
});

/** A bill of `period` with `total`, as the domain hands it to the store (its lines do not matter here). */
const bill = (period: string, total: string, revision = 0, overrides: Partial<Bill> = {}): Bill => ({
  customerId: "cus_1",
  period,
  status: "finalized",
  currencyCode: "USD",
  lines: [{ meterKey: "hosting", displayName: "Hosting", unit: "GB", quantity: d("1.5"), amount: total, priceVersion: 1, priceId: "p", dimensions: {}, tiers: [] }],
  total,
  creditsApplied: "0.00",
  amountDue: total,
  revision,
  asOfTime: Date.UTC(2026, 11, 4),
  startTime: 0,
  endTime: 0,
  finalizeTime: Date.UTC(2026, 11, 4),
  ...overrides,
});

const record = (requestId: string, quantity: string, period = "2026-11"): NewUsageRecord => ({
  id: `rec_${requestId}`,
  requestId,
  customerId: "cus_1",
  meterKey: "hosting",
  quantity: d(quantity),
  eventTime: period === "2026-11" ? Date.UTC(2026, 10, 5) : Date.UTC(2026, 9, 5),
  requestedEventTime: null,
  createTime: Date.UTC(2026, 10, 5),
  period,
  attributes: {},
});

const remaining = async (store: Store) =>
  (await store.listCreditGrants("default", "cus_1", { limit: 100, after: null })).items.map((item) => `${item.id}=${item.remainingAmount}`);

export function creditsContract(name: string, harness: StoreHarness): void {
  async function seeded(): Promise<{ open: () => Promise<Store>; store: Store }> {
    const open = await harness.freshDatabase();
    const store = await open();
    await seed(store);
    return { open, store };
  }

  describe(`Store contract, credits and bill revisions: ${name}`, () => {
    it("grants are keyed by request_id, listed oldest first in pages, and the used-up ones are not usable", async () => {
      const { store } = await seeded();
      assert.equal((await store.createCreditGrant("default", "g1", grant("credit_1", "10.00"))).kind, "created");
      const again = await store.createCreditGrant("default", "g1", grant("credit_other", "99"));
      assert.equal(again.kind, "exists");
      assert.equal(again.value.id, "credit_1");
      assert.equal(again.value.amount.toString(), "10");
      await store.createCreditGrant("default", "g2", grant("credit_2", "5", { expireTime: Date.UTC(2027, 0, 1) }));
      await store.createCreditGrant("default", "g3", grant("credit_3", "1"));
      const first = await store.listCreditGrants("default", "cus_1", { limit: 2, after: null });
      assert.deepEqual(first.items.map((item) => item.id), ["credit_1", "credit_2"]);
      assert.equal(first.items[1]!.expireTime, Date.UTC(2027, 0, 1));
      const rest = await store.listCreditGrants("default", "cus_1", { limit: 2, after: first.nextCursor });
      assert.deepEqual(rest.items.map((item) => item.id), ["credit_3"]);
      assert.equal(rest.nextCursor, null);
      assert.deepEqual((await store.listCreditGrants("other-tenant", "cus_1", { limit: 10, after: null })).items, []);
      // A finalized bill of 10.50 uses credit_2 (expires first), then credit_1: credit_2 is used up.
      await store.finalizeBill("default", bill("2026-11", "10.50"));
      assert.deepEqual((await store.usableCreditGrants("default", "cus_1")).map((item) => `${item.id}=${item.remainingAmount}`).sort(), [
        "credit_1=4.5",
        "credit_3=1",
      ]);
      await store.close();
    });

    it("finalization stores revision 1 and consumes credits exactly once, also when two stores finalize at once", async () => {
      const { open, store } = await seeded();
      const second = await open();
      await store.createCreditGrant("default", "g1", grant("credit_1", "30.00"));
      // Both stores finalize October and November at the same moment, several times over.
      const attempts = [store, second, store, second].flatMap((target) => [
        target.finalizeBill("default", bill("2026-10", "12.00")),
        target.finalizeBill("default", bill("2026-11", "25.00")),
      ]);
      const results = await Promise.all(attempts);
      const october = results.filter((result) => result.period === "2026-10");
      const november = results.filter((result) => result.period === "2026-11");
      for (const stored of [...october, ...november]) assert.equal(stored.revision, 1);
      // Every caller sees the same stored revision of each period.
      assert.equal(new Set(october.map((result) => `${result.creditsApplied}/${result.amountDue}`)).size, 1);
      assert.equal(new Set(november.map((result) => `${result.creditsApplied}/${result.amountDue}`)).size, 1);
      // 30 of credit shared by bills of 12 and 25: whichever finalized first took what it needed, never more than 30 in all.
      const applied = d(october[0]!.creditsApplied).add(d(november[0]!.creditsApplied));
      assert.equal(applied.toString(), "30");
      assert.deepEqual(await remaining(second), ["credit_1=0"]);
      assert.equal((await store.findBillRevision("default", "cus_1", "2026-11", 0))?.revision, 1);
      assert.equal(await store.findBillRevision("default", "cus_1", "2026-11", 2), undefined);
      await second.close();
      await store.close();
    });

    it("a correction writes its usage and a pending revision together; none may write while one is pending; a replay writes nothing; written revisions never change", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [{ record: record("a", "4") }], false);
      await store.createCreditGrant("default", "g1", grant("credit_1", "5.00"));
      const first = await store.finalizeBill("default", bill("2026-11", "4.00"));
      assert.deepEqual([first.revision, first.creditsApplied, first.amountDue], [1, "4.00", "0.00"]);
      assert.equal(await store.pendingBillRevision("default", "cus_1", "2026-11"), undefined);

      const corrected = await store.correctUsage("default", "cus_1", "2026-11", { kind: "record", write: { record: record("fix-1", "2") } });
      assert.deepEqual(corrected.kind === "corrected" && [corrected.revision, corrected.record.id], [2, "rec_fix-1"]);
      assert.deepEqual((await store.usageTotals("default", "cus_1", "2026-11")).map((totals) => totals.sum.toString()), ["6"]);
      assert.equal(await store.pendingBillRevision("default", "cus_1", "2026-11"), 2);
      // A pending revision is not a bill yet: the latest written one is still revision 1.
      assert.equal((await store.findBillRevision("default", "cus_1", "2026-11", 0))?.revision, 1);
      assert.equal(await store.findBillRevision("default", "cus_1", "2026-11", 2), undefined);

      // While revision 2 is pending, another correction writes nothing.
      const blocked = await store.correctUsage("default", "cus_1", "2026-11", { kind: "record", write: { record: record("fix-2", "1") } });
      assert.deepEqual(blocked, { kind: "pending", revision: 2 });
      assert.equal(await store.findUsageByRequestId("default", "fix-2"), undefined);

      await store.writePendingRevision("default", bill("2026-11", "6.00", 2, { creditsApplied: "4.00", amountDue: "2.00" }));
      // Written once: a second write of the same revision changes nothing.
      await store.writePendingRevision("default", bill("2026-11", "99.00", 2));
      assert.equal(await store.pendingBillRevision("default", "cus_1", "2026-11"), undefined);

      // The same correction again: replayed, no revision 3.
      const replay = await store.correctUsage("default", "cus_1", "2026-11", { kind: "record", write: { record: { ...record("fix-1", "2"), id: "rec_other" } } });
      assert.equal(replay.kind, "replayed");
      assert.equal(replay.kind === "replayed" && replay.record.id, "rec_fix-1");
      assert.equal(await store.pendingBillRevision("default", "cus_1", "2026-11"), undefined);

      // A void correction: revision 3; voiding it again writes nothing.
      const voided = await store.correctUsage("default", "cus_1", "2026-11", { kind: "void", recordId: "rec_a", reason: "double count", voidTime: Date.UTC(2026, 11, 10) });
      assert.deepEqual(voided.kind === "corrected" && [voided.revision, voided.record.voided], [3, true]);
      await store.writePendingRevision("default", bill("2026-11", "2.00", 3, { creditsApplied: "2.00", amountDue: "0.00" }));
      const voidAgain = await store.correctUsage("default", "cus_1", "2026-11", { kind: "void", recordId: "rec_a", reason: "double count", voidTime: 1 });
      assert.equal(voidAgain.kind, "already-voided");
      assert.deepEqual((await store.usageTotals("default", "cus_1", "2026-11")).map((totals) => totals.sum.toString()), ["2"]);

      const revisions = await Promise.all([1, 2, 3, 4].map((revision) => store.findBillRevision("default", "cus_1", "2026-11", revision)));
      assert.deepEqual(revisions.map((revision) => revision && `${revision.revision}:${revision.total}/${revision.creditsApplied}/${revision.amountDue}`), [
        "1:4.00/4.00/0.00",
        "2:6.00/4.00/2.00",
        "3:2.00/2.00/0.00",
        undefined,
      ]);
      assert.deepEqual(revisions[0], first);
      assert.ok(revisions[1]!.lines[0]!.quantity instanceof Decimal);
      // Corrections never consume credits again.
      assert.deepEqual(await remaining(store), ["credit_1=1"]);
      await store.close();
    });

    it("concurrent corrections from two stores: each adds exactly one revision, numbered without gaps", async () => {
      const { open, store } = await seeded();
      const second = await open();
      await store.recordUsage("default", [{ record: record("a", "1") }], false);
      await store.finalizeBill("default", bill("2026-11", "1.00"));
      // Each caller writes a pending revision it finds, then goes again, as the domain does.
      const correct = async (target: Store, requestId: string) => {
        for (;;) {
          const outcome = await target.correctUsage("default", "cus_1", "2026-11", { kind: "record", write: { record: record(requestId, "1") } });
          const pending = outcome.kind === "pending" ? outcome.revision : outcome.kind === "corrected" ? outcome.revision : undefined;
          if (pending !== undefined) {
            const sum = (await target.usageTotals("default", "cus_1", "2026-11"))[0]!.sum.toString();
            await target.writePendingRevision("default", bill("2026-11", `${sum}.00`, pending));
          }
          if (outcome.kind !== "pending") return outcome.kind;
        }
      };
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, index) => correct(index % 2 === 0 ? store : second, `fix-${index}`)));
      assert.deepEqual(outcomes, Array(12).fill("corrected"));
      assert.equal((await second.findBillRevision("default", "cus_1", "2026-11", 0))?.revision, 13);
      // Revision n bills the totals after exactly n - 1 corrections: 1 + (n - 1) units.
      for (let revision = 1; revision <= 13; revision++) {
        assert.equal((await store.findBillRevision("default", "cus_1", "2026-11", revision))?.total, revision === 1 ? "1.00" : `${revision}.00`, `revision ${revision}`);
      }
      assert.deepEqual((await store.usageTotals("default", "cus_1", "2026-11")).map((totals) => totals.sum.toString()), ["13"]);
      await second.close();
      await store.close();
    });

    it("lists the periods with usage and no revision in a range, oldest first, across tenants", async () => {
      const { store } = await seeded();
      await store.createCustomer("t2", "c1", { id: "cus_1", externalId: "", displayName: "Other", currencyCode: "USD", createTime: 1 });
      await store.recordUsage("default", [{ record: record("a", "1") }, { record: record("b", "1", "2026-10") }], false);
      await store.recordUsage("t2", [{ record: record("a", "1", "2026-10") }], false);
      const due = async (earliest: string, latest: string) =>
        (await store.periodsToFinalize(earliest, latest, 10)).map((pair) => `${pair.scope}/${pair.customerId}/${pair.period}`);
      assert.deepEqual(await due("2026-01", "2026-11"), ["default/cus_1/2026-10", "t2/cus_1/2026-10", "default/cus_1/2026-11"]);
      assert.deepEqual(await due("2026-11", "2026-12"), ["default/cus_1/2026-11"]);
      await store.finalizeBill("default", bill("2026-10", "1.00"));
      assert.deepEqual(await due("2026-01", "2026-10"), ["t2/cus_1/2026-10"]);
      await store.close();
    });
  });
}
