import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeBill } from "../../src/domain/bill.js";
import type { Customer } from "../../src/domain/customer.js";
import { Decimal } from "../../src/domain/decimal.js";
import type { Meter } from "../../src/domain/meter.js";
import type { Price, PriceTier } from "../../src/domain/price.js";
import type { UsageTotals } from "../../src/domain/usage-record.js";

const d = (text: string) => Decimal.parse(text)!;
const customer: Customer = { id: "cus_1", externalId: "acme", displayName: "Acme", currencyCode: "USD", createTime: 0 };
const meter = (key: string, aggregation: Meter["aggregation"]): Meter => ({
  key,
  displayName: key,
  unit: "unit",
  aggregation,
  precision: 3,
  uniqueAttribute: "",
  dimensions: [],
  createTime: 0,
});
const totals = (meterKey: string, sum: string, count: number, max: string): UsageTotals => ({
  customerId: "cus_1",
  meterKey,
  period: "2026-11",
  dimensionValues: [],
  sum: d(sum),
  count,
  max: d(max),
  distinct: 0,
  latest: null,
  combinations: 0,
});
const flat = (meterKey: string, unitAmount: string, version = 1): Price => ({
  id: `price_${meterKey}`,
  meterKey,
  currencyCode: "USD",
  dimensionValues: {},
  customerId: "",
  model: "graduated",
  tiers: [{ upTo: null, unitAmount: d(unitAmount), flatAmount: null }],
  packageSize: null,
  effectivePeriod: "2026-11",
  version,
  createTime: 0,
});
const NOW = Date.UTC(2026, 10, 21);

describe("computeBill", () => {
  it("aggregates by SUM, COUNT and MAX, rounds each line half to even once, and totals the rounded lines", async () => {
    const bill = await computeBill({
      customer,
      period: "2026-11",
      totals: [totals("storage", "10", 4, "6"), totals("calls", "999", 7, "500"), totals("hosting", "0.5", 1, "0.5")],
      meters: new Map([
        ["storage", meter("storage", "max")],
        ["calls", meter("calls", "count")],
        ["hosting", meter("hosting", "sum")],
      ]),
      prices: new Map([
        ["storage", flat("storage", "0.0125")], // 6 × 0.0125 = 0.075 → 0.08 (half to even: 7 is odd → up)
        ["calls", flat("calls", "0.0025", 3)], // 7 × 0.0025 = 0.0175 → 0.02
        ["hosting", flat("hosting", "0.025")], // 0.5 × 0.025 = 0.0125 → 0.01 (half to even: 1 stays)
      ]),
      now: NOW,
      finalizeGraceMs: 0,
    });
    assert.deepEqual(
      bill.lines.map((line) => [line.meterKey, line.quantity.toString(), line.amount, line.priceVersion]),
      [
        ["calls", "7", "0.02", 3],
        ["hosting", "0.5", "0.01", 1],
        ["storage", "6", "0.08", 1],
      ],
    );
    assert.equal(bill.total, "0.11");
    assert.equal(bill.status, "draft");
    assert.equal(bill.asOfTime, NOW);
  });

  it("prices each line by its price's model, rounding the line once", async () => {
    const tier = (upTo: string, unitAmount: string, flatAmount?: string): PriceTier => ({
      upTo: upTo === "" ? null : d(upTo),
      unitAmount: d(unitAmount),
      flatAmount: flatAmount === undefined ? null : d(flatAmount),
    });
    const bill = await computeBill({
      customer,
      period: "2026-11",
      totals: [totals("calls", "2500.5", 3, "2000"), totals("seats", "300", 3, "100"), totals("storage", "100.5", 2, "60")],
      meters: new Map([
        ["calls", meter("calls", "sum")],
        ["seats", meter("seats", "max")],
        ["storage", meter("storage", "sum")],
      ]),
      prices: new Map([
        // 3 packages of 1000 × 2.505 = 7.515 → 7.52 (half to even: 1 is odd → up)
        ["calls", { ...flat("calls", "2.505"), model: "package", packageSize: d("1000") }],
        // 100 is in the first tier (up_to inclusive): 100 × 0.10 = 10, no flat amount
        ["seats", { ...flat("seats", "0"), model: "volume", tiers: [tier("100", "0.10"), tier("", "0.08", "20")] }],
        // 10 + 0.5 × 0.09 + 5 = 15.045 → 15.04 (half to even: 4 stays)
        ["storage", { ...flat("storage", "0"), tiers: [tier("100", "0", "10"), tier("", "0.09", "5")] }],
      ]),
      now: NOW,
      finalizeGraceMs: 0,
    });
    assert.deepEqual(
      bill.lines.map((line) => [line.meterKey, line.quantity.toString(), line.amount]),
      [
        ["calls", "2500.5", "7.52"],
        ["seats", "100", "10.00"],
        ["storage", "100.5", "15.04"],
      ],
    );
    assert.equal(bill.total, "32.56");
    const [calls, seats, storage] = bill.lines.map((line) =>
      line.tiers.map((charge) => [charge.quantity.toString(), charge.packages?.toString() ?? "", charge.flatAmount?.toString() ?? "", charge.amount.toString()]),
    );
    assert.deepEqual(calls, [["2500.5", "3", "", "7.515"]]);
    assert.deepEqual(seats, [["100", "", "", "10"], ["0", "", "", "0"]]);
    assert.deepEqual(storage, [["100", "", "10", "10"], ["0.5", "", "5", "5.045"]]);
  });

  it("shows an unpriced meter with a zero amount and version 0", async () => {
    const bill = await computeBill({
      customer,
      period: "2026-11",
      totals: [totals("hosting", "3", 1, "3")],
      meters: new Map([["hosting", meter("hosting", "sum")]]),
      prices: new Map(),
      now: NOW,
      finalizeGraceMs: 0,
    });
    assert.equal(bill.lines[0]?.amount, "0.00");
    assert.equal(bill.lines[0]?.priceVersion, 0);
    assert.equal(bill.total, "0.00");
  });

  it("is finalized once the period's end plus grace has passed, as of that moment", async () => {
    const grace = 60 * 60 * 1000;
    const end = Date.UTC(2026, 10, 1);
    const input = { customer, period: "2026-10", totals: [], meters: new Map(), prices: new Map(), finalizeGraceMs: grace };
    assert.equal((await computeBill({ ...input, now: end + grace - 1 })).status, "draft");
    const finalized = await computeBill({ ...input, now: end + grace + 5000 });
    assert.equal(finalized.status, "finalized");
    assert.equal(finalized.asOfTime, end + grace);
  });

  it("writes amounts in the currency's minor unit", async () => {
    const yen = await computeBill({
      customer: { ...customer, currencyCode: "JPY" },
      period: "2026-11",
      totals: [totals("hosting", "3", 1, "3")],
      meters: new Map([["hosting", meter("hosting", "sum")]]),
      prices: new Map([["hosting", { ...flat("hosting", "2.5"), currencyCode: "JPY" }]]),
      now: NOW,
      finalizeGraceMs: 0,
    });
    assert.equal(yen.total, "8"); // 7.5 → 8 (half to even)
  });
});
