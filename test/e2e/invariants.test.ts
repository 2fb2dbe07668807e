import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { Aggregation, PricingModel } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { PROTOCOLS } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";
import { join } from "node:path";
import { computeBill } from "../../src/domain/bill.js";
import { totalsOf, type UsageTotals } from "../../src/domain/usage-record.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { scratchDirectory } from "../support/tally-process.js";
import { allLiveUsageRecords } from "../support/live-records.js";

const NOW = Date.UTC(2026, 10, 15, 12);

describe("Invariant 1: exactly once", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("an identical retry returns the original record with replayed=true, never an error", async () => {
    const { usage } = tally.clients();
    const request = { requestId: "once-1", customerId, meterKey: "hosting", quantity: "1.5", attributes: { region: "eu" } };
    const first = await usage.recordUsage(request);
    tally.clock.set(NOW + 60_000); // a retry a minute later
    const again = await usage.recordUsage({ ...request, customerId: "acme", quantity: "1.50" });
    tally.clock.set(NOW);
    assert.equal(again.replayed, true);
    assert.equal(again.record?.id, first.record?.id);
    assert.deepEqual(again.record?.createTime, first.record?.createTime);
  });

  it("the same id with another payload is ALREADY_EXISTS naming every differing field", async () => {
    const { usage } = tally.clients();
    await usage.recordUsage({ requestId: "once-2", customerId, meterKey: "hosting", quantity: "2" });
    const refused = await assertRefused(
      usage.recordUsage({
        requestId: "once-2",
        customerId,
        meterKey: "egress",
        quantity: "3",
        eventTime: timestampFromMs(NOW - 1000),
      }),
      Code.AlreadyExists,
      "REQUEST_ID_REUSED",
      ["meter_key", "quantity", "event_time"],
    );
    assert.match(refused.message, /quantity/);
  });

  it("50 concurrent duplicates make one record that every caller sees", async () => {
    const clients = PROTOCOLS.map((protocol) => tally.clients(protocol));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        clients[index % clients.length]!.usage.recordUsage({ requestId: "once-concurrent", customerId, meterKey: "calls", quantity: "1" }),
      ),
    );
    const ids = new Set(results.map((result) => result.record?.id));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((result) => !result.replayed).length, 1);
    const { bill } = await tally.clients().billing.getCurrentBill({ customerId });
    assert.equal(bill?.lines.find((line) => line.meterKey === "calls")?.quantity, "1");
  });

  it("a refused request records nothing and leaves its id free", async () => {
    const { usage } = tally.clients();
    await assertRefused(usage.recordUsage({ requestId: "once-free", customerId, meterKey: "hosting", quantity: "1.23456" }), Code.InvalidArgument, "INVALID_QUANTITY");
    await assertRefused(usage.recordUsage({ requestId: "once-free", customerId, meterKey: "nope", quantity: "1" }), Code.NotFound, "METER_NOT_FOUND");
    await assertRefused(
      usage.recordUsage({ requestId: "once-free", customerId, meterKey: "hosting", quantity: "1", eventTime: timestampFromMs(NOW + 3_600_000) }),
      Code.InvalidArgument,
      "EVENT_TIME_OUT_OF_RANGE",
    );
    const accepted = await usage.recordUsage({ requestId: "once-free", customerId, meterKey: "hosting", quantity: "9" });
    assert.equal(accepted.replayed, false);
    assert.equal(accepted.record?.quantity, "9");
  });

  it("a batch answers each item alone, replays duplicates inside it, and an atomic batch is all or nothing", async () => {
    const { usage, billing } = tally.clients();
    const before = (await billing.getCurrentBill({ customerId })).bill?.lines.find((line) => line.meterKey === "seats");
    const mixed = await usage.batchRecordUsage({
      requests: [
        { requestId: "batch-a", customerId, meterKey: "seats", quantity: "4" },
        { requestId: "batch-a", customerId, meterKey: "seats", quantity: "4" },
        { requestId: "batch-a", customerId, meterKey: "seats", quantity: "5" },
        { requestId: "", customerId, meterKey: "seats", quantity: "5" },
      ],
    });
    assert.deepEqual(
      mixed.results.map((result) => (result.result.case === "response" ? (result.result.value.replayed ? "replayed" : "recorded") : result.result.value?.reason)),
      ["recorded", "replayed", "REQUEST_ID_REUSED", "INVALID_FIELD"],
    );
    const fourth = mixed.results[3]?.result;
    assert.deepEqual(fourth?.case === "error" ? fourth.value.fieldViolations.map((violation) => violation.field) : [], ["requests[3].request_id"]);
    assert.equal(before, undefined);

    await assertRefused(
      usage.batchRecordUsage({
        atomic: true,
        requests: [
          { requestId: "atomic-1", customerId, meterKey: "seats", quantity: "7" },
          { requestId: "atomic-2", customerId, meterKey: "seats", quantity: "8" },
          { requestId: "atomic-3", customerId, meterKey: "seats", quantity: "9" },
          { requestId: "atomic-4", customerId, meterKey: "seats", quantity: "ten" },
        ],
      }),
      Code.InvalidArgument,
      "INVALID_QUANTITY",
      ["requests[3].quantity"],
    );
    await assertRefused(
      usage.batchRecordUsage({
        atomic: true,
        requests: [
          { requestId: "atomic-1", customerId, meterKey: "seats", quantity: "7" },
          { requestId: "batch-a", customerId, meterKey: "seats", quantity: "6" },
        ],
      }),
      Code.AlreadyExists,
      "REQUEST_ID_REUSED",
      ["requests[1].quantity"],
    );
    await assertRefused(usage.getUsageRecord({ id: "atomic-1" }), Code.NotFound, "USAGE_RECORD_NOT_FOUND");
    const seats = (await billing.getCurrentBill({ customerId })).bill?.lines.find((line) => line.meterKey === "seats");
    assert.equal(seats?.quantity, "4"); // MAX of the one recorded event; nothing from the refused batches

    const atomic = await usage.batchRecordUsage({
      atomic: true,
      requests: [
        { requestId: "atomic-1", customerId, meterKey: "seats", quantity: "7" },
        { requestId: "batch-a", customerId, meterKey: "seats", quantity: "4" },
      ],
    });
    assert.deepEqual(atomic.results.map((result) => result.result.case === "response" && result.result.value.replayed), [false, true]);
  });

  it("request ids of different kinds of call do not collide", async () => {
    const { usage, customers } = tally.clients();
    await usage.recordUsage({ requestId: "shared-id", customerId, meterKey: "hosting", quantity: "1" });
    const created = await customers.createCustomer({ requestId: "shared-id", customer: { displayName: "Shared", currencyCode: "EUR" } });
    assert.equal(created.replayed, false);
  });
});

describe("Invariant 2: acknowledged means durable", () => {
  it("every acknowledged write is there, once, after a restart on the same file", async () => {
    const scratch = scratchDirectory();
    const db = join(scratch.path, "tally.db");
    try {
      const first = await startTestTally({ db });
      const { customerId } = await createCatalogFixture(first.clients());
      const acknowledged = await Promise.all(
        Array.from({ length: 40 }, (_, index) =>
          first.clients(PROTOCOLS[index % PROTOCOLS.length]).usage.recordUsage({ requestId: `durable-${index}`, customerId, meterKey: "hosting", quantity: "0.125" }),
        ),
      );
      await first.stop();

      const second = await startTestTally({ db });
      try {
        const { usage, billing } = second.clients();
        for (const [index, response] of acknowledged.entries()) {
          const { record } = await usage.getUsageRecord({ id: response.record!.id });
          assert.equal(record?.requestId, `durable-${index}`);
          const retry = await usage.recordUsage({ requestId: `durable-${index}`, customerId, meterKey: "hosting", quantity: "0.125" });
          assert.equal(retry.replayed, true);
        }
        const { bill } = await billing.getCurrentBill({ customerId });
        assert.equal(bill?.lines[0]?.quantity, "5"); // 40 × 0.125, each once
      } finally {
        await second.stop();
      }
    } finally {
      scratch.cleanup();
    }
  });
});

describe("Invariant 3: exact money", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("refuses anything that is not an exact, non-negative decimal within bounds", async () => {
    const { usage } = tally.clients("connect-json-h1");
    for (const quantity of ["", "-1", "1e3", "NaN", "Infinity", "0x10", " 1", "1,5", "1.0001", "1234567890123456789"]) {
      await assertRefused(
        usage.recordUsage({ requestId: `money-bad-${quantity}`, customerId, meterKey: "hosting", quantity }),
        Code.InvalidArgument,
        "INVALID_QUANTITY",
        ["quantity"],
      );
    }
  });

  it("adds decimal quantities without a float's error", async () => {
    const { usage, billing } = tally.clients();
    for (let index = 0; index < 10; index++) {
      await usage.recordUsage({ requestId: `money-tenth-${index}`, customerId, meterKey: "hosting", quantity: "0.1" });
    }
    await usage.recordUsage({ requestId: "money-big", customerId, meterKey: "hosting", quantity: "999999999999999999.999" });
    const { bill } = await billing.getCurrentBill({ customerId });
    const hosting = bill?.lines.find((line) => line.meterKey === "hosting");
    assert.equal(hosting?.quantity, "1000000000000000000.999");
    // 1000000000000000000.999 × 0.0125 = 12500000000000000.0124875 → 12500000000000000.01
    assert.equal(hosting?.amount, "12500000000000000.01");
  });

  it("prices graduated tiers exactly at and across every boundary", async () => {
    const clients = tally.clients();
    const cases: [string, string][] = [["100", "0.00"], ["0.001", "0.00"], ["899.999", "81.00"], ["500.5", "116.04"]];
    // Cumulative egress: 100, 100.001, 1000, 1500.5
    for (const [index, [quantity, amount]] of cases.entries()) {
      await clients.usage.recordUsage({ requestId: `money-egress-${index}`, customerId, meterKey: "egress", quantity });
      const { bill } = await clients.billing.getCurrentBill({ customerId });
      assert.equal(bill?.lines.find((line) => line.meterKey === "egress")?.amount, amount, `after +${quantity}`);
    }
  });

  it("refuses a total that would overflow instead of wrapping", async () => {
    const clients = tally.clients();
    const { customer } = await clients.customers.createCustomer({ requestId: "overflow-customer", customer: { displayName: "Big", currencyCode: "USD" } });
    const requests = Array.from({ length: 100 }, (_, index) => ({
      requestId: `overflow-${index}`,
      customerId: customer!.id,
      meterKey: "egress",
      quantity: "999999999999999999",
    }));
    const batch = await clients.usage.batchRecordUsage({ requests });
    assert.ok(batch.results.every((result) => result.result.case === "response"));
    await assertRefused(
      clients.usage.recordUsage({ requestId: "overflow-100", customerId: customer!.id, meterKey: "egress", quantity: "999999999999999999" }),
      Code.OutOfRange,
      "TOTAL_OVERFLOW",
    );
    const { bill } = await clients.billing.getCurrentBill({ customerId: customer!.id });
    assert.equal(bill?.lines[0]?.quantity, "99999999999999999900");
  });
});

describe("Invariant 4: bills are reproducible", () => {
  it("running totals and the bill equal what the raw records recompute to, through voids and retries, under every pricing model", async () => {
    const tally = await startTestTally();
    try {
      const clients = tally.clients();
      const { customerId } = await createCatalogFixture(clients);
      // Beside the fixture's graduated prices: graduated with flat fees, volume with flat fees, and packages.
      const modelled: [string, Aggregation, PricingModel, { upTo: string; unitAmount: string; flatAmount?: string }[], string][] = [
        ["builds", Aggregation.COUNT, PricingModel.GRADUATED, [{ upTo: "20", unitAmount: "0", flatAmount: "5" }, { upTo: "", unitAmount: "0.333", flatAmount: "2.5" }], ""],
        ["storage", Aggregation.SUM, PricingModel.VOLUME, [{ upTo: "500", unitAmount: "0.0125" }, { upTo: "1000", unitAmount: "0.01", flatAmount: "3.333" }, { upTo: "", unitAmount: "0.0075", flatAmount: "7" }], ""],
        ["messages", Aggregation.SUM, PricingModel.PACKAGE, [{ upTo: "", unitAmount: "1.255" }], "100"],
        ["agents", Aggregation.MAX, PricingModel.VOLUME, [{ upTo: "10", unitAmount: "4.995" }, { upTo: "", unitAmount: "3.995", flatAmount: "1" }], ""],
      ];
      for (const [key, aggregation, model, tiers, packageSize] of modelled) {
        await clients.catalog.createMeter({ requestId: `repro-meter-${key}`, meter: { key, displayName: key, unit: "unit", aggregation, precision: 3 } });
        await clients.catalog.createPrice({ requestId: `repro-price-${key}`, price: { meterKey: key, currencyCode: "USD", model, tiers, packageSize } });
      }
      let seed = 42;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const meters = ["hosting", "egress", "calls", "seats", ...modelled.map(([key]) => key)];
      for (let index = 0; index < 600; index++) {
        const meterKey = meters[index % meters.length]!;
        const quantity = ["hosting", "egress", "storage", "messages"].includes(meterKey) ? (random() * 50).toFixed(3) : String(Math.floor(random() * 20));
        const requestId = `repro-${index}`;
        await clients.usage.recordUsage({ requestId, customerId, meterKey, quantity });
        if (random() < 0.2) await clients.usage.recordUsage({ requestId, customerId, meterKey, quantity });
        if (random() < 0.15) await clients.usage.voidUsage({ requestId, reason: "test correction" });
      }
      const { bill } = await clients.billing.getCurrentBill({ customerId });

      const store = openSqliteStore({ path: tally.db });
      try {
        const shape = (totals: UsageTotals[]) =>
          totals.map((t) => [t.meterKey, t.sum.toString(), t.count, t.max.toString()]).sort();
        const running = await store.usageTotals("default", customerId, "2026-11");
        const recomputed = totalsOf(await allLiveUsageRecords(store, "default", customerId, "2026-11"));
        assert.deepEqual(shape(running), shape(recomputed));
        const customer = (await store.findCustomer("default", customerId))!;
        const meterMap = new Map();
        for (const key of meters) meterMap.set(key, await store.findMeter("default", key));
        const prices = await store.effectivePrices(
          "default",
          "USD",
          "2026-11",
          meters.map((meterKey) => ({ meterKey, dimensionKey: "", customerId: "" })),
        );
        const fromRaw = await computeBill({
          customer,
          period: "2026-11",
          totals: recomputed,
          meters: meterMap,
          prices: new Map(prices.map((price) => [price.meterKey, price])),
          now: NOW,
          finalizeGraceMs: 0,
        });
        assert.deepEqual(
          bill?.lines.map((line) => [line.meterKey, line.quantity, line.amount]),
          fromRaw.lines.map((line) => [line.meterKey, line.quantity.toString(), line.amount]),
        );
        assert.equal(bill?.lines.length, meters.length);
        assert.deepEqual(
          bill?.lines.map((line) => line.tiers.map((tier) => [tier.quantity, tier.packages, tier.flatAmount, tier.amount])),
          fromRaw.lines.map((line) =>
            line.tiers.map((tier) => [tier.quantity.toString(), tier.packages?.toString() ?? "", tier.flatAmount?.toString() ?? "", tier.amount.toString()]),
          ),
        );
        assert.equal(bill?.total, fromRaw.total);
      } finally {
        await store.close();
      }
    } finally {
      await tally.stop();
    }
  });
});

describe("Invariant 5: time rules", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally({ finalizeGrace: 24 * 3_600_000 });
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("event_time defaults to receipt time and may be at most 5 minutes ahead", async () => {
    const { usage } = tally.clients();
    const defaulted = await usage.recordUsage({ requestId: "time-default", customerId, meterKey: "calls", quantity: "1" });
    assert.deepEqual(defaulted.record?.eventTime, timestampFromMs(NOW));
    const ahead = await usage.recordUsage({ requestId: "time-ahead", customerId, meterKey: "calls", quantity: "1", eventTime: timestampFromMs(NOW + 5 * 60_000) });
    assert.equal(ahead.replayed, false);
    await assertRefused(
      usage.recordUsage({ requestId: "time-future", customerId, meterKey: "calls", quantity: "1", eventTime: timestampFromMs(NOW + 5 * 60_000 + 1) }),
      Code.InvalidArgument,
      "EVENT_TIME_OUT_OF_RANGE",
      ["event_time"],
    );
  });

  it("late events land in their own period until it finalizes (end + grace), then BILL_FINALIZED", async () => {
    const { usage, billing } = tally.clients();
    const lateOctober = Date.UTC(2026, 9, 31, 23, 0);
    tally.clock.set(Date.UTC(2026, 10, 1, 23, 0)); // 23 h after October ended: within the 24 h grace
    // The fixture's prices start in November; price October too (version 2, the same amount).
    const { price } = await tally.clients().catalog.createPrice({
      requestId: "time-october-price",
      price: { meterKey: "hosting", currencyCode: "USD", effectivePeriod: "2026-10", tiers: [{ unitAmount: "0.0125" }] },
    });
    assert.equal(price?.version, 2);
    const late = await usage.recordUsage({ requestId: "time-late", customerId, meterKey: "hosting", quantity: "10", eventTime: timestampFromMs(lateOctober) });
    assert.equal(late.record?.period, "2026-10");
    const draft = await billing.getBill({ customerId, period: "2026-10" });
    assert.equal(draft.bill?.status, BillStatus.DRAFT);

    tally.clock.set(Date.UTC(2026, 10, 2, 0, 0)); // exactly end + grace
    await assertRefused(
      usage.recordUsage({ requestId: "time-too-late", customerId, meterKey: "hosting", quantity: "10", eventTime: timestampFromMs(lateOctober) }),
      Code.FailedPrecondition,
      "BILL_FINALIZED",
      ["event_time"],
    );
    await assertRefused(usage.voidUsage({ requestId: "time-late", reason: "too late" }), Code.FailedPrecondition, "BILL_FINALIZED");
    // A retry of what was acknowledged is still answered with the original record.
    const retry = await usage.recordUsage({ requestId: "time-late", customerId, meterKey: "hosting", quantity: "10", eventTime: timestampFromMs(lateOctober) });
    assert.equal(retry.replayed, true);
    const finalized = await billing.getBill({ customerId, period: "2026-10" });
    assert.equal(finalized.bill?.status, BillStatus.FINALIZED);
    assert.equal(finalized.bill?.total, "0.12"); // 10 × 0.0125 = 0.125 → half to even
    assert.equal(finalized.bill?.lines[0]?.priceVersion, 2);
    await assertRefused(
      tally.clients().catalog.createPrice({
        requestId: "time-october-reprice",
        price: { meterKey: "hosting", currencyCode: "USD", effectivePeriod: "2026-10", tiers: [{ unitAmount: "1" }] },
      }),
      Code.FailedPrecondition,
      "BILL_FINALIZED",
      ["price.effective_period"],
    );
    tally.clock.set(NOW);
  });

  it("the grace is configurable", async () => {
    const strict = await startTestTally({ finalizeGrace: 0 });
    try {
      const { customerId: strictCustomer } = await createCatalogFixture(strict.clients());
      strict.clock.set(Date.UTC(2026, 10, 1, 0, 0, 1));
      await assertRefused(
        strict.clients().usage.recordUsage({
          requestId: "grace-0",
          customerId: strictCustomer,
          meterKey: "calls",
          quantity: "1",
          eventTime: timestampFromMs(Date.UTC(2026, 9, 31, 23, 59, 59)),
        }),
        Code.FailedPrecondition,
        "BILL_FINALIZED",
      );
    } finally {
      await strict.stop();
    }
  });
});

