import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { UsageRecordView } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

describe("record views of batch answers", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("BASIC acknowledges with id, request_id and period only; unset and FULL echo whole records", async () => {
    const { usage } = tally.clients();
    const event = (requestId: string) => ({ requestId, customerId, meterKey: "hosting", quantity: "2.5", attributes: { zone: "a" } });
    const basic = await usage.batchRecordUsage({ requests: [event("view-1")], view: UsageRecordView.BASIC });
    const basicRecord = basic.results[0]?.result.case === "response" ? basic.results[0].result.value.record : undefined;
    assert.deepEqual([basicRecord?.requestId, basicRecord?.period, basicRecord?.quantity, basicRecord?.meterKey], ["view-1", "2026-11", "", ""]);
    assert.match(basicRecord?.id ?? "", /^rec_/);

    for (const view of [UsageRecordView.UNSPECIFIED, UsageRecordView.FULL]) {
      const full = await usage.batchRecordUsage({ requests: [event("view-1")], view });
      const result = full.results[0]?.result;
      assert.equal(result?.case, "response");
      if (result?.case === "response") {
        assert.equal(result.value.replayed, true);
        assert.equal(result.value.record?.id, basicRecord?.id);
        assert.deepEqual([result.value.record?.quantity, result.value.record?.meterKey, result.value.record?.attributes], ["2.5", "hosting", { zone: "a" }]);
      }
    }
  });
});
