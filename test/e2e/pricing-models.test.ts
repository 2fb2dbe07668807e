import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { Aggregation, PricingModel } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { Decimal } from "../../src/domain/decimal.js";
import type { Protocol } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/**
 * The pricing models of DESIGN.md ("Prices") through the real server: each
 * model's bill lines at and around its tier boundaries, hand-computed, and the
 * refusals of terms that do not price every quantity one way. Over gRPC, gRPC-Web and
 * Connect JSON (where the model travels as its enum name).
 */

/** 0.10 each up to 100; 0.08 each plus 20 up to 1000; 0.05 each plus 50 beyond. */
const VOLUME_TIERS = [
  { upTo: "100", unitAmount: "0.10" },
  { upTo: "1000", unitAmount: "0.08", flatAmount: "20" },
  { upTo: "", unitAmount: "0.05", flatAmount: "50" },
];
/** 10 for using any, then free up to 100; 5 more past 100, then 0.09 each up to 1000; 0.07 each beyond. */
const GRADUATED_TIERS = [
  { upTo: "100", unitAmount: "0", flatAmount: "10" },
  { upTo: "1000", unitAmount: "0.09", flatAmount: "5" },
  { upTo: "", unitAmount: "0.07" },
];

/** [quantity of each meter, then the line amounts: volume, package (2.50 per 1000), graduated]. */
const CASES: [string, string, string, string][] = [
  ["0", "0.00", "0.00", "0.00"],
  ["0.001", "0.00", "2.50", "10.00"], // 0.0001; 1 package; 10 flat
  ["100", "10.00", "2.50", "10.00"],
  ["100.001", "28.00", "2.50", "15.00"], // 100.001 × 0.08 + 20 = 28.00008; 10 + 0.00009 + 5 = 15.00009
  ["1000", "100.00", "2.50", "96.00"], // 1000 × 0.08 + 20; 10 + 81 + 5
  ["1000.001", "100.00", "5.00", "96.00"], // 1000.001 × 0.05 + 50 = 100.00005; 2 packages; 96.00007
  // Half to even, once per line: 2462.5 × 0.05 + 50 = 173.125 → 173.12; 3 packages; 10 + 81 + 5 + 102.375 = 198.375 → 198.38
  ["2462.5", "173.12", "7.50", "198.38"],
];

for (const protocol of ["grpc", "grpc-web-h1", "connect-json-h1"] as const satisfies readonly Protocol[]) {
  describe(`Pricing models over ${protocol}`, () => {
    let tally: TestTally;
    before(async () => {
      tally = await startTestTally();
      const { catalog } = tally.clients(protocol);
      for (const key of ["seats", "messages", "builds"]) {
        await catalog.createMeter({ requestId: `meter-${key}`, meter: { key, displayName: key, unit: "unit", aggregation: Aggregation.SUM, precision: 3 } });
      }
    });
    after(() => tally.stop());

    it("creates and lists a price of each model with its flat amounts and package size", async () => {
      const { catalog } = tally.clients(protocol);
      const volume = await catalog.createPrice({
        requestId: "price-seats",
        price: { meterKey: "seats", currencyCode: "USD", model: PricingModel.VOLUME, tiers: VOLUME_TIERS },
      });
      assert.equal(volume.price?.model, PricingModel.VOLUME);
      assert.deepEqual(volume.price?.tiers.map((tier) => [tier.upTo, tier.unitAmount, tier.flatAmount]), [
        ["100", "0.1", ""],
        ["1000", "0.08", "20"],
        ["", "0.05", "50"],
      ]);
      const pack = await catalog.createPrice({
        requestId: "price-messages",
        price: { meterKey: "messages", currencyCode: "USD", model: PricingModel.PACKAGE, packageSize: "1000", tiers: [{ unitAmount: "2.50" }] },
      });
      assert.equal(pack.price?.model, PricingModel.PACKAGE);
      assert.equal(pack.price?.packageSize, "1000");
      // Unset is graduated, and says so.
      const graduated = await catalog.createPrice({ requestId: "price-builds", price: { meterKey: "builds", currencyCode: "USD", tiers: GRADUATED_TIERS } });
      assert.equal(graduated.price?.model, PricingModel.GRADUATED);
      assert.equal(graduated.price?.packageSize, "");
      const replay = await catalog.createPrice({
        requestId: "price-messages",
        price: { meterKey: "messages", currencyCode: "USD", model: PricingModel.PACKAGE, packageSize: "1000.0", tiers: [{ unitAmount: "2.5" }] },
      });
      assert.equal(replay.replayed, true);
      const { prices } = await catalog.listPrices({});
      assert.deepEqual(prices.map((price) => [price.meterKey, price.model, price.packageSize]), [
        ["seats", PricingModel.VOLUME, ""],
        ["messages", PricingModel.PACKAGE, "1000"],
        ["builds", PricingModel.GRADUATED, ""],
      ]);
    });

    it("bills each model's hand-computed amount at and around its tier boundaries, rounding each line once", async () => {
      const { customers, usage, billing } = tally.clients(protocol);
      for (const [index, [quantity, volume, pack, graduated]] of CASES.entries()) {
        const { customer } = await customers.createCustomer({ requestId: `customer-${index}`, customer: { displayName: `Case ${index}`, currencyCode: "USD" } });
        const customerId = customer!.id;
        for (const meterKey of ["seats", "messages", "builds"]) {
          await usage.recordUsage({ requestId: `usage-${index}-${meterKey}`, customerId, meterKey, quantity });
        }
        const { bill } = await billing.getCurrentBill({ customerId });
        const amounts = Object.fromEntries(bill!.lines.map((line) => [line.meterKey, line.amount]));
        assert.deepEqual(amounts, { builds: graduated, messages: pack, seats: volume }, `quantity ${quantity}`);
        const total = [volume, pack, graduated].reduce((sum, amount) => sum.add(Decimal.parse(amount)!), Decimal.ZERO);
        assert.equal(bill!.total, total.toFixed(2), `total at ${quantity}`);
      }
    });

    it("shows how each model priced the line, tier by tier", async () => {
      const { customers, usage, billing } = tally.clients(protocol);
      const { customer } = await customers.createCustomer({ requestId: "customer-breakdown", customer: { displayName: "Breakdown", currencyCode: "USD" } });
      for (const meterKey of ["seats", "messages", "builds"]) {
        await usage.recordUsage({ requestId: `breakdown-${meterKey}`, customerId: customer!.id, meterKey, quantity: "100.001" });
      }
      const { bill } = await billing.getCurrentBill({ customerId: customer!.id });
      const tiers = (meterKey: string) =>
        bill!.lines.find((line) => line.meterKey === meterKey)!.tiers.map((tier) => [tier.upTo, tier.quantity, tier.unitAmount, tier.flatAmount, tier.packages, tier.amount]);
      assert.deepEqual(tiers("seats"), [
        ["100", "0", "0.1", "", "", "0"],
        ["1000", "100.001", "0.08", "20", "", "28.00008"],
        ["", "0", "0.05", "", "", "0"],
      ]);
      assert.deepEqual(tiers("messages"), [["", "100.001", "2.5", "", "1", "2.5"]]);
      assert.deepEqual(tiers("builds"), [
        ["100", "100", "0", "10", "", "10"],
        ["1000", "0.001", "0.09", "5", "", "5.00009"],
        ["", "0", "0.07", "", "", "0"],
      ]);
    });

    it("refuses terms that do not price every quantity one way, naming the field, and creates nothing", async () => {
      const { catalog } = tally.clients(protocol);
      const create = (requestId: string, price: object) => catalog.createPrice({ requestId, price: { meterKey: "seats", currencyCode: "USD", ...price } });
      const one = [{ unitAmount: "1" }];
      await assertRefused(create("bad-1", { model: PricingModel.PACKAGE, tiers: one }), Code.InvalidArgument, "INVALID_FIELD", ["price.package_size"]);
      await assertRefused(create("bad-2", { model: PricingModel.PACKAGE, packageSize: "0", tiers: one }), Code.InvalidArgument, "INVALID_FIELD", ["price.package_size"]);
      await assertRefused(create("bad-3", { model: PricingModel.PACKAGE, packageSize: "10", tiers: VOLUME_TIERS }), Code.InvalidArgument, "INVALID_FIELD", ["price.tiers"]);
      await assertRefused(
        create("bad-4", { model: PricingModel.PACKAGE, packageSize: "10", tiers: [{ unitAmount: "1", flatAmount: "2" }] }),
        Code.InvalidArgument,
        "INVALID_FIELD",
        ["price.tiers[0].flat_amount"],
      );
      await assertRefused(create("bad-5", { packageSize: "10", tiers: one }), Code.InvalidArgument, "INVALID_FIELD", ["price.package_size"]);
      await assertRefused(create("bad-6", { model: 7, tiers: one }), Code.InvalidArgument, "INVALID_FIELD", ["price.model"]);
      await assertRefused(
        create("bad-7", { model: PricingModel.VOLUME, tiers: [{ upTo: "10", unitAmount: "1" }, { unitAmount: "1", flatAmount: "1e3" }] }),
        Code.InvalidArgument,
        "INVALID_DECIMAL",
        ["price.tiers[1].flat_amount"],
      );
      await assertRefused(
        create("bad-8", { model: PricingModel.PACKAGE, packageSize: `1.${"0".repeat(12)}1`, tiers: one }),
        Code.InvalidArgument,
        "INVALID_DECIMAL",
        ["price.package_size"],
      );
      await assertRefused(
        create("bad-9", { model: PricingModel.VOLUME, tiers: [{ upTo: "10", unitAmount: "1", flatAmount: "-1" }, { unitAmount: "1" }] }),
        Code.InvalidArgument,
        "INVALID_DECIMAL",
        ["price.tiers[0].flat_amount"],
      );
      await assertRefused(
        create("price-seats", { model: PricingModel.GRADUATED, tiers: VOLUME_TIERS }),
        Code.AlreadyExists,
        "REQUEST_ID_REUSED",
        ["price.model"],
      );
      const { prices } = await catalog.listPrices({ meterKey: "seats" });
      assert.equal(prices.length, 1);
    });
  });
}
