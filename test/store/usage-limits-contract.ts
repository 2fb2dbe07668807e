import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import type { Aggregation } from "../../src/domain/meter.js";
import type { Store, UsageWriteOutcome } from "../../src/domain/store.js";
import type { StoreHarness } from "./store-contract.js";
import { NOV_5, usageWrite as usage } from "./usage-fixtures.js";

/**
 * The Store contract of usage limits (issue 19), run on every adapter beside
 * the main contract (test/store/sqlite-store.test.ts,
 * test/postgres/postgres-store.test.ts): SetUsageLimit's idempotency, and the
 * check made in the write's transaction — a refused event writes nothing and
 * leaves its request_id free, events of one write see each other, an atomic
 * write fails whole, a replay still answers, and two store instances on one
 * database racing never pass the limit.
 */


async function seed(store: Store): Promise<void> {
  await store.createCustomer("default", "c1", { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 1 });
  const meters: [string, Aggregation][] = [
    ["hosting", "sum"],
    ["calls", "count"],
    ["seats", "max"],
  ];
  for (const [key, aggregation] of meters) {
    await store.createMeter("default", `m-${key}`, { key, displayName: key, unit: "unit", aggregation, precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
  }
  // Issue 18's meters: one aggregated per region, one counting distinct users, one keeping the latest reading.
  await store.createMeter("default", "m-egress", { key: "egress", displayName: "egress", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: ["region"], createTime: 1 });
  await store.createMeter("default", "m-users", { key: "users", displayName: "users", unit: "user", aggregation: "unique_count", precision: 3, uniqueAttribute: "user", dimensions: [], createTime: 1 });
  await store.createMeter("default", "m-gauge", { key: "gauge", displayName: "gauge", unit: "GB", aggregation: "latest", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
}

const kinds = (outcomes: UsageWriteOutcome[]) => outcomes.map((outcome) => (outcome.kind === "refused" ? outcome.failure.reason : outcome.kind));
const setLimit = (store: Store, requestId: string, limit: string | null, meterKey = "hosting") =>
  store.setUsageLimit("default", requestId, { customerId: "cus_1", meterKey, limit: limit === null ? null : Decimal.parse(limit)!, updateTime: 7 });
const quantityOf = async (store: Store, meterKey = "hosting") => {
  const totals = (await store.usageTotals("default", "cus_1", "2026-11")).find((candidate) => candidate.meterKey === meterKey);
  return totals === undefined ? "none" : `sum=${totals.sum} count=${totals.count} max=${totals.max}`;
};

/** Registers the usage limits contract for one adapter. */
export function usageLimitsContract(name: string, harness: StoreHarness): void {
  async function seeded(): Promise<{ open: () => Promise<Store>; store: Store }> {
    const open = await harness.freshDatabase();
    const store = await open();
    await seed(store);
    return { open, store };
  }

  describe(`Store contract, usage limits: ${name}`, () => {
    it("SetUsageLimit is idempotent on request_id, and an empty limit removes it", async () => {
      const { store } = await seeded();
      assert.equal(await store.findUsageLimit("default", "cus_1", "hosting"), undefined);
      const set = await setLimit(store, "l1", "100.5");
      assert.equal(set.kind, "created");
      assert.equal((await store.findUsageLimit("default", "cus_1", "hosting"))?.limit?.toString(), "100.5");
      // The same request_id answers with what it set, even after a later change.
      await setLimit(store, "l2", "7");
      const again = await setLimit(store, "l1", "999");
      assert.equal(again.kind, "exists");
      assert.equal(again.value.limit?.toString(), "100.5");
      assert.equal((await store.findUsageLimit("default", "cus_1", "hosting"))?.limit?.toString(), "7");
      const removed = await setLimit(store, "l3", null);
      assert.equal(removed.kind, "created");
      assert.equal(await store.findUsageLimit("default", "cus_1", "hosting"), undefined);
      assert.equal((await setLimit(store, "l3", null)).value.limit, null);
      assert.equal(await store.findUsageLimit("other-tenant", "cus_1", "hosting"), undefined);
      await store.close();
    });

    it("a SUM event past the limit is refused, writes nothing and leaves its request_id free; a replay still answers", async () => {
      const { store } = await seeded();
      await setLimit(store, "l1", "10");
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("a", "4")], false)), ["recorded"]);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("b", "4")], false)), ["recorded"]);
      const refused = await store.recordUsage("default", [usage("c", "3")], false);
      assert.deepEqual(kinds(refused), ["USAGE_LIMIT_EXCEEDED"]);
      const message = (refused[0] as { failure: { message: string } }).failure.message;
      assert.match(message, /limit of 10/);
      assert.match(message, /used 8/);
      assert.equal(await store.findUsageByRequestId("default", "c"), undefined);
      assert.equal(await quantityOf(store), "sum=8 count=2 max=4");
      // Exactly up to the limit fits; an identical retry of an accepted event replays at the limit.
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("d", "2")], false)), ["recorded"]);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("a", "4")], false)), ["replayed"]);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("a", "5")], false)), ["REQUEST_ID_REUSED"]);
      // Another period, another customer or meter, and a zero are not held by this limit's usage.
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("dec", "9", { period: "2026-12", eventTime: Date.UTC(2026, 11, 2) })], false)), ["recorded"]);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("zero", "0")], false)), ["recorded"]);
      // Raised: the refused request_id was free all along.
      await setLimit(store, "l2", "13");
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("c", "3")], false)), ["recorded"]);
      assert.equal(await quantityOf(store), "sum=13 count=5 max=4");
      // Removed: no limit.
      await setLimit(store, "l3", null);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("e", "1000")], false)), ["recorded"]);
      await store.close();
    });

    it("events of one write see each other: each is judged after the ones before it; an atomic write fails whole", async () => {
      const { store } = await seeded();
      await setLimit(store, "l1", "10");
      const batch = await store.recordUsage("default", [usage("a", "6"), usage("b", "5"), usage("c", "4"), usage("d", "0.001")], false);
      assert.deepEqual(kinds(batch), ["recorded", "USAGE_LIMIT_EXCEEDED", "recorded", "USAGE_LIMIT_EXCEEDED"]);
      assert.equal(await quantityOf(store), "sum=10 count=2 max=6");
      await setLimit(store, "l2", "15");
      const atomic = await store.recordUsage("default", [usage("e", "3"), usage("f", "3")], true);
      assert.deepEqual(kinds(atomic), ["aborted", "USAGE_LIMIT_EXCEEDED"]);
      assert.equal(await store.findUsageByRequestId("default", "e"), undefined);
      assert.equal(await quantityOf(store), "sum=10 count=2 max=6");
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("e", "3"), usage("f", "2")], true)), ["recorded", "recorded"]);
      assert.equal(await quantityOf(store), "sum=15 count=4 max=6");
      await store.close();
    });

    it("COUNT counts events and MAX judges the largest event against the limit", async () => {
      const { store } = await seeded();
      await setLimit(store, "l1", "2", "calls");
      await setLimit(store, "l2", "5", "seats");
      const calls = await store.recordUsage("default", ["a", "b", "c"].map((id) => usage(`call-${id}`, "1000", { meterKey: "calls" })), false);
      assert.deepEqual(kinds(calls), ["recorded", "recorded", "USAGE_LIMIT_EXCEEDED"]);
      const seats = await store.recordUsage("default", [usage("s1", "5", { meterKey: "seats" }), usage("s2", "6", { meterKey: "seats" }), usage("s3", "3", { meterKey: "seats" })], false);
      assert.deepEqual(kinds(seats), ["recorded", "USAGE_LIMIT_EXCEEDED", "recorded"]);
      assert.equal(await quantityOf(store, "seats"), "sum=8 count=2 max=5");
      await store.close();
    });

    it("the limit is on the meter's quantity over all its combinations; UNIQUE_COUNT counts distinct values, LATEST the latest reading", async () => {
      const { store } = await seeded();
      await setLimit(store, "l1", "10", "egress");
      await setLimit(store, "l2", "2", "users");
      await setLimit(store, "l3", "5", "gauge");
      const egress = (id: string, quantity: string, region: string) => usage(id, quantity, { meterKey: "egress", attributes: { region } });
      const regions = await store.recordUsage("default", [egress("e1", "6", "eu"), egress("e2", "5", "us"), egress("e3", "4", "us")], false);
      assert.deepEqual(kinds(regions), ["recorded", "USAGE_LIMIT_EXCEEDED", "recorded"]);
      const user = (id: string, name: string) => usage(id, "1", { meterKey: "users", attributes: { user: name } });
      const users = await store.recordUsage("default", [user("u1", "ann"), user("u2", "bob"), user("u3", "ann"), user("u4", "cy")], false);
      assert.deepEqual(kinds(users), ["recorded", "recorded", "recorded", "USAGE_LIMIT_EXCEEDED"], "a value already counted fits at the limit");
      const reading = (id: string, quantity: string, minute: number) => usage(id, quantity, { meterKey: "gauge", eventTime: NOV_5 + minute * 60_000 });
      const gauge = await store.recordUsage("default", [reading("g1", "5", 1), reading("g2", "9", 2), reading("g3", "9", 0), reading("g4", "4", 3)], false);
      // g3 is older than g1, so the latest reading stays 5: it fits although its quantity alone is past the limit.
      assert.deepEqual(kinds(gauge), ["recorded", "USAGE_LIMIT_EXCEEDED", "recorded", "recorded"]);
      await store.close();
    });

    it("a void gives the usage back to the limit", async () => {
      const { store } = await seeded();
      await setLimit(store, "l1", "10");
      await store.recordUsage("default", [usage("a", "10")], false);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("b", "1")], false)), ["USAGE_LIMIT_EXCEEDED"]);
      await store.voidUsage("default", "rec_a", "wrong meter reading", NOV_5 + 1);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("b", "1")], false)), ["recorded"]);
      await store.close();
    });

    it("two store instances on one database racing: the accepted quantity is exactly the limit, and a limit set by one binds the other", async () => {
      const { open, store: first } = await seeded();
      const second = await open();
      // The second instance has written (and so read its limits) before the first sets one.
      assert.deepEqual(kinds(await second.recordUsage("default", [usage("early", "1")], false)), ["recorded"]);
      await setLimit(first, "l1", "25");
      const writes = Array.from({ length: 60 }, (_, index) => {
        const store = index % 2 === 0 ? first : second;
        return store.recordUsage("default", [usage(`race-${index}`, "1")], false);
      });
      const outcomes = (await Promise.all(writes)).flat();
      assert.equal(outcomes.filter((outcome) => outcome.kind === "recorded").length, 24);
      assert.ok(outcomes.every((outcome) => outcome.kind === "recorded" || (outcome.kind === "refused" && outcome.failure.reason === "USAGE_LIMIT_EXCEEDED")));
      assert.equal(await quantityOf(first), "sum=25 count=25 max=1");
      assert.equal(await quantityOf(second), "sum=25 count=25 max=1");
      await second.close();
      await first.close();
    });
  });
}
