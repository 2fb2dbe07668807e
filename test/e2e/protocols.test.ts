import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { PROTOCOLS } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

// One server, one port: every protocol, encoding and HTTP version a caller may
// use must see the same behaviour.
describe("every protocol on one port", () => {
  let tally: TestTally;
  before(async () => {
    tally = await startTestTally();
  });
  after(() => tally.stop());

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: records, replays, refuses and bills exactly`, async () => {
      const clients = tally.clients(protocol);
      const { customerId } = await createCatalogFixture(clients, `acme-${protocol}`);

      const first = await clients.usage.recordUsage({ requestId: `${protocol}-1`, customerId, meterKey: "hosting", quantity: "58" });
      assert.equal(first.replayed, false);
      assert.equal(first.record?.quantity, "58");
      assert.equal(first.record?.period, "2026-11");

      const retry = await clients.usage.recordUsage({ requestId: `${protocol}-1`, customerId, meterKey: "hosting", quantity: "58.000" });
      assert.equal(retry.replayed, true);
      assert.equal(retry.record?.id, first.record?.id);

      await assertRefused(
        clients.usage.recordUsage({ requestId: `${protocol}-1`, customerId, meterKey: "hosting", quantity: "59" }),
        Code.AlreadyExists,
        "REQUEST_ID_REUSED",
        ["quantity"],
      );
      await assertRefused(
        clients.usage.recordUsage({ requestId: `${protocol}-2`, customerId, meterKey: "hosting", quantity: "-1" }),
        Code.InvalidArgument,
        "INVALID_QUANTITY",
        ["quantity"],
      );
      await assertRefused(
        clients.usage.recordUsage({ requestId: "", customerId, meterKey: "hosting", quantity: "1" }),
        Code.InvalidArgument,
        "INVALID_FIELD",
        ["request_id"],
      );
      await assertRefused(
        clients.usage.recordUsage({ requestId: `${protocol}-3`, customerId: "nobody", meterKey: "hosting", quantity: "1" }),
        Code.NotFound,
        "CUSTOMER_NOT_FOUND",
      );

      const batch = await clients.usage.batchRecordUsage({
        requests: [
          { requestId: `${protocol}-egress`, customerId, meterKey: "egress", quantity: "1500.5" },
          { requestId: `${protocol}-bad`, customerId, meterKey: "egress", quantity: "1.2345" },
        ],
      });
      assert.equal(batch.results[0]?.result.case, "response");
      const itemError = batch.results[1]?.result;
      assert.equal(itemError?.case, "error");
      if (itemError?.case === "error") {
        assert.equal(itemError.value.code, Code.InvalidArgument);
        assert.equal(itemError.value.reason, "INVALID_QUANTITY");
        assert.deepEqual(itemError.value.fieldViolations.map((violation) => violation.field), ["requests[1].quantity"]);
      }

      const { bill } = await clients.billing.getCurrentBill({ customerId: `acme-${protocol}` });
      assert.equal(bill?.status, BillStatus.DRAFT);
      assert.equal(bill?.period, "2026-11");
      assert.deepEqual(
        bill?.lines.map((line) => [line.meterKey, line.quantity, line.amount]),
        [
          ["egress", "1500.5", "116.04"], // 900 × 0.09 + 500.5 × 0.07 = 116.035 → half to even
          ["hosting", "58", "0.72"], // 58 × 0.0125 = 0.725 → half to even
        ],
      );
      assert.deepEqual(
        bill?.lines[0]?.tiers.map((tier) => [tier.upTo, tier.quantity, tier.amount]),
        [
          ["100", "100", "0"],
          ["1000", "900", "81"],
          ["", "500.5", "35.035"],
        ],
      );
      assert.equal(bill?.total, "116.76");
      assert.equal(bill?.currencyCode, "USD");
    });
  }
});
