import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Customer } from "../../src/domain/customer.js";
import { Decimal } from "../../src/domain/decimal.js";
import { FailureError } from "../../src/domain/failure.js";
import type { Meter } from "../../src/domain/meter.js";
import type { Price } from "../../src/domain/price.js";
import type { TenantQuotas } from "../../src/domain/quotas.js";
import type { Store, UsageWrite, UsageWriteOutcome } from "../../src/domain/store.js";
import { aggregatedQuantity, type NewUsageRecord, recomputeTotals, totalsOf, type UsageTotals } from "../../src/domain/usage-record.js";
import { seededRandom } from "../support/seeded-random.js";
import { allLiveUsageRecords } from "../support/live-records.js";
import { LIVE_RECORDS_PAGE } from "../../src/domain/store.js";
import { creditsContract } from "./credits-contract.js";
import { NOV_5, usageWrite as usage } from "./usage-fixtures.js";

/**
 * The Store contract: every adapter of the Store port must pass these same
 * tests (test/store/sqlite-store.test.ts and test/postgres/postgres-store.test.ts
 * run them). They cover the invariants of DESIGN.md that live in storage:
 * exactly once (replay, REQUEST_ID_REUSED, refusals write nothing, concurrent
 * duplicates from several store instances on one database give one record
 * that every caller sees), durability across a reopen, exact decimals and
 * overflow as an error, reproducible bills (running totals equal totals
 * recomputed from the records), prices of every model kept exactly, tenant
 * scope, and the listings' order and cursors.
 */

/** What a contract run needs from an adapter. */
export interface StoreHarness {
  /**
   * A new, empty database; the function it returns opens a store on it. It
   * may be called again while another store is open on the same database (a
   * second process) or after one was closed (a restart).
   */
  freshDatabase(quotas?: TenantQuotas, options?: { maxDimensionCombinations?: number }): Promise<() => Promise<Store>>;
}

async function seed(store: Store): Promise<void> {
  await store.createCustomer("default", "c1", { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 1 });
  await store.createMeter("default", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
}

/** A meter of the contract's tests. */
const meterOf = (key: string, aggregation: Meter["aggregation"], extra: Partial<Meter> = {}): Meter => ({
  key,
  displayName: key,
  unit: "u",
  aggregation,
  precision: 3,
  uniqueAttribute: "",
  dimensions: [],
  createTime: 1,
  ...extra,
});
/** Everything a totals row holds, as text to compare. */
const totalsShape = (t: UsageTotals) =>
  `${t.meterKey} ${JSON.stringify(t.dimensionValues)} sum=${t.sum} count=${t.count} max=${t.max} distinct=${t.distinct} combinations=${t.combinations} latest=${t.latest === null ? "-" : `${t.latest.recordId}@${t.latest.eventTime}:${t.latest.quantity}`}`;
/** The catalog price series (no dimension_values, no customer) of these meters. */
const catalogSeries = (...meterKeys: string[]) => meterKeys.map((meterKey) => ({ meterKey, dimensionKey: "", customerId: "" }));
const kinds = (outcomes: UsageWriteOutcome[]) => outcomes.map((outcome) => outcome.kind);
const totalsText = (store: Store, scope = "default") =>
  store.usageTotals(scope, "cus_1", "2026-11").then((all) => all.map((t) => `${t.meterKey} sum=${t.sum} count=${t.count} max=${t.max}`));

/** Registers the contract's tests for one adapter. */
export function storeContract(name: string, harness: StoreHarness): void {
  /** A fresh seeded database: its opener and one open store, closed by the test. */
  async function seeded(): Promise<{ open: () => Promise<Store>; store: Store }> {
    const open = await harness.freshDatabase();
    const store = await open();
    await seed(store);
    return { open, store };
  }

  describe(`Store contract: ${name}`, () => {
    it("bills are reproducible: running totals equal totals recomputed from the records, across voids", async () => {
      const { store } = await seeded();
      const outcomes = await store.recordUsage("default", [usage("a", "1.5"), usage("b", "4"), usage("c", "0.25")], false);
      assert.deepEqual(kinds(outcomes), ["recorded", "recorded", "recorded"]);
      const voided = await store.voidUsage("default", "rec_b", "duplicate meter reading", Date.UTC(2026, 10, 6));
      assert.equal(voided.kind, "voided");
      assert.equal(voided.record.voidReason, "duplicate meter reading");
      const again = await store.voidUsage("default", "rec_b", "twice", Date.UTC(2026, 10, 7));
      assert.equal(again.kind, "already-voided");
      assert.equal(again.record.voidReason, "duplicate meter reading");
      const running = await store.usageTotals("default", "cus_1", "2026-11");
      const recomputed = totalsOf(await allLiveUsageRecords(store, "default", "cus_1", "2026-11"));
      assert.deepEqual(
        running.map((t) => [t.sum.toString(), t.count, t.max.toString()]),
        recomputed.map((t) => [t.sum.toString(), t.count, t.max.toString()]),
      );
      assert.deepEqual(await totalsText(store), ["hosting sum=1.75 count=2 max=1.5"]);
      assert.equal((await store.getUsageRecord("default", "rec_b"))?.voided, true);
      await store.close();
    });

    it("reads a period's live records in pages: each live record once, by meter and in recording order, across page boundaries", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m2", meterOf("api-calls", "count"));
      const perMeter = LIVE_RECORDS_PAGE + 150;
      for (const meterKey of ["hosting", "api-calls"]) {
        for (let start = 0; start < perMeter; start += 1000) {
          const writes = Array.from({ length: Math.min(1000, perMeter - start) }, (_, i) => usage(`${meterKey}-${start + i}`, "1", { meterKey, id: `rec_${meterKey}-${start + i}` }));
          assert.ok((await store.recordUsage("default", writes, false)).every((outcome) => outcome.kind === "recorded"));
        }
      }
      for (const voided of ["hosting-0", "hosting-1999", "api-calls-2100"]) await store.voidUsage("default", `rec_${voided}`, "test", NOV_5);
      // A record of another period and another customer stay out.
      await store.createCustomer("default", "c2", { id: "cus_2", externalId: "", displayName: "Other", currencyCode: "USD", createTime: 1 });
      await store.recordUsage("default", [usage("other-customer", "1", { customerId: "cus_2" }), usage("other-period", "1", { period: "2026-10", eventTime: Date.UTC(2026, 9, 5) })], false);

      const pages: string[][] = [];
      for await (const page of store.liveUsageRecords("default", "cus_1", "2026-11")) pages.push(page.map((record) => record.requestId));
      assert.ok(pages.length >= 3, `${pages.length} pages`);
      assert.ok(pages.every((page) => page.length > 0 && page.length <= LIVE_RECORDS_PAGE));
      const expected = (meterKey: string, voided: number[]) =>
        Array.from({ length: perMeter }, (_, i) => i).filter((i) => !voided.includes(i)).map((i) => `${meterKey}-${i}`);
      assert.deepEqual(pages.flat(), [...expected("api-calls", [2100]), ...expected("hosting", [0, 1999])]);
      await store.close();
    });

    it("bills are reproducible for every aggregation and dimension: running totals per meter and per combination equal totals recomputed from the live records, across out-of-order events and voids", async () => {
      const { store } = await seeded();
      const meters = [
        meterOf("users", "unique_count", { uniqueAttribute: "user", dimensions: ["region"] }),
        meterOf("seats", "latest", { dimensions: ["region"] }),
        meterOf("peak", "max", { dimensions: ["region", "tier"] }),
        meterOf("calls", "count", { dimensions: ["region"] }),
        meterOf("volume", "sum", { dimensions: ["tier", "region"] }),
        meterOf("plain-users", "unique_count", { uniqueAttribute: "user" }),
        meterOf("plain-seats", "latest"),
        meterOf("hosting", "sum"),
      ];
      for (const meter of meters.slice(0, -1)) assert.equal((await store.createMeter("default", `meter-${meter.key}`, meter)).kind, "created");
      const meterByKey = new Map(meters.map((meter) => [meter.key, meter]));
      const random = seededRandom(18);
      const live: string[] = [];
      let next = 0;
      const event = (): UsageWrite => {
        const meter = random.pick(meters);
        const id = `e${next++}`;
        return usage(id, `${random.int(0, 40)}.${random.int(0, 9)}`, {
          meterKey: meter.key,
          // Out of order, with ties: hours 0 to 12 of Nov 5 in random order.
          eventTime: NOV_5 + random.int(0, 12) * 3_600_000,
          attributes: { region: random.pick(["eu", "us", "ap"]), tier: random.pick(["a", "b"]), user: `u${random.int(0, 3)}`, other: "x" },
        });
      };
      async function check(step: number): Promise<void> {
        const { meters: ownTotals, combinations } = recomputeTotals(await allLiveUsageRecords(store, "default", "cus_1", "2026-11"), (key) => meterByKey.get(key));
        const runningOwn = await store.usageTotals("default", "cus_1", "2026-11");
        const runningCombinations = await store.combinationTotals("default", "cus_1", "2026-11");
        assert.deepEqual(runningOwn.map(totalsShape).sort(), ownTotals.map(totalsShape).sort(), `meters' own totals after step ${step}`);
        assert.deepEqual(runningCombinations.map(totalsShape).sort(), combinations.map(totalsShape).sort(), `combinations' totals after step ${step}`);
      }
      for (let step = 1; step <= 240; step++) {
        if (live.length > 0 && random.next() < 0.3) {
          // Voids favour the newest events, which are most often a latest, a maximum or a value's last holder.
          const index = random.next() < 0.5 ? live.length - 1 : random.int(0, live.length - 1);
          const [recordId] = live.splice(index, 1);
          assert.equal((await store.voidUsage("default", recordId!, "test", NOV_5)).kind, "voided");
        } else {
          const writes = Array.from({ length: random.int(1, 4) }, event);
          const atomic = random.next() < 0.2;
          // An event without its dimension is refused; in an atomic write it takes the others with it.
          if (atomic) writes.push(usage(`e${next++}`, "1", { meterKey: "calls", attributes: { tier: "a" } }));
          const outcomes = await store.recordUsage("default", writes, atomic);
          outcomes.forEach((outcome, index) => {
            if (outcome.kind === "recorded") live.push(writes[index]!.record.id);
          });
          if (atomic) assert.deepEqual(kinds(outcomes), [...writes.slice(0, -1).map(() => "aborted"), "refused"]);
        }
        if (step % 60 === 0) await check(step);
      }
      // Then every event is voided, in random order: distinct counts fall to 0, latest events hand back one by one.
      for (let step = 1; live.length > 0; step++) {
        const [recordId] = live.splice(random.int(0, live.length - 1), 1);
        assert.equal((await store.voidUsage("default", recordId!, "test", NOV_5)).kind, "voided");
        if (step % 15 === 0) await check(1000 + step);
      }
      await check(2000);
      assert.deepEqual(await store.usageTotals("default", "cus_1", "2026-11"), []);
      await store.close();
    });

    it("UNIQUE_COUNT and LATEST by hand: a void lowers a distinct count only with a value's last live event, and voiding the latest hands it back to the one before", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m-users", meterOf("users", "unique_count", { uniqueAttribute: "user", dimensions: ["region"] }));
      await store.createMeter("default", "m-seats", meterOf("seats", "latest"));
      const quantities = async () => {
        const own = await store.usageTotals("default", "cus_1", "2026-11");
        const combinations = await store.combinationTotals("default", "cus_1", "2026-11");
        const of = (totals: UsageTotals) =>
          `${totals.meterKey}${totals.dimensionValues.length === 0 ? "" : `[${totals.dimensionValues}]`}=${aggregatedQuantity(totals.meterKey === "users" ? "unique_count" : "latest", totals)}`;
        return [...own, ...combinations].map(of).sort();
      };
      const at = (hour: number) => NOV_5 + hour * 3_600_000;
      await store.recordUsage(
        "default",
        [
          usage("u1", "1", { meterKey: "users", attributes: { region: "eu", user: "ann" } }),
          usage("u2", "1", { meterKey: "users", attributes: { region: "eu", user: "bob" } }),
          usage("u3", "1", { meterKey: "users", attributes: { region: "eu", user: "ann" } }),
          usage("u4", "1", { meterKey: "users", attributes: { region: "us", user: "ann" } }),
          usage("s1", "5", { meterKey: "seats", eventTime: at(10) }),
          usage("s2", "7", { meterKey: "seats", eventTime: at(30) }),
          usage("s3", "9", { meterKey: "seats", eventTime: at(20) }),
        ],
        false,
      );
      assert.deepEqual(await quantities(), ["seats=7", "users=2", "users[eu]=2", "users[us]=1"]);
      // A tie on event_time goes to the one recorded last.
      await store.recordUsage("default", [usage("s4", "8", { meterKey: "seats", eventTime: at(30) })], false);
      assert.deepEqual(await quantities(), ["seats=8", "users=2", "users[eu]=2", "users[us]=1"]);
      await store.voidUsage("default", "rec_u3", "dup", NOV_5);
      assert.deepEqual(await quantities(), ["seats=8", "users=2", "users[eu]=2", "users[us]=1"], "ann still has a live event in eu");
      await store.voidUsage("default", "rec_u1", "dup", NOV_5);
      assert.deepEqual(await quantities(), ["seats=8", "users=2", "users[eu]=1", "users[us]=1"], "ann is gone from eu, not from the meter");
      await store.voidUsage("default", "rec_u4", "dup", NOV_5);
      assert.deepEqual(await quantities(), ["seats=8", "users=1", "users[eu]=1"]);
      await store.voidUsage("default", "rec_s4", "wrong", NOV_5);
      assert.deepEqual(await quantities(), ["seats=7", "users=1", "users[eu]=1"]);
      await store.voidUsage("default", "rec_s2", "wrong", NOV_5);
      assert.deepEqual(await quantities(), ["seats=9", "users=1", "users[eu]=1"]);
      // An event after the others is the latest at once, however it arrived.
      await store.recordUsage("default", [usage("s5", "3", { meterKey: "seats", eventTime: at(25) })], false);
      assert.deepEqual(await quantities(), ["seats=3", "users=1", "users[eu]=1"]);
      // A store refuses an event without its meter's dimension or unique attribute, writing nothing.
      const refused = await store.recordUsage("default", [usage("u5", "1", { meterKey: "users", attributes: { region: "eu" } })], false);
      assert.equal(refused[0]?.kind === "refused" && refused[0].failure.reason, "DIMENSION_REQUIRED");
      assert.equal(await store.findUsageByRequestId("default", "u5"), undefined);
      await store.close();
    });

    it("exactly once with dimensions: concurrent duplicates of UNIQUE_COUNT events from two stores count each value once", async () => {
      const { open, store } = await seeded();
      await store.createMeter("default", "m-users", meterOf("users", "unique_count", { uniqueAttribute: "user", dimensions: ["region"] }));
      const second = await open();
      const ids = Array.from({ length: 30 }, (_, index) => index);
      const calls = ids.flatMap((index) =>
        [store, second, second, store].map((target, copy) =>
          target.recordUsage(
            "default",
            [usage(`dup-${index}`, "1", { id: `rec_dup_${index}_${copy}`, meterKey: "users", attributes: { region: ["eu", "us", "ap"][index % 3]!, user: `u${index % 7}` } })],
            false,
          ),
        ),
      );
      const results = (await Promise.all(calls)).map(([outcome]) => outcome!);
      for (const index of ids) {
        const mine = results.slice(index * 4, index * 4 + 4);
        assert.equal(mine.filter((outcome) => outcome.kind === "recorded").length, 1);
        assert.equal(mine.filter((outcome) => outcome.kind === "replayed").length, 3);
      }
      const own = await second.usageTotals("default", "cus_1", "2026-11");
      const combinations = await second.combinationTotals("default", "cus_1", "2026-11");
      // Users u0..u6 over all; per region, index % 3 fixed: eu holds indexes 0,3,..,27 whose index % 7 covers all 7 values, and so on.
      assert.deepEqual(own.map((totals) => [totals.count, totals.distinct]), [[30, 7]]);
      assert.deepEqual(combinations.map((totals) => [totals.dimensionValues[0], totals.count, totals.distinct]).sort(), [["ap", 10, 7], ["eu", 10, 7], ["us", 10, 7]]);
      const meterByKey = new Map([["users", meterOf("users", "unique_count", { uniqueAttribute: "user", dimensions: ["region"] })]]);
      const recomputed = recomputeTotals(await allLiveUsageRecords(second, "default", "cus_1", "2026-11"), (key) => meterByKey.get(key));
      assert.deepEqual(combinations.map(totalsShape).sort(), recomputed.combinations.map(totalsShape).sort());
      await second.close();
      await store.close();
    });

    it("bounds a customer's combinations of a meter's dimension values in a period, counting only those with live usage", async () => {
      const open = await harness.freshDatabase(undefined, { maxDimensionCombinations: 2 });
      const store = await open();
      await seed(store);
      await store.createMeter("default", "m-vm", meterOf("vm", "sum", { dimensions: ["region"] }));
      const event = (requestId: string, region: string, overrides: Partial<NewUsageRecord> = {}) =>
        usage(requestId, "1", { meterKey: "vm", attributes: { region }, ...overrides });
      assert.deepEqual(kinds(await store.recordUsage("default", [event("a", "eu"), event("b", "us"), event("c", "eu")], false)), ["recorded", "recorded", "recorded"]);
      const [third] = await store.recordUsage("default", [event("d", "ap")], false);
      assert.equal(third?.kind === "refused" && third.failure.reason, "DIMENSION_COMBINATIONS_EXCEEDED");
      assert.equal(await store.findUsageByRequestId("default", "d"), undefined);
      // Another customer, another period: their own combinations.
      await store.createCustomer("default", "c2", { id: "cus_2", externalId: "", displayName: "B", currencyCode: "USD", createTime: 1 });
      assert.deepEqual(kinds(await store.recordUsage("default", [event("e", "ap", { customerId: "cus_2" }), event("f", "ap", { period: "2026-12" })], false)), ["recorded", "recorded"]);
      // Voiding us's only event frees its combination for another.
      await store.voidUsage("default", "rec_b", "wrong region", NOV_5);
      assert.deepEqual(kinds(await store.recordUsage("default", [event("d", "ap")], false)), ["recorded"]);
      const [own] = await store.usageTotals("default", "cus_1", "2026-11");
      assert.equal(own?.combinations, 2);
      const meterByKey = new Map([["vm", meterOf("vm", "sum", { dimensions: ["region"] })], ["hosting", meterOf("hosting", "sum")]]);
      assert.deepEqual(
        (await store.usageTotals("default", "cus_1", "2026-11")).map(totalsShape),
        totalsOf(await allLiveUsageRecords(store, "default", "cus_1", "2026-11"), (key) => meterByKey.get(key)).map(totalsShape),
      );
      await store.close();
    });

    it("numbers price versions per series (meter, currency, dimension_values, customer) and looks each series up by its index", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m-vm", meterOf("vm", "sum", { dimensions: ["region", "size"] }));
      const price = (id: string, dimensionValues: Record<string, string>, customerId: string, effectivePeriod = "2026-11"): Omit<Price, "version"> => ({
        id,
        meterKey: "vm",
        currencyCode: "USD",
        model: "graduated",
        tiers: [{ upTo: null, unitAmount: Decimal.parse("1")!, flatAmount: null }],
        packageSize: null,
        dimensionValues,
        customerId,
        effectivePeriod,
        createTime: 2,
      });
      const versions: [string, number][] = [];
      for (const [id, dimensions, customerId, period] of [
        ["p1", {}, ""],
        ["p2", {}, ""],
        ["p3", { region: "eu" }, ""],
        ["p4", { size: "xl", region: "eu" }, ""],
        ["p5", { region: "eu", size: "xl" }, ""],
        ["p6", {}, "cus_1"],
        ["p7", { region: "eu" }, "cus_1"],
        ["p8", { region: "eu" }, "cus_1", "2026-12"],
      ] as [string, Record<string, string>, string, string?][]) {
        const created = await store.createPrice("default", `r-${id}`, price(id, dimensions, customerId, period));
        assert.equal(created.kind, "created");
        versions.push([id, created.kind === "created" ? created.value.version : 0]);
      }
      assert.deepEqual(versions, [["p1", 1], ["p2", 2], ["p3", 1], ["p4", 1], ["p5", 2], ["p6", 1], ["p7", 1], ["p8", 2]]);
      const listed = (await store.listPrices("default", "vm", { limit: 10, after: null })).items;
      assert.deepEqual(listed.find((one) => one.id === "p5")?.dimensionValues, { region: "eu", size: "xl" });
      assert.equal(listed.find((one) => one.id === "p7")?.customerId, "cus_1");
      const series = [
        { meterKey: "vm", dimensionKey: "", customerId: "" },
        { meterKey: "vm", dimensionKey: '[["region","eu"]]', customerId: "" },
        { meterKey: "vm", dimensionKey: '[["region","eu"],["size","xl"]]', customerId: "" },
        { meterKey: "vm", dimensionKey: "", customerId: "cus_1" },
        { meterKey: "vm", dimensionKey: '[["region","eu"]]', customerId: "cus_1" },
        { meterKey: "vm", dimensionKey: '[["region","us"]]', customerId: "" },
      ];
      const effective = await store.effectivePrices("default", "USD", "2026-11", series);
      assert.deepEqual(effective.map((one) => one.id).sort(), ["p2", "p3", "p5", "p6", "p7"]);
      const december = await store.effectivePrices("default", "USD", "2026-12", series);
      assert.deepEqual(december.map((one) => one.id).sort(), ["p2", "p3", "p5", "p6", "p8"]);
      await store.close();
    });

    it("lists usage whose attributes include all of a filter's, newest first, in pages", async () => {
      const { store } = await seeded();
      const writes = [
        usage("a", "1", { attributes: { region: "eu", size: "xl" } }),
        usage("b", "1", { attributes: { region: "us", size: "xl" } }),
        usage("c", "1", { attributes: { region: "eu" } }),
        usage("d", "1", { attributes: { region: "eu", size: "s" } }),
        usage("e", "1", { attributes: { "quote\"d": "a\\b", region: "eu" } }),
        // U+0000, which the API refuses in every text, matches nothing (and breaks no listing).
        usage("f", "1", { attributes: { region: "eu\u0000" } }),
      ];
      await store.recordUsage("default", writes, false);
      const list = async (attributes: Record<string, string>, limit = 10) => {
        const pages: string[][] = [];
        let after: string | null = null;
        do {
          const page = await store.listUsageRecords("default", { customerId: "cus_1", meterKey: "", startTime: null, endTime: null, attributes }, { limit, after });
          pages.push(page.items.map((item) => item.requestId));
          after = page.nextCursor;
        } while (after !== null);
        return pages;
      };
      assert.deepEqual(await list({ region: "eu" }), [["e", "d", "c", "a"]]);
      assert.deepEqual(await list({ region: "eu" }, 3), [["e", "d", "c"], ["a"]]);
      assert.deepEqual(await list({ region: "us" }), [["b"]]);
      assert.deepEqual(await list({ region: "eu", size: "xl" }), [["a"]]);
      assert.deepEqual(await list({ size: "m" }), [[]]);
      assert.deepEqual(await list({ "quote\"d": "a\\b" }), [["e"]]);
      assert.deepEqual(await list({}), [["f", "e", "d", "c", "b", "a"]]);
      await store.close();
    });

    it("exactly once: replays an identical request, refuses a changed one naming the fields, and writes nothing for either", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("a", "2", { attributes: { region: "eu" } })], false);
      const [replay, mismatch] = await store.recordUsage(
        "default",
        [usage("a", "2.0", { id: "rec_other", attributes: { region: "eu" } }), usage("a", "3", { attributes: { region: "us" } })],
        false,
      );
      assert.equal(replay?.kind, "replayed");
      assert.equal(replay?.kind === "replayed" && replay.record.id, "rec_a");
      assert.equal(mismatch?.kind === "refused" && mismatch.failure.reason, "REQUEST_ID_REUSED");
      assert.deepEqual(mismatch?.kind === "refused" && mismatch.failure.fieldViolations.map((v) => v.field), ["quantity", "attributes"]);
      assert.deepEqual(await totalsText(store), ["hosting sum=2 count=1 max=2"]);
      await store.close();
    });

    it("exactly once: a duplicate inside one write replays the event written just before it", async () => {
      const { store } = await seeded();
      const outcomes = await store.recordUsage("default", [usage("d", "1"), usage("d", "1", { id: "rec_d2" }), usage("d", "5")], false);
      assert.deepEqual(kinds(outcomes), ["recorded", "replayed", "refused"]);
      assert.equal(outcomes[1]?.kind === "replayed" && outcomes[1].record.id, "rec_d");
      assert.deepEqual(await totalsText(store), ["hosting sum=1 count=1 max=1"]);
      await store.close();
    });

    it("exactly once: a write's own refusal applies only to a new request_id, so a retry of a recorded event still replays", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("late", "2")], false);
      const closed = { reason: "BILL_FINALIZED" as const, message: "closed", fieldViolations: [] };
      const [replay, refusedNew] = await store.recordUsage(
        "default",
        [{ ...usage("late", "2"), refusal: closed }, { ...usage("new", "2"), refusal: closed }],
        false,
      );
      assert.equal(replay?.kind, "replayed");
      assert.equal(refusedNew?.kind === "refused" && refusedNew.failure.reason, "BILL_FINALIZED");
      assert.equal(await store.findUsageByRequestId("default", "new"), undefined);
      await store.close();
    });

    it("exactly once: an atomic write refused anywhere writes none of its events, and their ids stay free", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("taken", "1")], false);
      const outcomes = await store.recordUsage("default", [usage("x", "5"), usage("taken", "9"), usage("y", "6")], true);
      assert.deepEqual(kinds(outcomes), ["aborted", "refused", "aborted"]);
      assert.equal(await store.findUsageByRequestId("default", "x"), undefined);
      assert.deepEqual(await totalsText(store), ["hosting sum=1 count=1 max=1"]);
      assert.deepEqual(kinds(await store.recordUsage("default", [usage("x", "5"), usage("y", "6")], true)), ["recorded", "recorded"]);
      assert.deepEqual(await totalsText(store), ["hosting sum=12 count=3 max=6"]);
      await store.close();
    });

    it("exactly once: concurrent duplicates from two stores on one database give one record that every caller sees", async () => {
      const { open, store } = await seeded();
      const second = await open();
      const ids = Array.from({ length: 40 }, (_, index) => `dup-${index}`);
      const calls = ids.flatMap((id, index) =>
        [store, second, store, second].map((target, copy) => target.recordUsage("default", [usage(id, `${index}.5`, { id: `rec_${id}_${copy}` })], false)),
      );
      const results = (await Promise.all(calls)).map(([outcome]) => outcome!);
      for (const [index, id] of ids.entries()) {
        const mine = results.slice(index * 4, index * 4 + 4);
        assert.equal(mine.filter((outcome) => outcome.kind === "recorded").length, 1, `${id}: exactly one recorded`);
        assert.equal(mine.filter((outcome) => outcome.kind === "replayed").length, 3, `${id}: the others replayed`);
        const recordIds = new Set(mine.map((outcome) => (outcome.kind === "recorded" || outcome.kind === "replayed" ? outcome.record.id : "")));
        assert.equal(recordIds.size, 1, `${id}: every caller sees the same record`);
      }
      // 0.5 + 1.5 + ... + 39.5 = 800, each once.
      assert.deepEqual(await totalsText(second), ["hosting sum=800 count=40 max=39.5"]);
      await second.close();
      await store.close();
    });

    it("exactly once: a request_id reused concurrently with another payload from two stores is recorded once and refused once", async () => {
      const { open, store } = await seeded();
      const second = await open();
      await store.createMeter("default", "m2", { key: "storage", displayName: "Storage", unit: "GB", aggregation: "sum", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) => [
          store.recordUsage("default", [usage(`clash-${index}`, "1")], false),
          second.recordUsage("default", [usage(`clash-${index}`, "2", { meterKey: "storage", id: `rec_other_${index}` })], false),
        ]).flat(),
      );
      for (let index = 0; index < 10; index++) {
        const pair = [results[index * 2]![0]!, results[index * 2 + 1]![0]!];
        assert.deepEqual(pair.map((outcome) => outcome.kind).sort(), ["recorded", "refused"]);
        const refused = pair.find((outcome) => outcome.kind === "refused");
        assert.equal(refused?.kind === "refused" && refused.failure.reason, "REQUEST_ID_REUSED");
      }
      const all = await store.usageTotals("default", "cus_1", "2026-11");
      assert.equal(all.reduce((count, totals) => count + totals.count, 0), 10);
      assert.deepEqual(all, totalsOf(await allLiveUsageRecords(store, "default", "cus_1", "2026-11")).sort((a, b) => a.meterKey.localeCompare(b.meterKey)));
      await second.close();
      await store.close();
    });

    it("exact money: decimals add exactly, and a total past 20 integer digits is refused, never wrapped", async () => {
      const { store } = await seeded();
      const tenths = Array.from({ length: 10 }, (_, index) => usage(`tenth-${index}`, "0.1"));
      await store.recordUsage("default", tenths, false);
      assert.deepEqual(await totalsText(store), ["hosting sum=1 count=10 max=0.1"]);
      const big = "999999999999999999.999";
      // 1 + 99 × 999999999999999999.999 has 20 integer digits; one more event would need 21.
      const outcomes = await store.recordUsage("default", Array.from({ length: 100 }, (_, index) => usage(`big-${index}`, big)), false);
      assert.deepEqual(kinds(outcomes.slice(0, 99)), Array(99).fill("recorded"));
      assert.equal(outcomes[99]?.kind === "refused" && outcomes[99].failure.reason, "TOTAL_OVERFLOW");
      assert.equal(await store.findUsageByRequestId("default", "big-99"), undefined);
      const [totals] = await store.usageTotals("default", "cus_1", "2026-11");
      assert.equal(totals?.sum.toString(), "99000000000000000000.901");
      assert.equal(totals?.sum.integerDigits, 20);
      await store.close();
    });

    it("creates are keyed by request_id per kind: exists on a retry, taken for a unique field, and versions number per meter and currency", async () => {
      const { store } = await seeded();
      const again = await store.createCustomer("default", "c1", { id: "cus_2", externalId: "other", displayName: "X", currencyCode: "EUR", createTime: 2 });
      assert.equal(again.kind === "exists" && again.value.id, "cus_1");
      const taken = await store.createCustomer("default", "c2", { id: "cus_3", externalId: "acme", displayName: "Y", currencyCode: "USD", createTime: 2 });
      assert.equal(taken.kind, "taken");
      assert.equal((await store.createMeter("default", "m9", { key: "hosting", displayName: "H", unit: "GB", aggregation: "sum", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 2 })).kind, "taken");
      // "c1" is a customer's request id; meters, prices and usage have their own namespaces.
      assert.equal((await store.createMeter("default", "c1", { key: "cpu", displayName: "CPU", unit: "s", aggregation: "max", precision: 2, uniqueAttribute: "", dimensions: [], createTime: 2 })).kind, "created");
      assert.equal((await store.recordUsage("default", [usage("c1", "1")], false))[0]?.kind, "recorded");
      const tier = [{ upTo: null, unitAmount: Decimal.parse("0.015")!, flatAmount: null }];
      const draft = (id: string, currencyCode = "USD"): Omit<Price, "version"> => ({
        id,
        meterKey: "hosting",
        currencyCode,
        model: "graduated",
        tiers: tier,
        packageSize: null,
        dimensionValues: {},
        customerId: "",
        effectivePeriod: "2026-10",
        createTime: 3,
      });
      const versions = await Promise.all(["p1", "p2", "p3"].map((requestId) => store.createPrice("default", requestId, draft(`pri_${requestId}`))));
      assert.deepEqual(versions.map((outcome) => outcome.kind === "created" && outcome.value.version).sort(), [1, 2, 3]);
      const euro = await store.createPrice("default", "p4", draft("pri_p4", "EUR"));
      assert.equal(euro.kind === "created" && euro.value.version, 1);
      const retried = await store.createPrice("default", "p2", draft("pri_again"));
      assert.equal(retried.kind === "exists" && retried.value.id, "pri_p2");
      assert.equal(retried.kind === "exists" && retried.value.tiers[0]?.unitAmount.toString(), "0.015");
      const effective = await store.effectivePrices("default", "USD", "2026-11", catalogSeries("hosting", "cpu"));
      assert.deepEqual(effective.map((price) => [price.meterKey, price.version]), [["hosting", 3]]);
      assert.deepEqual(await store.effectivePrices("default", "USD", "2026-09", catalogSeries("hosting", "cpu")), []);
      await store.close();
    });

    it("keeps each price's model, flat amounts and package size through a create, a replay, the listing, the effective price and a reopen", async () => {
      const { open, store } = await seeded();
      await store.createMeter("default", "m2", { key: "seats", displayName: "Seats", unit: "seat", aggregation: "max", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
      const tier = (upTo: string | null, unitAmount: string, flatAmount: string | null) => ({
        upTo: upTo === null ? null : Decimal.parse(upTo)!,
        unitAmount: Decimal.parse(unitAmount)!,
        flatAmount: flatAmount === null ? null : Decimal.parse(flatAmount)!,
      });
      const drafts: Omit<Price, "version">[] = [
        { id: "pri_volume", meterKey: "seats", currencyCode: "USD", model: "volume", tiers: [tier("100", "0.10", null), tier(null, "0.08", "20.5")], packageSize: null, effectivePeriod: "2026-11", dimensionValues: {}, customerId: "", createTime: 2 },
        { id: "pri_package", meterKey: "hosting", currencyCode: "USD", model: "package", tiers: [tier(null, "2.50", null)], packageSize: Decimal.parse("0.000000000001")!, effectivePeriod: "2026-11", dimensionValues: {}, customerId: "", createTime: 2 },
        { id: "pri_graduated", meterKey: "hosting", currencyCode: "EUR", model: "graduated", tiers: [tier("10", "0", "5"), tier(null, "1", "0")], packageSize: null, effectivePeriod: "2026-11", dimensionValues: {}, customerId: "", createTime: 2 },
      ];
      const terms = (price: Price) =>
        JSON.stringify([price.id, price.model, price.packageSize?.toString() ?? null, price.tiers.map((t) => [t.upTo?.toString() ?? null, t.unitAmount.toString(), t.flatAmount?.toString() ?? null])]);
      const expected = drafts.map((draft) => terms({ ...draft, version: 1 }));
      for (const draft of drafts) {
        const created = await store.createPrice("default", draft.id, draft);
        assert.equal(created.kind === "created" && terms(created.value), terms({ ...draft, version: 1 }));
      }
      const replayed = await store.createPrice("default", "pri_volume", drafts[0]!);
      assert.equal(replayed.kind === "exists" && terms(replayed.value), expected[0]);
      assert.deepEqual((await store.listPrices("default", "", { limit: 10, after: null })).items.map(terms), expected);
      await store.close();
      const reopened = await open();
      assert.deepEqual((await reopened.listPrices("default", "", { limit: 10, after: null })).items.map(terms), expected);
      const effective = await reopened.effectivePrices("default", "USD", "2026-11", catalogSeries("hosting", "seats"));
      assert.deepEqual(effective.map(terms).sort(), [expected[1], expected[0]].sort());
      await reopened.close();
    });

    it("keeps request ids and data apart per scope (tenant)", async () => {
      const { store } = await seeded();
      await store.createCustomer("other", "c1", { id: "cus_9", externalId: "acme", displayName: "Other Acme", currencyCode: "EUR", createTime: 1 });
      assert.equal((await store.findCustomer("other", "acme"))?.id, "cus_9");
      assert.equal((await store.findCustomer("default", "acme"))?.id, "cus_1");
      assert.equal(await store.findCustomer("other", "cus_1"), undefined);
      await store.createMeter("other", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
      await store.recordUsage("default", [usage("same-id", "1")], false);
      const [other] = await store.recordUsage("other", [usage("same-id", "7", { id: "rec_other" })], false);
      assert.equal(other?.kind, "recorded");
      assert.equal((await store.findUsageByRequestId("default", "same-id"))?.quantity.toString(), "1");
      assert.equal(await store.getUsageRecord("other", "rec_same-id"), undefined);
      assert.deepEqual(await totalsText(store, "other"), ["hosting sum=7 count=1 max=7"]);
      assert.deepEqual((await store.listMeters("other", { limit: 10, after: null })).items.map((meter) => meter.displayName), ["Hosting"]);
      await store.close();
    });

    it("lists usage newest recorded first, in pages that resume where they stopped, filtered by meter and time", async () => {
      const { store } = await seeded();
      await store.createMeter("default", "m2", { key: "storage", displayName: "Storage", unit: "GB", aggregation: "sum", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
      for (let index = 0; index < 7; index++) {
        await store.recordUsage("default", [usage(`l${index}`, "1", { eventTime: NOV_5 + index, meterKey: index % 2 === 0 ? "hosting" : "storage" })], false);
      }
      const filter = { customerId: "cus_1", meterKey: "", startTime: null, endTime: null };
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page = await store.listUsageRecords("default", filter, { limit: 3, after });
        seen.push(...page.items.map((item) => item.requestId));
        after = page.nextCursor;
      } while (after !== null);
      assert.deepEqual(seen, ["l6", "l5", "l4", "l3", "l2", "l1", "l0"]);
      const hosting = await store.listUsageRecords("default", { ...filter, meterKey: "hosting", startTime: NOV_5 + 1, endTime: NOV_5 + 6 }, { limit: 10, after: null });
      assert.deepEqual(hosting.items.map((item) => item.requestId), ["l4", "l2"]);
      assert.equal(hosting.nextCursor, null);
      await assert.rejects(store.listUsageRecords("default", filter, { limit: 3, after: "not-a-cursor" }), (error: unknown) => {
        return error instanceof FailureError && error.failure.reason === "INVALID_PAGE_TOKEN";
      });
      assert.deepEqual(await store.periodsWithUsage("default", "cus_1"), ["2026-11"]);
      await store.close();
    });

    it("refuses creates past the tenant's quota in the create's transaction, and still replays at a full quota", async () => {
      const store = await (await harness.freshDatabase({ customers: 3, meters: 1, prices: 2, apiKeys: 1 }))();
      const customer = (i: number): Customer => ({ id: `cus_q${i}`, externalId: "", displayName: `Q ${i}`, currencyCode: "USD", createTime: 1 });
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createCustomer("default", `q${i}`, customer(i))));
      assert.equal(outcomes.filter((outcome) => outcome.kind === "created").length, 3);
      assert.deepEqual([...new Set(outcomes.filter((outcome) => outcome.kind !== "created").map((outcome) => JSON.stringify(outcome)))], ['{"kind":"over-quota","limit":3}']);
      const created = outcomes.findIndex((outcome) => outcome.kind === "created");
      assert.equal((await store.createCustomer("default", `q${created}`, customer(created))).kind, "exists");
      assert.equal((await store.createCustomer("other", "q0", customer(0))).kind, "created");
      const meter = (key: string): Meter => ({ key, displayName: key, unit: "u", aggregation: "sum", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
      assert.equal((await store.createMeter("default", "m1", meter("one"))).kind, "created");
      assert.deepEqual(await store.createMeter("default", "m2", meter("two")), { kind: "over-quota", limit: 1 });
      const price = (id: string): Omit<Price, "version"> => ({ id, meterKey: "one", currencyCode: "USD", model: "graduated", tiers: [{ upTo: null, unitAmount: Decimal.parse("1")!, flatAmount: null }], packageSize: null, effectivePeriod: "2026-11", dimensionValues: {}, customerId: "", createTime: 1 });
      const prices = await Promise.all(["p1", "p2", "p3"].map((requestId) => store.createPrice("default", requestId, price(`pri_${requestId}`))));
      assert.deepEqual(prices.map((outcome) => outcome.kind).sort(), ["created", "created", "over-quota"]);
      const key = (id: string, tenant: string) => ({ id, tenant, role: "read" as const, name: "", createTime: 1, revokeTime: null, secretHash: new Uint8Array(32) });
      assert.deepEqual(await store.createApiKey(key("k1", "default")), { kind: "created" });
      assert.deepEqual(await store.createApiKey(key("k2", "default")), { kind: "over-quota", limit: 1 });
      assert.deepEqual(await store.createApiKey(key("k3", "other")), { kind: "created" });
      assert.deepEqual((await store.listApiKeys()).map((apiKey) => apiKey.id), ["k1", "k3"]);
      await store.close();
    });

    it("searches customers of 3 characters or more through the index, within the caller's tenant only", async () => {
      const { store } = await seeded();
      for (const [index, name] of ["Northwind Traders", "Contoso north", "Fabrikam"].entries()) {
        await store.createCustomer("default", `n${index}`, { id: `cus_n${index}`, externalId: `ext-${index}`, displayName: name, currencyCode: "USD", createTime: 2 });
        await store.createCustomer("elsewhere", `n${index}`, { id: `cus_e${index}`, externalId: "", displayName: name, currencyCode: "USD", createTime: 2 });
      }
      const search = async (text: string, limit = 10, after: string | null = null) => store.listCustomers("default", text, { limit, after });
      assert.deepEqual((await search("NORTH")).items.map((c) => c.id), ["cus_n0", "cus_n1"]);
      const first = await search("north", 1);
      assert.deepEqual([first.items.map((c) => c.id), (await search("north", 1, first.nextCursor)).items.map((c) => c.id)], [["cus_n0"], ["cus_n1"]]);
      assert.deepEqual((await search("xt-2")).items.map((c) => c.id), ["cus_n2"]);
      assert.deepEqual((await search("s\"n")).items, []);
      assert.deepEqual((await search("nowhere at all")).items, []);
      await store.close();
    });

    it("lists customers in creation order, filtered on id, external id and name ignoring case", async () => {
      const { store } = await seeded();
      for (const [index, name] of ["Beta 100%", "gamma_co", "Delta"].entries()) {
        await store.createCustomer("default", `cx${index}`, { id: `cus_x${index}`, externalId: "", displayName: name, currencyCode: "USD", createTime: 2 });
      }
      const first = await store.listCustomers("default", "", { limit: 2, after: null });
      assert.deepEqual(first.items.map((customer) => customer.id), ["cus_1", "cus_x0"]);
      const rest = await store.listCustomers("default", "", { limit: 2, after: first.nextCursor });
      assert.deepEqual(rest.items.map((customer) => customer.id), ["cus_x1", "cus_x2"]);
      assert.equal(rest.nextCursor, null);
      assert.deepEqual((await store.listCustomers("default", "ACME", { limit: 10, after: null })).items.map((c) => c.id), ["cus_1"]);
      assert.deepEqual((await store.listCustomers("default", "0%", { limit: 10, after: null })).items.map((c) => c.id), ["cus_x0"]);
      assert.deepEqual((await store.listCustomers("default", "a_c", { limit: 10, after: null })).items.map((c) => c.id), ["cus_x1"]);
      await store.close();
    });

    it("voiding the largest event recomputes the maximum from the events left", async () => {
      const { store } = await seeded();
      await store.recordUsage("default", [usage("m-a", "3"), usage("m-b", "9"), usage("m-c", "9"), usage("m-d", "4")], false);
      await store.voidUsage("default", "rec_m-b", "wrong", NOV_5);
      assert.deepEqual(await totalsText(store), ["hosting sum=16 count=3 max=9"]);
      await store.voidUsage("default", "rec_m-c", "wrong", NOV_5);
      assert.deepEqual(await totalsText(store), ["hosting sum=7 count=2 max=4"]);
      await store.close();
    });

    it("keeps API keys by id across tenants: only the hash, revocation keeps its first time, and reports its size", async () => {
      const { store } = await seeded();
      const secretHash = new Uint8Array(32).map((_, index) => index * 7);
      await store.createApiKey({ id: "k1", tenant: "default", role: "ingest", name: "checkout", createTime: 5, revokeTime: null, secretHash });
      await store.createApiKey({ id: "k2", tenant: "other", role: "read", name: "", createTime: 6, revokeTime: null, secretHash: new Uint8Array(32) });
      const found = await store.findApiKey("k1");
      assert.deepEqual(found && { ...found, secretHash: [...found.secretHash] }, {
        id: "k1",
        tenant: "default",
        role: "ingest",
        name: "checkout",
        createTime: 5,
        revokeTime: null,
        secretHash: [...secretHash],
      });
      assert.deepEqual((await store.listApiKeys()).map((key) => [key.id, key.tenant]), [["k1", "default"], ["k2", "other"]]);
      assert.equal((await store.revokeApiKey("k2", 10))?.revokeTime, 10);
      assert.equal((await store.revokeApiKey("k2", 20))?.revokeTime, 10);
      assert.equal(await store.revokeApiKey("nope", 10), undefined);
      assert.equal(await store.findApiKey("nope"), undefined);
      assert.ok((await store.storageBytes()) > 0);
      await store.close();
    });

    it("acknowledged means durable: what it acknowledged is there after a reopen", async () => {
      const { open, store } = await seeded();
      await store.recordUsage("default", [usage("a", "7.125", { attributes: { "k\u0000": "v\u0000" } })], false);
      await store.close();
      const reopened = await open();
      const found = await reopened.findUsageByRequestId("default", "a");
      assert.equal(found?.quantity.toString(), "7.125");
      assert.deepEqual(found?.attributes, { "k\u0000": "v\u0000" });
      assert.deepEqual(await totalsText(reopened), ["hosting sum=7.125 count=1 max=7.125"]);
      await reopened.close();
    });
  });
  creditsContract(name, harness);
}
