import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import { roundToMinorUnit } from "../../src/domain/money.js";
import { chargePrice, exactAmount } from "../../src/domain/price.js";
import { createRandom } from "../../src/simulate/random.js";
import { exactLineAmount } from "../../src/simulate/exact-price.js";
import { planCatalog } from "../../src/simulate/simulated-catalog.js";

const quantity = (text: string) => Decimal.parse(text)!;
const flat = (unitAmount: string) => ({ model: "graduated" as const, tiers: [{ upTo: undefined, unitAmount }] });
const graduated = planCatalog("test", 1, 1).meters[0]!;

describe("exactLineAmount", () => {
  it("prices a flat tier and rounds once, half to even, to the minor unit", () => {
    assert.equal(exactLineAmount(quantity("3.5"), flat("0.0125"), 2), "0.04");
    assert.equal(exactLineAmount(quantity("1"), flat("0.125"), 2), "0.12");
    assert.equal(exactLineAmount(quantity("1"), flat("0.135"), 2), "0.14");
    assert.equal(exactLineAmount(quantity("0"), flat("0.135"), 2), "0.00");
    assert.equal(exactLineAmount(quantity("7"), flat("3"), 0), "21");
  });

  it("prices each unit by the graduated tier it falls in", () => {
    assert.deepEqual(graduated.tiers, [
      { upTo: "100", unitAmount: "0.0125" },
      { upTo: "1000", unitAmount: "0.01" },
      { upTo: undefined, unitAmount: "0.0075" },
    ]);
    assert.equal(exactLineAmount(quantity("50"), graduated, 2), "0.62"); // 0.625
    assert.equal(exactLineAmount(quantity("100.5"), graduated, 2), "1.26"); // 1.25 + 0.005
    assert.equal(exactLineAmount(quantity("1500"), graduated, 2), "14.00"); // 1.25 + 9 + 3.75
  });

  it("prices the volume, package and fee-carrying graduated meters as DESIGN.md says, at and around their bounds", () => {
    const [, pack, volume, fees] = planCatalog("test", 4, 1).meters;
    const amounts = (meter: typeof pack, quantities: string[]) => quantities.map((text) => exactLineAmount(quantity(text), meter!, 2));
    // 0.0125 per started 10: 0, 1, 1, 2 and 101 packages (0.0125 → 0.01, 0.025 → 0.02, 1.2625 → 1.26)
    assert.deepEqual(amounts(pack, ["0", "1", "10", "11", "1001"]), ["0.00", "0.01", "0.01", "0.02", "1.26"]);
    // 50 × 0.0125 = 0.625 → 0.62; 50.001 × 0.01 + 0.505 = 1.00501; 500 × 0.01 + 0.505 = 5.505 → 5.50; 501 × 0.0075 + 2.5 = 6.2575
    assert.deepEqual(amounts(volume, ["0", "50", "50.001", "500", "501"]), ["0.00", "0.62", "1.01", "5.50", "6.26"]);
    // 0.25 for any use; 0.105 + 0.00125 each past 5: 0.35625 → 0.36, 1.605 → 1.60
    assert.deepEqual(amounts(fees, ["0", "1", "5", "6", "1005"]), ["0.00", "0.25", "0.25", "0.36", "1.60"]);
  });

  it("agrees with the server's own pricing on random quantities, under every model the simulator uses", () => {
    const random = createRandom("exact-price");
    for (const meter of planCatalog("test", 4, 1).meters) {
      const terms = {
        model: meter.model,
        tiers: meter.tiers.map((tier) => ({
          upTo: tier.upTo === undefined ? null : quantity(tier.upTo),
          unitAmount: quantity(tier.unitAmount),
          flatAmount: tier.flatAmount === undefined ? null : quantity(tier.flatAmount),
        })),
        packageSize: meter.packageSize === undefined ? null : quantity(meter.packageSize),
      };
      for (let index = 0; index < 500; index++) {
        const sample = quantity(`${random.below(3000)}.${String(random.below(1000)).padStart(3, "0")}`);
        const server = roundToMinorUnit(exactAmount(chargePrice(sample, terms)), "USD");
        assert.equal(exactLineAmount(sample, meter, 2), server, `${meter.model} quantity ${sample}`);
      }
    }
  });
});
