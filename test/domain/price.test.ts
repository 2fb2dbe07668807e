import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import {
  chargePrice,
  checkPricingTerms,
  checkTiers,
  exactAmount,
  type Price,
  type PriceTier,
  type PricingModel,
  type PricingTerms,
  priceDifferences,
} from "../../src/domain/price.js";

const d = (text: string) => Decimal.parse(text)!;
/** Tiers as [up_to, unit_amount, flat_amount?], "" for an empty up_to. */
const tiers = (...spec: [string, string, string?][]): PriceTier[] =>
  spec.map(([upTo, unitAmount, flatAmount]) => ({
    upTo: upTo === "" ? null : d(upTo),
    unitAmount: d(unitAmount),
    flatAmount: flatAmount === undefined ? null : d(flatAmount),
  }));
const terms = (model: PricingModel, priceTiers: PriceTier[], packageSize?: string): PricingTerms => ({
  model,
  tiers: priceTiers,
  packageSize: packageSize === undefined ? null : d(packageSize),
});

/** Checks each [quantity, quantity in each tier, flat amount paid by each tier ("" none), exact amount]. */
function assertCharges(price: PricingTerms, cases: [string, string[], string[], string][]): void {
  for (const [quantity, inTiers, flats, amount] of cases) {
    const charges = chargePrice(d(quantity), price);
    assert.deepEqual(charges.map((charge) => charge.quantity.toString()), inTiers, `quantities at ${quantity}`);
    assert.deepEqual(charges.map((charge) => charge.flatAmount?.toString() ?? ""), flats, `flat amounts at ${quantity}`);
    assert.equal(exactAmount(charges).toString(), amount, `amount at ${quantity}`);
  }
}

describe("graduated tiers", () => {
  const egress = terms("graduated", tiers(["100", "0"], ["1000", "0.09"], ["", "0.07"]));

  it("prices each unit by the tier it falls in, across every boundary", () => {
    const none = ["", "", ""];
    assertCharges(egress, [
      ["0", ["0", "0", "0"], none, "0"],
      ["100", ["100", "0", "0"], none, "0"],
      ["100.001", ["100", "0.001", "0"], none, "0.00009"],
      ["1000", ["100", "900", "0"], none, "81"],
      ["1500.5", ["100", "900", "500.5"], none, "116.035"],
    ]);
  });

  it("a single unbounded tier is a flat price", () => {
    const [charge] = chargePrice(d("58"), terms("graduated", tiers(["", "0.25"])));
    assert.equal(charge?.amount.toString(), "14.5");
  });

  it("adds the flat amount of every tier that holds some of the quantity, and none at 0", () => {
    // 10 for reaching the first tier, 5 more for the second; the third has no flat amount.
    const withFees = terms("graduated", tiers(["100", "0", "10"], ["1000", "0.09", "5"], ["", "0.07"]));
    assertCharges(withFees, [
      ["0", ["0", "0", "0"], ["", "", ""], "0"],
      ["0.001", ["0.001", "0", "0"], ["10", "", ""], "10"],
      ["100", ["100", "0", "0"], ["10", "", ""], "10"],
      ["100.001", ["100", "0.001", "0"], ["10", "5", ""], "15.00009"], // 10 + 0.001 × 0.09 + 5
      ["1000", ["100", "900", "0"], ["10", "5", ""], "96"], // 10 + 81 + 5
      ["1000.5", ["100", "900", "0.5"], ["10", "5", ""], "96.035"], // 96 + 0.5 × 0.07
    ]);
    // A tier's amount is its units plus its flat fee.
    assert.deepEqual(chargePrice(d("100.001"), withFees).map((charge) => charge.amount.toString()), ["10", "5.00009", "0"]);
  });

  it("refuses tiers that leave a quantity without exactly one tier", () => {
    assert.equal(checkTiers(egress.tiers), undefined);
    assert.equal(checkTiers([])?.reason, "INVALID_FIELD");
    assert.equal(checkTiers(tiers(["100", "1"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
    assert.equal(checkTiers(tiers(["", "1"], ["", "2"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
    assert.equal(checkTiers(tiers(["100", "1"], ["100", "2"], ["", "3"]))?.fieldViolations[0]?.field, "price.tiers[1].up_to");
    assert.equal(checkTiers(tiers(["0", "1"], ["", "3"]))?.fieldViolations[0]?.field, "price.tiers[0].up_to");
  });
});

describe("volume tiers", () => {
  // 0.10 each up to 100; 0.08 each plus 20 up to 1000; 0.05 each plus 50 beyond.
  const seats = terms("volume", tiers(["100", "0.10"], ["1000", "0.08", "20"], ["", "0.05", "50"]));

  it("prices all of the quantity at the tier the total falls in (up_to inclusive), plus that tier's flat amount", () => {
    assertCharges(seats, [
      ["0", ["0", "0", "0"], ["", "", ""], "0"],
      ["1", ["1", "0", "0"], ["", "", ""], "0.1"],
      ["100", ["100", "0", "0"], ["", "", ""], "10"],
      ["100.5", ["0", "100.5", "0"], ["", "20", ""], "28.04"], // 100.5 × 0.08 + 20
      ["1000", ["0", "1000", "0"], ["", "20", ""], "100"], // 1000 × 0.08 + 20
      ["1000.001", ["0", "0", "1000.001"], ["", "", "50"], "100.00005"], // 1000.001 × 0.05 + 50
      ["2000", ["0", "0", "2000"], ["", "", "50"], "150"],
    ]);
  });

  it("charges nothing for a quantity of 0, even where the first tier has a flat amount", () => {
    const withFee = terms("volume", tiers(["10", "1", "5"], ["", "0.5"]));
    assertCharges(withFee, [
      ["0", ["0", "0"], ["", ""], "0"],
      ["0.5", ["0.5", "0"], ["5", ""], "5.5"],
      ["10", ["10", "0"], ["5", ""], "15"],
      ["11", ["0", "11"], ["", ""], "5.5"], // a volume price may cost less above a boundary than at it
    ]);
  });
});

describe("package pricing", () => {
  it("bills ceil(quantity / package_size) packages at the tier's unit amount", () => {
    const bundles = terms("package", tiers(["", "2.50"]), "1000");
    for (const [quantity, packages, amount] of [
      ["0", "0", "0"],
      ["0.001", "1", "2.5"],
      ["999.999", "1", "2.5"],
      ["1000", "1", "2.5"],
      ["1000.001", "2", "5"],
      ["2500", "3", "7.5"],
    ]) {
      const [charge, ...rest] = chargePrice(d(quantity!), bundles);
      assert.equal(rest.length, 0);
      assert.equal(charge?.quantity.toString(), quantity, `quantity at ${quantity}`);
      assert.equal(charge?.packages?.toString(), packages, `packages at ${quantity}`);
      assert.equal(charge?.amount.toString(), amount, `amount at ${quantity}`);
      assert.equal(charge?.flatAmount, null);
    }
  });

  it("counts packages of a fractional size exactly", () => {
    const halves = terms("package", tiers(["", "0.3"]), "0.5");
    assert.deepEqual(
      ["1", "1.2", "1.5", "1.500000001"].map((quantity) => exactAmount(chargePrice(d(quantity), halves)).toString()),
      ["0.6", "0.9", "0.9", "1.2"], // 2, 3, 3 and 4 packages
    );
  });
});

describe("pricing terms", () => {
  const field = (price: PricingTerms) => checkPricingTerms(price)?.fieldViolations[0]?.field;

  it("a package price has a package size above 0, exactly one unbounded tier and no flat amount", () => {
    assert.equal(checkPricingTerms(terms("package", tiers(["", "1"]), "100")), undefined);
    assert.equal(field(terms("package", tiers(["", "1"]))), "price.package_size");
    assert.equal(field(terms("package", tiers(["", "1"]), "0")), "price.package_size");
    assert.equal(field(terms("package", tiers(["10", "1"], ["", "1"]), "100")), "price.tiers");
    assert.equal(field(terms("package", tiers(["10", "1"]), "100")), "price.tiers[0].up_to");
    assert.equal(field(terms("package", tiers(["", "1", "3"]), "100")), "price.tiers[0].flat_amount");
  });

  it("graduated and volume prices have no package size, and tiers as graduated ones do", () => {
    assert.equal(checkPricingTerms(terms("volume", tiers(["10", "1", "2"], ["", "0.5", "1"]))), undefined);
    assert.equal(field(terms("graduated", tiers(["", "1"]), "100")), "price.package_size");
    assert.equal(field(terms("volume", tiers(["", "1"]), "100")), "price.package_size");
    assert.equal(field(terms("volume", tiers(["10", "1"], ["5", "2"], ["", "3"]))), "price.tiers[1].up_to");
    assert.equal(checkPricingTerms(terms("volume", []))?.reason, "INVALID_FIELD");
  });

  it("a replay differs when the model, a flat amount or the package size does", () => {
    const stored: Price = {
      id: "price_1",
      meterKey: "calls",
      currencyCode: "USD",
      dimensionValues: {},
      customerId: "",
      ...terms("volume", tiers(["10", "1", "2"], ["", "0.5"])),
      effectivePeriod: "2026-11",
      version: 1,
      createTime: 0,
    };
    const draft = { ...stored, effectivePeriod: "" };
    assert.deepEqual(priceDifferences(stored, draft), []);
    assert.deepEqual(priceDifferences(stored, { ...draft, model: "graduated" }), ["price.model"]);
    assert.deepEqual(priceDifferences(stored, { ...draft, tiers: tiers(["10", "1", "2.5"], ["", "0.5"]) }), ["price.tiers"]);
    assert.deepEqual(priceDifferences(stored, { ...draft, tiers: tiers(["10", "1"], ["", "0.5"]) }), ["price.tiers"]);
    assert.deepEqual(priceDifferences(stored, { ...draft, model: "package", packageSize: d("5") }), ["price.model", "price.package_size"]);
  });
});
