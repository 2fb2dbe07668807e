import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import { chargeTiers, checkTiers, type PriceTier } from "../../src/domain/price.js";

const d = (text: string) => Decimal.parse(text)!;
const tiers = (...spec: [string, string][]): PriceTier[] =>
  spec.map(([upTo, unitAmount]) => ({ upTo: upTo === "" ? null : d(upTo), unitAmount: d(unitAmount) }));

describe("graduated tiers", () => {
  const egress = tiers(["100", "0"], ["1000", "0.09"], ["", "0.07"]);

  it("prices each unit by the tier it falls in, across every boundary", () => {
    const cases: [string, string[], string][] = [
      ["0", ["0", "0", "0"], "0"],
      ["100", ["100", "0", "0"], "0"],
      ["100.001", ["100", "0.001", "0"], "0.00009"],
      ["1000", ["100", "900", "0"], "81"],
      ["1500.5", ["100", "900", "500.5"], "116.035"],
    ];
    for (const [quantity, inTiers, amount] of cases) {
      const charges = chargeTiers(d(quantity), egress);
      assert.deepEqual(charges.map((charge) => charge.quantity.toString()), inTiers, quantity);
      const total = charges.reduce((sum, charge) => sum.add(charge.amount), Decimal.ZERO);
      assert.equal(total.toString(), amount, quantity);
    }
  });

  it("a single unbounded tier is a flat price", () => {
    const [charge] = chargeTiers(d("58"), tiers(["", "0.25"]));
    assert.equal(charge?.amount.toString(), "14.5");
  });

  it("refuses tiers that leave a quantity without exactly one tier", () => {
    assert.equal(checkTiers(egress), undefined);
    assert.equal(checkTiers([])?.reason, "INVALID_FIELD");
    assert.equal(checkTiers(tiers(["100", "1"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
    assert.equal(checkTiers(tiers(["", "1"], ["", "2"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
    assert.equal(checkTiers(tiers(["100", "1"], ["100", "2"], ["", "3"]))?.fieldViolations[0]?.field, "price.tiers[1].up_to");
    assert.equal(checkTiers(tiers(["0", "1"], ["", "3"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
  });
});
