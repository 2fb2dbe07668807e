import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Alert } from "../../src/domain/alerts.js";
import { Decimal } from "../../src/domain/decimal.js";
import { FailureError } from "../../src/domain/failure.js";
import { FEED_SCAN_ROWS, type Store } from "../../src/domain/store.js";
import type { UsageChange } from "../../src/domain/usage-feed.js";
import type { StoreHarness } from "./store-contract.js";
import { NOV_5, usageWrite as usage } from "./usage-fixtures.js";

/**
 * The Store contract of the usage feed and alerts (issue 19), run against
 * every adapter beside store-contract.ts: every record and void is one change
 * of the feed, once, in commit order, resumable from any cursor (across a
 * reopen); nothing refused or rolled back appears; an alert fires once per
 * (alert, period), in the write that reaches its threshold.
 */

const DEC_5 = Date.UTC(2026, 11, 5);

async function seed(store: Store): Promise<void> {
  await store.createCustomer("default", "c1", { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 1 });
  await store.createCustomer("default", "c2", { id: "cus_2", externalId: "", displayName: "Beta", currencyCode: "USD", createTime: 1 });
  await store.createMeter("default", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
  await store.createMeter("default", "m2", { key: "calls", displayName: "Calls", unit: "call", aggregation: "count", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
}


const alert = (id: string, meterKey: string, threshold: string, customerId = "cus_1"): Alert => ({
  id,
  customerId,
  meterKey,
  threshold: Decimal.parse(threshold)!,
  createTime: 1,
});

/** Every change after `after`, read `pageSize` at a time. */
async function readAll(store: Store, customerId = "", after: string | null = null, pageSize = 2): Promise<UsageChange[]> {
  const changes: UsageChange[] = [];
  let position = after;
  for (;;) {
    const page = await store.readUsageChanges("default", customerId, position, pageSize);
    changes.push(...page.changes);
    if (page.position === null) return changes;
    position = page.position;
  }
}

const described = (changes: UsageChange[]) => changes.map((change) => `${change.kind} ${change.record.id} voided=${change.record.voided}`);

export function feedContract(name: string, harness: StoreHarness): void {
  async function seeded(): Promise<{ open: () => Promise<Store>; store: Store }> {
    const open = await harness.freshDatabase();
    const store = await open();
    await seed(store);
    return { open, store };
  }

  describe(`Store contract, usage feed and alerts: ${name}`, () => {
    it("usage feed: every record and void is one change, in commit order, resumable after any cursor, also after a reopen", async () => {
      const { open, store } = await seeded();
      await store.recordUsage("default", [usage("a", "1"), usage("b", "2")], false);
      await store.recordUsage("default", [usage("c", "3", { customerId: "cus_2" })], false);
      await store.voidUsage("default", "rec_b", "wrong", NOV_5 + 1);
      await store.recordUsage("default", [usage("d", "4")], false);
      const all = await readAll(store);
      assert.deepEqual(described(all), [
        "recorded rec_a voided=false",
        "recorded rec_b voided=false",
        "recorded rec_c voided=false",
        "voided rec_b voided=true",
        "recorded rec_d voided=false",
      ]);
      assert.equal(all[3]!.record.voidReason, "wrong");
      assert.equal(new Set(all.map((change) => change.cursor)).size, all.length);
      // From every cursor, exactly the changes after it.
      for (let index = 0; index < all.length; index++) {
        assert.deepEqual(described(await readAll(store, "", all[index]!.cursor, 1)), described(all.slice(index + 1)));
      }
      assert.deepEqual(described(await readAll(store, "cus_2")), ["recorded rec_c voided=false"]);
      assert.deepEqual(described(await readAll(store, "cus_1", all[1]!.cursor)), ["voided rec_b voided=true", "recorded rec_d voided=false"]);
      await store.close();
      const reopened = await open();
      assert.deepEqual(described(await readAll(reopened, "", all[2]!.cursor)), described(all.slice(3)));
      await reopened.recordUsage("default", [usage("e", "5")], false);
      assert.deepEqual(described(await readAll(reopened, "", all[4]!.cursor)), ["recorded rec_e voided=false"]);
      await reopened.close();
    });

    it("usage feed: two stores writing one database at once (two processes): every change once, in one order", async () => {
      const { open, store } = await seeded();
      const other = await open();
      await Promise.all(
        Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? store : other).recordUsage("default", [usage(`p${index}-a`, "1"), usage(`p${index}-b`, "1")], false)),
      );
      await other.voidUsage("default", "rec_p0-a", "test", NOV_5 + 1);
      for (const reader of [store, other]) {
        const changes = await readAll(reader, "", null, 7);
        assert.equal(changes.length, 41);
        assert.equal(new Set(changes.map((change) => `${change.kind} ${change.record.id}`)).size, 41);
        assert.equal(changes.at(-1)?.kind, "voided");
      }
      await Promise.all([store.close(), other.close()]);
    });

    it("usage feed: replays, refusals and rolled-back atomic writes add no change; other tenants' changes are not seen", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("a", "1")], false);
      await store.recordUsage("default", [usage("a", "1"), usage("a", "9")], false); // a replay, then a changed retry
      await store.recordUsage("default", [usage("x", "1"), usage("a", "2")], true); // atomic, refused: x rolled back
      await store.voidUsage("default", "rec_a", "once", NOV_5 + 1);
      await store.voidUsage("default", "rec_a", "twice", NOV_5 + 2);
      await store.createCustomer("other", "c1", { id: "cus_1", externalId: "", displayName: "Other", currencyCode: "USD", createTime: 1 });
      await store.createMeter("other", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
      await store.recordUsage("other", [usage("o", "1")], false);
      assert.deepEqual(described(await readAll(store)), ["recorded rec_a voided=false", "voided rec_a voided=true"]);
      assert.equal((await store.readUsageChanges("other", "", null, 10)).changes.length, 1);
      await store.close();
    });

    it("usage feed: a customer's feed passes over any number of other customers' changes, a bounded window per read", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("first", "1", { customerId: "cus_2" })], false);
      const others = Array.from({ length: FEED_SCAN_ROWS + 500 }, (_, index) => usage(`other-${index}`, "1"));
      await store.recordUsage("default", others, false);
      await store.recordUsage("default", [usage("second", "1", { customerId: "cus_2" })], false);
      assert.deepEqual(described(await readAll(store, "cus_2", null, 10)), ["recorded rec_first voided=false", "recorded rec_second voided=false"]);
      const first = await store.readUsageChanges("default", "cus_2", null, 1);
      assert.deepEqual(described(await readAll(store, "cus_2", first.position, 10)), ["recorded rec_second voided=false"]);
      await store.close();
    });

    it("usage feed: a cursor the store did not hand out is INVALID_CURSOR", async () => {
      const { store } = await seeded();
      for (const cursor of ["", "x", "-1", "1.2.3", "99999999999999999999999"]) {
        await assert.rejects(store.readUsageChanges("default", "", cursor, 10), (error: unknown) => {
          assert.ok(error instanceof FailureError, String(error));
          assert.equal(error.failure.reason, "INVALID_CURSOR");
          return true;
        });
      }
      await store.close();
    });

    it("alerts: a meter alert fires once, in the write that reaches its threshold; not again after a void and a second crossing; again in the next period", async () => {
      const { open, store } = await seeded();
      assert.equal((await store.createAlert("default", "al-1", alert("alert_1", "hosting", "10"), 100)).kind, "created");
      assert.equal((await store.createAlert("default", "al-2", alert("alert_2", "calls", "2"), 100)).kind, "created");
      const replay = await store.createAlert("default", "al-1", alert("alert_other", "hosting", "10"), 100);
      assert.equal(replay.kind === "exists" && replay.value.id, "alert_1");
      await store.recordUsage("default", [usage("a", "4"), usage("b", "5")], false);
      assert.deepEqual(await store.readAlertEvents("default", null, 10), []);
      await store.recordUsage("default", [usage("c", "1")], false); // 10: reached
      await store.recordUsage("default", [usage("calls-1", "1", { meterKey: "calls" }), usage("calls-2", "1", { meterKey: "calls" })], false);
      await store.recordUsage("default", [usage("d", "3")], false); // 13: already past
      await store.voidUsage("default", "rec_d", "wrong", NOV_5 + 1);
      await store.voidUsage("default", "rec_c", "wrong", NOV_5 + 1); // 9
      await store.recordUsage("default", [usage("e", "2")], false); // 11: crossed again, same period
      await store.recordUsage("default", [usage("f", "10", { eventTime: DEC_5, createTime: DEC_5, period: "2026-12" })], false);
      const events = await store.readAlertEvents("default", null, 10);
      assert.deepEqual(
        events.map((event) => `${event.alertId} ${event.period} ${event.meterKey} value=${event.value} threshold=${event.threshold}`),
        ["alert_1 2026-11 hosting value=10 threshold=10", "alert_2 2026-11 calls value=2 threshold=2", "alert_1 2026-12 hosting value=10 threshold=10"],
      );
      assert.deepEqual((await store.readAlertEvents("default", events[0]!.cursor, 10)).map((event) => event.cursor), events.slice(1).map((event) => event.cursor));
      await store.close();
      const reopened = await open();
      assert.equal((await reopened.readAlertEvents("default", null, 10)).length, 3);
      await reopened.recordUsage("default", [usage("g", "50", { eventTime: DEC_5, createTime: DEC_5, period: "2026-12" })], false);
      assert.equal((await reopened.readAlertEvents("default", events[2]!.cursor, 10)).length, 0);
      await reopened.close();
    });

    it("alerts: a bill-total alert fires when the priced total of every meter reaches its threshold", async () => {
      const { store } = await seeded();
      const price = (id: string, meterKey: string, unitAmount: string) =>
        store.createPrice("default", id, {
          id,
          meterKey,
          currencyCode: "USD",
          model: "graduated",
          tiers: [{ upTo: null, unitAmount: Decimal.parse(unitAmount)!, flatAmount: null }],
          packageSize: null,
          dimensionValues: {},
          customerId: "",
          effectivePeriod: "2026-01",
          createTime: 1,
        });
      await price("p1", "hosting", "2");
      await price("p2", "calls", "0.5");
      await store.createAlert("default", "total", alert("alert_total", "", "20"), 100);
      await store.createAlert("default", "other", alert("alert_other", "", "1", "cus_2"), 100);
      await store.recordUsage("default", [usage("a", "9")], false); // 18.00
      await store.recordUsage("default", [usage("calls-1", "1", { meterKey: "calls" }), usage("calls-2", "1", { meterKey: "calls" })], false); // 18.00 + 2 x 0.50 = 19.00
      assert.deepEqual(await store.readAlertEvents("default", null, 10), []);
      await store.recordUsage("default", [usage("calls-3", "1", { meterKey: "calls" }), usage("calls-4", "1", { meterKey: "calls" })], false); // 20.00
      await store.recordUsage("default", [usage("b", "1")], false);
      const events = await store.readAlertEvents("default", null, 10);
      assert.deepEqual(events.map((event) => `${event.alertId} ${event.customerId} ${event.meterKey === "" ? "total" : event.meterKey} ${event.value}`), [
        "alert_total cus_1 total 20.00",
      ]);
      await store.close();
    });

    it("alerts: a bill total prices a dimensioned meter per combination, with the region's own price, as GetBill does", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m3", { key: "egress", displayName: "Egress", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: ["region"], createTime: 1 });
      const price = (id: string, unitAmount: string, dimensionValues: Record<string, string>) =>
        store.createPrice("default", id, {
          id,
          meterKey: "egress",
          currencyCode: "USD",
          model: "graduated",
          tiers: [{ upTo: null, unitAmount: Decimal.parse(unitAmount)!, flatAmount: null }],
          packageSize: null,
          dimensionValues,
          customerId: "",
          effectivePeriod: "2026-01",
          createTime: 1,
        });
      await price("catalog", "1", {});
      await price("eu", "2", { region: "eu" });
      await store.createAlert("default", "total", alert("alert_total", "", "10"), 100);
      const egress = (requestId: string, quantity: string, region: string) => usage(requestId, quantity, { meterKey: "egress", attributes: { region } });
      await store.recordUsage("default", [egress("e1", "4", "eu"), egress("u1", "1", "us")], false); // 4 x 2.00 + 1 x 1.00 = 9.00
      assert.deepEqual(await store.readAlertEvents("default", null, 10), []);
      await store.recordUsage("default", [egress("u2", "1", "us")], false); // 10.00
      const events = await store.readAlertEvents("default", null, 10);
      assert.deepEqual(events.map((event) => `${event.alertId} ${event.value}`), ["alert_total 10.00"]);
      await store.close();
    });

    it("alerts: a meter alert watches the meter's own quantity whatever its aggregation: UNIQUE_COUNT across combinations, LATEST", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m4", { key: "users", displayName: "Users", unit: "user", aggregation: "unique_count", precision: 0, uniqueAttribute: "user", dimensions: ["region"], createTime: 1 });
      await store.createMeter("default", "m5", { key: "gauge", displayName: "Gauge", unit: "GB", aggregation: "latest", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
      await store.createAlert("default", "users", alert("alert_users", "users", "2"), 100);
      await store.createAlert("default", "gauge", alert("alert_gauge", "gauge", "5"), 100);
      const user = (requestId: string, name: string, region: string) => usage(requestId, "1", { meterKey: "users", attributes: { user: name, region } });
      await store.recordUsage("default", [user("u1", "ann", "eu"), user("u2", "ann", "us")], false); // one distinct user in two combinations
      await store.recordUsage("default", [usage("g1", "7", { meterKey: "gauge", eventTime: NOV_5 + 2 }), usage("g2", "3", { meterKey: "gauge", eventTime: NOV_5 + 1 })], false); // latest: 7
      await store.recordUsage("default", [user("u3", "bob", "us")], false); // two distinct users
      const events = await store.readAlertEvents("default", null, 10);
      assert.deepEqual(events.map((event) => `${event.alertId} ${event.value}`), ["alert_gauge 7", "alert_users 2"]);
      await store.close();
    });

    it("alerts: a customer holds at most the given number of alerts; an identical retry still replays", async () => {
      const { store } = await seeded();
      assert.equal((await store.createAlert("default", "a1", alert("alert_1", "hosting", "1"), 2)).kind, "created");
      assert.equal((await store.createAlert("default", "a2", alert("alert_2", "", "1"), 2)).kind, "created");
      assert.equal((await store.createAlert("default", "a3", alert("alert_3", "calls", "1"), 2)).kind, "over-quota");
      assert.equal((await store.createAlert("default", "a1", alert("alert_1b", "hosting", "1"), 2)).kind, "exists");
      assert.equal((await store.createAlert("default", "b1", alert("alert_4", "calls", "1", "cus_2"), 2)).kind, "created");
      await store.close();
    });
  });
}
