import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { Aggregation, PricingModel } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { Protocol } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/**
 * Dimensions, UNIQUE_COUNT and LATEST meters, dimension and customer prices
 * (DESIGN.md, "Meters" and "Prices") through the real server, with amounts
 * computed by hand at and around tier boundaries. Over gRPC and Connect JSON
 * (where the maps travel as JSON objects).
 */

/** The catalog's price of every vm-hours combination: 0.10 each up to 100, then 0.08 each plus 5. */
const CATALOG_TIERS = [
  { upTo: "100", unitAmount: "0.10" },
  { upTo: "", unitAmount: "0.08", flatAmount: "5" },
];
/** region=eu: volume, 0.12 each up to 100, else 0.09 each plus 10. */
const EU_TIERS = [
  { upTo: "100", unitAmount: "0.12" },
  { upTo: "", unitAmount: "0.09", flatAmount: "10" },
];

const NOW = Date.UTC(2026, 10, 15, 12);
const hoursAgo = (hours: number) => timestampFromMs(NOW - hours * 3_600_000);

for (const protocol of ["grpc", "connect-json-h1", "grpc-web-h1"] as const satisfies readonly Protocol[]) {
  describe(`Dimensions and customer prices over ${protocol}`, () => {
    let tally: TestTally;
    before(async () => {
      tally = await startTestTally();
      const { catalog, customers } = tally.clients(protocol);
      await catalog.createMeter({
        requestId: "meter-vm",
        meter: { key: "vm-hours", displayName: "VM hours", unit: "hour", aggregation: Aggregation.SUM, precision: 3, dimensions: ["region", "size"] },
      });
      await catalog.createMeter({
        requestId: "meter-users",
        meter: { key: "active-users", displayName: "Active users", unit: "user", aggregation: Aggregation.UNIQUE_COUNT, wholeUnits: true, uniqueAttribute: "user", dimensions: ["region"] },
      });
      await catalog.createMeter({ requestId: "meter-storage", meter: { key: "storage", displayName: "Storage", unit: "GB", aggregation: Aggregation.LATEST, precision: 3 } });
      const price = (requestId: string, fields: object) => catalog.createPrice({ requestId, price: { meterKey: "vm-hours", currencyCode: "USD", ...fields } });
      await price("vm-catalog", { tiers: CATALOG_TIERS });
      await price("vm-eu", { model: PricingModel.VOLUME, tiers: EU_TIERS, dimensionValues: { region: "eu" } });
      // The most specific: 2.00 per package of 10 hours.
      await price("vm-eu-xl", { model: PricingModel.PACKAGE, packageSize: "10", tiers: [{ unitAmount: "2.00" }], dimensionValues: { region: "eu", size: "xl" } });
      await catalog.createPrice({ requestId: "users-catalog", price: { meterKey: "active-users", currencyCode: "USD", tiers: [{ unitAmount: "1.00" }] } });
      await catalog.createPrice({ requestId: "storage-catalog", price: { meterKey: "storage", currencyCode: "USD", tiers: [{ unitAmount: "0.50" }] } });
      await customers.createCustomer({ requestId: "c-beta", customer: { displayName: "Beta", externalId: "beta", currencyCode: "USD" } });
      await customers.createCustomer({ requestId: "c-acme", customer: { displayName: "Acme", externalId: "acme", currencyCode: "USD" } });
    });
    after(() => tally.stop());

    const line = (bill: { lines: { meterKey: string; dimensions: Record<string, string>; quantity: string; amount: string; priceVersion: number }[] }) =>
      bill.lines.map((one) => [one.meterKey, JSON.stringify(one.dimensions), one.quantity, one.amount, one.priceVersion]);

    it("bills one line per meter and combination, ordered by meter then values, each priced by the most specific price it matches", async () => {
      const { usage, billing } = tally.clients(protocol);
      const record = (requestId: string, region: string, size: string, quantity: string) =>
        usage.recordUsage({ requestId, customerId: "beta", meterKey: "vm-hours", quantity, attributes: { region, size, zone: "z1" } });
      await record("b1", "us", "s", "100"); // catalog, at the boundary: 100 x 0.10 = 10.00
      await record("b2", "us", "m", "100.001"); // catalog, just past: 10 + 0.001 x 0.08 + 5 = 15.00008 -> 15.00
      await record("b3", "eu", "s", "60");
      await record("b4", "eu", "s", "40"); // eu volume at its boundary: 100 x 0.12 = 12.00
      await record("b5", "eu", "m", "100.5"); // eu volume past it: 100.5 x 0.09 + 10 = 19.045 -> 19.04 (half to even)
      await record("b6", "eu", "xl", "20.001"); // eu+xl package: ceil(20.001 / 10) = 3 x 2.00 = 6.00
      const { bill } = await billing.getCurrentBill({ customerId: "beta" });
      assert.deepEqual(line(bill!), [
        ["vm-hours", '{"region":"eu","size":"m"}', "100.5", "19.04", 1],
        ["vm-hours", '{"region":"eu","size":"s"}', "100", "12.00", 1],
        ["vm-hours", '{"region":"eu","size":"xl"}', "20.001", "6.00", 1],
        ["vm-hours", '{"region":"us","size":"m"}', "100.001", "15.00", 1],
        ["vm-hours", '{"region":"us","size":"s"}', "100", "10.00", 1],
      ]);
      assert.equal(bill!.total, "62.04");
      const xl = bill!.lines[2]!;
      assert.deepEqual(xl.tiers.map((tier) => [tier.packages, tier.amount]), [["3", "6"]]);
    });

    it("a customer's price wins over the catalog's with the same dimension_values, and its versions count on their own", async () => {
      const { catalog, usage, billing } = tally.clients(protocol);
      // Named by external_id, stored by Tally id.
      const mine = await catalog.createPrice({
        requestId: "vm-acme",
        price: { meterKey: "vm-hours", currencyCode: "USD", customerId: "acme", tiers: [{ upTo: "50", unitAmount: "0.05" }, { upTo: "", unitAmount: "0.04", flatAmount: "1" }] },
      });
      assert.match(mine.price!.customerId, /^cus_/);
      assert.equal(mine.price!.version, 1);
      const mineEu = await catalog.createPrice({
        requestId: "vm-acme-eu",
        price: { meterKey: "vm-hours", currencyCode: "USD", customerId: mine.price!.customerId, dimensionValues: { region: "eu" }, model: PricingModel.VOLUME, tiers: [{ upTo: "100", unitAmount: "0.11" }, { upTo: "", unitAmount: "0.10" }] },
      });
      assert.equal(mineEu.price!.version, 1);
      const record = (requestId: string, region: string, size: string, quantity: string) =>
        usage.recordUsage({ requestId, customerId: "acme", meterKey: "vm-hours", quantity, attributes: { region, size } });
      await record("a1", "us", "s", "100"); // acme's own: 50 x 0.05 + 50 x 0.04 + 1 = 5.50
      await record("a2", "eu", "s", "100"); // acme's eu (volume): 100 x 0.11 = 11.00
      await record("a3", "eu", "m", "100.5"); // acme's eu past its bound: 100.5 x 0.10 = 10.05
      await record("a4", "eu", "xl", "20"); // the catalog's eu+xl is more specific than acme's eu: 2 packages = 4.00
      const before = await billing.getCurrentBill({ customerId: "acme" });
      assert.deepEqual(line(before.bill!), [
        ["vm-hours", '{"region":"eu","size":"m"}', "100.5", "10.05", 1],
        ["vm-hours", '{"region":"eu","size":"s"}', "100", "11.00", 1],
        ["vm-hours", '{"region":"eu","size":"xl"}', "20", "4.00", 1],
        ["vm-hours", '{"region":"us","size":"s"}', "100", "5.50", 1],
      ]);
      assert.equal(before.bill!.lines[3]!.priceId, mine.price!.id);
      // A second version of acme's own price: version 2 of that series, while the catalog's stays at 1.
      const second = await catalog.createPrice({ requestId: "vm-acme-2", price: { meterKey: "vm-hours", currencyCode: "USD", customerId: "acme", tiers: [{ unitAmount: "0.07" }] } });
      assert.equal(second.price!.version, 2);
      const after = await billing.getCurrentBill({ customerId: "acme" });
      assert.deepEqual(line(after.bill!)[3], ["vm-hours", '{"region":"us","size":"s"}', "100", "7.00", 2]);
      assert.equal(after.bill!.total, "32.05");
      // Another customer still pays the catalog's prices.
      const beta = await billing.getCurrentBill({ customerId: "beta" });
      assert.equal(beta.bill!.total, "62.04");
      const { prices } = await catalog.listPrices({ meterKey: "vm-hours" });
      assert.deepEqual(
        prices.map((price) => [JSON.stringify(price.dimensionValues), price.customerId === "" ? "catalog" : "acme", price.version]),
        [
          ["{}", "catalog", 1],
          ['{"region":"eu"}', "catalog", 1],
          ['{"region":"eu","size":"xl"}', "catalog", 1],
          ["{}", "acme", 1],
          ['{"region":"eu"}', "acme", 1],
          ["{}", "acme", 2],
        ],
      );
    });

    it("counts distinct users per combination and bills the latest gauge, both following voids", async () => {
      const { usage, billing } = tally.clients(protocol);
      const user = (requestId: string, region: string, name: string) =>
        usage.recordUsage({ requestId, customerId: "beta", meterKey: "active-users", quantity: "1", attributes: { region, user: name } });
      await user("u1", "eu", "ann");
      await user("u2", "eu", "bob");
      await user("u3", "us", "ann");
      await user("u4", "eu", "ann");
      const gauge = (requestId: string, quantity: string, hours: number) =>
        usage.recordUsage({ requestId, customerId: "beta", meterKey: "storage", quantity, eventTime: hoursAgo(hours) });
      await gauge("g1", "5", 3);
      await gauge("g2", "9", 1);
      await gauge("g3", "7", 2); // late, but not the latest
      const lines = async () => line((await billing.getCurrentBill({ customerId: "beta" })).bill!).filter(([meterKey]) => meterKey !== "vm-hours");
      assert.deepEqual(await lines(), [
        ["active-users", '{"region":"eu"}', "2", "2.00", 1],
        ["active-users", '{"region":"us"}', "1", "1.00", 1],
        ["storage", "{}", "9", "4.50", 1],
      ]);
      await usage.voidUsage({ requestId: "u1", reason: "test" }); // ann still has u4 in eu
      await usage.voidUsage({ requestId: "u3", reason: "test" }); // ann's only us event
      await usage.voidUsage({ requestId: "g2", reason: "test" }); // the latest: hands back to g3 (2 hours ago)
      assert.deepEqual(await lines(), [
        ["active-users", '{"region":"eu"}', "2", "2.00", 1],
        ["storage", "{}", "7", "3.50", 1],
      ]);
    });

    it("filters usage records and daily usage by attributes", async () => {
      const { usage } = tally.clients(protocol);
      const { records } = await usage.listUsageRecords({ customerId: "beta", meterKey: "vm-hours", attributes: { region: "eu", size: "s" } });
      assert.deepEqual(records.map((record) => record.requestId), ["b4", "b3"]);
      const none = await usage.listUsageRecords({ customerId: "beta", attributes: { region: "mars" } });
      assert.deepEqual(none.records, []);
      const daily = await usage.getDailyUsage({ customerId: "beta", period: "2026-11", attributes: { region: "us" } });
      assert.deepEqual(daily.days.map((day) => [day.meterKey, day.quantity]), [["vm-hours", "200.001"]]);
    });

    it("refuses an event without its meter's dimension or unique attribute, recording nothing, its request_id still free", async () => {
      const { usage } = tally.clients(protocol);
      await assertRefused(
        usage.recordUsage({ requestId: "missing", customerId: "beta", meterKey: "vm-hours", quantity: "1", attributes: { region: "eu" } }),
        Code.InvalidArgument,
        "DIMENSION_REQUIRED",
        ["attributes"],
      );
      await assertRefused(
        usage.recordUsage({ requestId: "missing-user", customerId: "beta", meterKey: "active-users", quantity: "1", attributes: { region: "eu" } }),
        Code.InvalidArgument,
        "DIMENSION_REQUIRED",
        ["attributes"],
      );
      const batch = await usage.batchRecordUsage({
        requests: [{ requestId: "missing", customerId: "beta", meterKey: "vm-hours", quantity: "1", attributes: { size: "s" } }],
        atomic: true,
      }).catch((error: unknown) => error);
      assert.ok(batch instanceof Error);
      await assertRefused(Promise.reject(batch), Code.InvalidArgument, "DIMENSION_REQUIRED", ["requests[0].attributes"]);
      const fixed = await usage.recordUsage({ requestId: "missing", customerId: "beta", meterKey: "vm-hours", quantity: "1", attributes: { region: "ap", size: "s" } });
      assert.equal(fixed.replayed, false);
    });

    it("refuses meters and prices whose dimensions or unique attribute break the rules, naming the field", async () => {
      const { catalog } = tally.clients(protocol);
      const meter = (requestId: string, fields: object) =>
        catalog.createMeter({ requestId, meter: { key: requestId, displayName: "x", unit: "u", aggregation: Aggregation.SUM, ...fields } });
      await assertRefused(meter("bad-a", { aggregation: Aggregation.UNIQUE_COUNT }), Code.InvalidArgument, "INVALID_FIELD", ["meter.unique_attribute"]);
      await assertRefused(meter("bad-b", { uniqueAttribute: "user" }), Code.InvalidArgument, "INVALID_FIELD", ["meter.unique_attribute"]);
      await assertRefused(meter("bad-c", { dimensions: ["a", "b", "c", "d", "e"] }), Code.InvalidArgument, "INVALID_FIELD", ["meter.dimensions"]);
      await assertRefused(meter("bad-d", { dimensions: ["region", "region"] }), Code.InvalidArgument, "INVALID_FIELD", ["meter.dimensions"]);
      await assertRefused(meter("bad-e", { dimensions: ["1st"] }), Code.InvalidArgument, "INVALID_FIELD", ["meter.dimensions[0]"]);
      const price = (requestId: string, fields: object) => catalog.createPrice({ requestId, price: { meterKey: "vm-hours", currencyCode: "USD", tiers: [{ unitAmount: "1" }], ...fields } });
      await assertRefused(price("bad-p1", { dimensionValues: { zone: "z1" } }), Code.InvalidArgument, "INVALID_FIELD", ["price.dimension_values"]);
      await assertRefused(price("bad-p2", { customerId: "nobody" }), Code.NotFound, "CUSTOMER_NOT_FOUND", ["price.customer_id"]);
      // A customer is billed in its own currency only, so its own price in another would never apply.
      await assertRefused(price("bad-p3", { customerId: "acme", currencyCode: "EUR" }), Code.InvalidArgument, "INVALID_FIELD", ["price.currency_code"]);
      // A changed retry names the fields that differ.
      await assertRefused(price("vm-eu", { model: PricingModel.VOLUME, tiers: EU_TIERS, dimensionValues: { region: "us" } }), Code.AlreadyExists, "REQUEST_ID_REUSED", [
        "price.dimension_values",
      ]);
      await assertRefused(meter("meter-vm", { key: "vm-hours", displayName: "VM hours", unit: "hour", precision: 3, dimensions: ["size", "region"] }), Code.AlreadyExists, "REQUEST_ID_REUSED", [
        "meter.dimensions",
      ]);
    });
  });
}

describe("--max-dimension-combinations", () => {
  let tally: TestTally;
  before(async () => {
    tally = await startTestTally({ maxDimensionCombinations: 2 });
  });
  after(() => tally.stop());

  it("refuses an event opening one combination more than allowed, RESOURCE_EXHAUSTED and recording nothing; voids free a combination", async () => {
    const { catalog, customers, usage, billing } = tally.clients("grpc");
    await catalog.createMeter({ requestId: "m", meter: { key: "vm", displayName: "VM", unit: "h", aggregation: Aggregation.SUM, precision: 3, dimensions: ["region"] } });
    await customers.createCustomer({ requestId: "c", customer: { displayName: "C", externalId: "c", currencyCode: "USD" } });
    const record = (requestId: string, region: string) => usage.recordUsage({ requestId, customerId: "c", meterKey: "vm", quantity: "1", attributes: { region } });
    await record("eu-1", "eu");
    await record("us-1", "us");
    await record("eu-2", "eu");
    await assertRefused(record("ap-1", "ap"), Code.ResourceExhausted, "DIMENSION_COMBINATIONS_EXCEEDED", ["attributes"]);
    const batch = await usage.batchRecordUsage({ requests: [{ requestId: "ap-2", customerId: "c", meterKey: "vm", quantity: "1", attributes: { region: "ap" } }] });
    assert.equal(batch.results[0]?.result.case, "error");
    await usage.voidUsage({ requestId: "us-1", reason: "wrong region" });
    await record("ap-1", "ap");
    const { bill } = await billing.getCurrentBill({ customerId: "c" });
    assert.deepEqual(bill!.lines.map((line) => [line.dimensions.region, line.quantity]), [["ap", "1"], ["eu", "2"]]);
  });
});
