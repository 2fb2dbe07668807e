import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lineKey } from "../../src/domain/bill.js";
import { Decimal } from "../../src/domain/decimal.js";
import { candidatePriceKeys, priceDimensionKeyOf } from "../../src/domain/dimensions.js";
import type { Meter } from "../../src/domain/meter.js";
import type { Price } from "../../src/domain/price.js";
import { candidateSeries, choosePrices } from "../../src/domain/price-selection.js";

const meter: Meter = {
  key: "vm",
  displayName: "vm",
  unit: "h",
  aggregation: "sum",
  precision: 3,
  uniqueAttribute: "",
  // Not in name order, so the keys' sorting by name is tested too.
  dimensions: ["size", "region"],
  createTime: 0,
};
const price = (id: string, dimensionValues: Record<string, string>, customerId = ""): Price => ({
  id,
  meterKey: "vm",
  currencyCode: "USD",
  model: "graduated",
  tiers: [{ upTo: null, unitAmount: Decimal.parse("1")!, flatAmount: null }],
  packageSize: null,
  dimensionValues,
  customerId,
  effectivePeriod: "2026-11",
  version: 1,
  createTime: 0,
});

describe("price selection", () => {
  it("tries the most specific dimension_values first, the meter's earlier dimension breaking ties, and the catalog's last", () => {
    assert.deepEqual(candidatePriceKeys(meter, ["xl", "eu"]), [
      priceDimensionKeyOf({ region: "eu", size: "xl" }),
      priceDimensionKeyOf({ size: "xl" }),
      priceDimensionKeyOf({ region: "eu" }),
      "",
    ]);
    assert.equal(priceDimensionKeyOf({ size: "xl", region: "eu" }), '[["region","eu"],["size","xl"]]');
    assert.deepEqual(candidatePriceKeys({ ...meter, dimensions: [] }, []), [""]);
  });

  it("looks up each candidate series once, for the customer and the catalog", () => {
    const lines = [
      { meter, dimensionValues: ["xl", "eu"] },
      { meter, dimensionValues: ["s", "eu"] },
    ];
    // 4 + 4 keys, of which {region: eu} and {} are shared: 6 keys, each for the customer and the catalog.
    assert.equal(candidateSeries(lines, "cus_1").length, 12);
  });

  it("chooses the most specific price a line matches; at the same dimension_values the customer's wins; none covers the rest", () => {
    const lines = [
      { meter, dimensionValues: ["xl", "eu"] },
      { meter, dimensionValues: ["s", "eu"] },
      { meter, dimensionValues: ["s", "us"] },
      { meter, dimensionValues: ["m", "ap"] },
    ];
    const effective = [
      price("catalog", {}),
      price("catalog-eu", { region: "eu" }),
      price("catalog-xl", { size: "xl" }),
      price("acme-eu", { region: "eu" }, "cus_acme"),
      price("acme-us-s", { region: "us", size: "s" }, "cus_acme"),
    ];
    const chosen = (customerId: string) => lines.map(({ dimensionValues }) => choosePrices(lines, customerId, effective).get(lineKey("vm", dimensionValues))?.id);
    // size comes before region in the meter's dimensions, so {size: xl} beats {region: eu} for xl/eu.
    assert.deepEqual(chosen("cus_acme"), ["catalog-xl", "acme-eu", "acme-us-s", "catalog"]);
    assert.deepEqual(chosen("cus_other"), ["catalog-xl", "catalog-eu", "catalog", "catalog"]);
    assert.deepEqual(choosePrices(lines, "cus_other", []).size, 0);
  });
});
