import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import { roundToMinorUnit } from "../../src/domain/money.js";
import { chargePrice, exactAmount } from "../../src/domain/price.js";
import { createRandom } from "../../src/simulate/random.js";
import { exactLineAmount } from "../../src/simulate/exact-price.js";
import { planCatalog, type SimulatedTier } from "../../src/simulate/simulated-catalog.js";

const quantity = (text: string) => Decimal.parse(text)!;
const flat = (unitAmount: string): SimulatedTier[] => [{ upTo: undefined, unitAmount }];
const graduated = planCatalog("test", 1, 1).meters[0]!.tiers;

describe("exactLineAmount", () => {
  it("prices a flat tier and rounds once, half to even, to the minor unit", () => {
    assert.equal(exactLineAmount(quantity("3.5"), flat("0.0125"), 2), "0.04");
    assert.equal(exactLineAmount(quantity("1"), flat("0.125"), 2), "0.12");
    assert.equal(exactLineAmount(quantity("1"), flat("0.135"), 2), "0.14");
    assert.equal(exactLineAmount(quantity("0"), flat("0.135"), 2), "0.00");
    assert.equal(exactLineAmount(quantity("7"), flat("3"), 0), "21");
  });

  it("prices each unit by the graduated tier it falls in", () => {
    assert.deepEqual(graduated, [
      { upTo: "100", unitAmount: "0.0125" },
      { upTo: "1000", unitAmount: "0.01" },
      { upTo: undefined, unitAmount: "0.0075" },
    ]);
    assert.equal(exactLineAmount(quantity("50"), graduated, 2), "0.62"); // 0.625
    assert.equal(exactLineAmount(quantity("100.5"), graduated, 2), "1.26"); // 1.25 + 0.005
    assert.equal(exactLineAmount(quantity("1500"), graduated, 2), "14.00"); // 1.25 + 9 + 3.75
  });

  it("agrees with the server's own pricing on random quantities", () => {
    const random = createRandom("exact-price");
    const domainTiers = graduated.map((tier) => ({
      upTo: tier.upTo === undefined ? null : quantity(tier.upTo),
      unitAmount: quantity(tier.unitAmount),
      flatAmount: null,
    }));
    for (let index = 0; index < 500; index++) {
      const sample = quantity(`${random.below(3000)}.${String(random.below(1000)).padStart(3, "0")}`);
      const server = roundToMinorUnit(exactAmount(chargePrice(sample, { model: "graduated", tiers: domainTiers, packageSize: null })), "USD");
      assert.equal(exactLineAmount(sample, graduated, 2), server, `quantity ${sample}`);
    }
  });
});
