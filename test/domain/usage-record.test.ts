import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFinalized, periodEnd, periodOf, periodStart, previousPeriod } from "../../src/domain/billing-period.js";
import { Decimal } from "../../src/domain/decimal.js";
import { addToTotals, MAX_TOTAL_INTEGER_DIGITS, type NewUsageRecord, totalsOf, usageDifferences } from "../../src/domain/usage-record.js";

const record = (overrides: Partial<NewUsageRecord> = {}): NewUsageRecord => ({
  id: "rec_1",
  requestId: "r1",
  customerId: "cus_1",
  meterKey: "hosting",
  quantity: Decimal.parse("1.5")!,
  eventTime: 0,
  requestedEventTime: null,
  createTime: 0,
  period: "2026-11",
  attributes: { region: "eu" },
  ...overrides,
});

describe("usage records", () => {
  it("an identical retry differs in nothing, whatever its spelling", () => {
    assert.deepEqual(usageDifferences(record(), record({ id: "rec_2", quantity: Decimal.parse("1.50")!, createTime: 99 })), []);
  });

  it("names every field a retry changed", () => {
    const retry = record({ quantity: Decimal.parse("2")!, requestedEventTime: 5, attributes: { region: "us" }, meterKey: "egress" });
    assert.deepEqual(usageDifferences(record(), retry), ["meter_key", "quantity", "event_time", "attributes"]);
    assert.deepEqual(usageDifferences(record(), record({ attributes: {} })), ["attributes"]);
  });

  it("refuses a total that would outgrow its digits instead of wrapping", () => {
    const big = record({ quantity: Decimal.parse("999999999999999999")! });
    let totals = addToTotals(undefined, big);
    for (let i = 0; i < 99; i++) {
      if ("reason" in totals) assert.fail(totals.message);
      totals = addToTotals(totals, big);
    }
    if ("reason" in totals) assert.fail("99 + 1 events still fit");
    assert.equal(totals.sum.integerDigits, MAX_TOTAL_INTEGER_DIGITS);
    const overflow = addToTotals(totals, big);
    assert.ok("reason" in overflow && overflow.reason === "TOTAL_OVERFLOW");
  });

  it("totals from scratch sum, count and take the maximum", () => {
    const [totals] = totalsOf([record(), record({ quantity: Decimal.parse("4")! }), record({ quantity: Decimal.parse("0.25")! })]);
    assert.equal(totals?.sum.toString(), "5.75");
    assert.equal(totals?.count, 3);
    assert.equal(totals?.max.toString(), "4");
  });
});

describe("billing periods", () => {
  it("are UTC calendar months", () => {
    assert.equal(periodOf(Date.UTC(2026, 10, 30, 23, 59, 59, 999)), "2026-11");
    assert.equal(periodOf(Date.UTC(2026, 11, 1)), "2026-12");
    assert.equal(periodStart("2026-12"), Date.UTC(2026, 11, 1));
    assert.equal(periodEnd("2026-12"), Date.UTC(2027, 0, 1));
    assert.equal(previousPeriod("2027-01"), "2026-12");
  });

  it("finalize at their end plus the grace time", () => {
    const grace = 3_600_000;
    assert.equal(isFinalized("2026-10", periodEnd("2026-10") + grace - 1, grace), false);
    assert.equal(isFinalized("2026-10", periodEnd("2026-10") + grace, grace), true);
  });
});
