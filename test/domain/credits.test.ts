import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Bill } from "../../src/domain/bill.js";
import { billDocument, billOfDocument, newestFinalizedPeriod } from "../../src/domain/bill-revisions.js";
import { allocateCredits, amountsDue, type CreditGrant } from "../../src/domain/credits.js";
import { Decimal } from "../../src/domain/decimal.js";

const d = (text: string) => Decimal.parse(text)!;
const grant = (id: string, remaining: string, overrides: Partial<CreditGrant> = {}): CreditGrant => ({
  id,
  customerId: "cus_1",
  amount: d(remaining),
  currencyCode: "USD",
  expireTime: null,
  reason: "",
  remainingAmount: d(remaining),
  createTime: Date.UTC(2026, 9, 10),
  ...overrides,
});
const uses = (allocation: ReturnType<typeof allocateCredits>) => allocation.uses.map((use) => `${use.grantId}:${use.amount}`);

describe("credits: which grants pay for a bill", () => {
  it("grants expiring first are used first, never-expiring ones last, ties by creation", () => {
    const grants = [
      grant("never", "10"),
      grant("late", "10", { expireTime: Date.UTC(2027, 5, 1) }),
      grant("soon-b", "3", { expireTime: Date.UTC(2027, 0, 1), createTime: Date.UTC(2026, 9, 12) }),
      grant("soon-a", "3", { expireTime: Date.UTC(2027, 0, 1), createTime: Date.UTC(2026, 9, 11) }),
    ];
    const allocation = allocateCredits(d("20"), grants, "2026-11");
    assert.deepEqual(uses(allocation), ["soon-a:3", "soon-b:3", "late:10", "never:4"]);
    assert.equal(allocation.applied.toString(), "20");
  });

  it("applies min(total, available): a bill smaller than the credits takes only its total, a larger one all of them", () => {
    assert.equal(allocateCredits(d("7.25"), [grant("g", "10")], "2026-11").applied.toString(), "7.25");
    assert.equal(allocateCredits(d("12.50"), [grant("g", "10")], "2026-11").applied.toString(), "10");
    assert.deepEqual(uses(allocateCredits(d("0"), [grant("g", "10")], "2026-11")), []);
  });

  it("a grant applies from the period it was created in, until its expire_time is at or before the period's start, while something is left", () => {
    const createdInNovember = grant("nov", "5", { createTime: Date.UTC(2026, 10, 20) });
    assert.equal(allocateCredits(d("9"), [createdInNovember], "2026-10").applied.toString(), "0");
    assert.equal(allocateCredits(d("9"), [createdInNovember], "2026-11").applied.toString(), "5");
    const expiresAtDecemberStart = grant("exp", "5", { expireTime: Date.UTC(2026, 11, 1) });
    assert.equal(allocateCredits(d("9"), [expiresAtDecemberStart], "2026-11").applied.toString(), "5");
    assert.equal(allocateCredits(d("9"), [expiresAtDecemberStart], "2026-12").applied.toString(), "0");
    const justAfterStart = grant("exp2", "5", { expireTime: Date.UTC(2026, 11, 1) + 1 });
    assert.equal(allocateCredits(d("9"), [justAfterStart], "2026-12").applied.toString(), "5");
    assert.equal(allocateCredits(d("9"), [grant("used", "0")], "2026-11").applied.toString(), "0");
  });

  it("amount due is the total less the credits, never below 0, in the currency's minor unit", () => {
    assert.deepEqual(amountsDue("12.50", d("10"), "USD"), { creditsApplied: "10.00", amountDue: "2.50" });
    assert.deepEqual(amountsDue("3.00", d("10"), "USD"), { creditsApplied: "3.00", amountDue: "0.00" });
    assert.deepEqual(amountsDue("1200", d("0"), "JPY"), { creditsApplied: "0", amountDue: "1200" });
  });
});

describe("bill revisions", () => {
  it("a bill's stored document gives back the same bill, decimals exact", () => {
    const bill: Bill = {
      customerId: "cus_1",
      period: "2026-11",
      status: "finalized",
      currencyCode: "USD",
      lines: [
        {
          meterKey: "hosting",
          displayName: "Hosting",
          unit: "GB",
          quantity: d("1500.000000001"),
          amount: "18.75",
          priceVersion: 2,
          priceId: "price_1",
          dimensions: { region: "eu" },
          tiers: [{ upTo: null, quantity: d("1500.000000001"), unitAmount: d("0.0125"), flatAmount: null, packages: null, amount: d("18.7500000000125") }],
        },
      ],
      total: "18.75",
      creditsApplied: "10.00",
      amountDue: "8.75",
      revision: 2,
      asOfTime: 5,
      startTime: 1,
      endTime: 2,
      finalizeTime: 3,
    };
    const back = billOfDocument(billDocument(bill));
    assert.deepEqual(back, bill);
    assert.ok(back.lines[0]!.quantity instanceof Decimal);
  });

  it("the newest finalized period accounts for the grace", () => {
    const rules = { finalizeGraceMs: 72 * 3_600_000, maxEventTimeAheadMs: 0 };
    assert.equal(newestFinalizedPeriod(Date.UTC(2026, 11, 3), rules), "2026-10");
    assert.equal(newestFinalizedPeriod(Date.UTC(2026, 11, 4), rules), "2026-11");
  });
});
