import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

describe("GetDailyUsage", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("aggregates each UTC day as its meter does, leaves voided events out, and stays inside the period", async () => {
    const { usage } = tally.clients("connect-json-h1");
    const at = (day: number, hour: number) => timestampFromMs(Date.UTC(2026, 10, day, hour));
    const events: [string, string, string, ReturnType<typeof at>][] = [
      ["d1", "hosting", "1.5", at(2, 1)],
      ["d2", "hosting", "2.25", at(2, 23)],
      ["d3", "hosting", "4", at(3, 0)],
      ["d4", "seats", "3", at(2, 5)],
      ["d5", "seats", "7", at(2, 6)],
      ["d6", "seats", "5", at(2, 7)],
      ["d7", "calls", "9", at(3, 12)],
      ["d8", "calls", "9", at(3, 13)],
      ["d9", "hosting", "100", at(3, 14)],
    ];
    for (const [requestId, meterKey, quantity, eventTime] of events) {
      await usage.recordUsage({ requestId, customerId, meterKey, quantity, eventTime });
    }
    await usage.voidUsage({ requestId: "d9", reason: "meter glitch" });
    await usage.voidUsage({ requestId: "d5", reason: "double count" });

    const response = await usage.getDailyUsage({ customerId: "acme", period: "2026-11" });
    assert.equal(response.customerId, customerId);
    assert.equal(response.period, "2026-11");
    assert.deepEqual(
      response.days.map((day) => [day.date, day.meterKey, day.quantity, Number(day.eventCount)]),
      [
        ["2026-11-02", "hosting", "3.75", 2],
        ["2026-11-02", "seats", "5", 2], // MAX of 3 and 5 once 7 was voided
        ["2026-11-03", "calls", "2", 2], // COUNT
        ["2026-11-03", "hosting", "4", 1],
      ],
    );
    const current = await usage.getDailyUsage({ customerId });
    assert.equal(current.period, "2026-11");
    assert.deepEqual((await usage.getDailyUsage({ customerId, period: "2026-10" })).days, []);
    await assertRefused(usage.getDailyUsage({ customerId, period: "2026-13" }), Code.InvalidArgument, "INVALID_FIELD", ["period"]);
    await assertRefused(usage.getDailyUsage({ customerId: "nobody" }), Code.NotFound, "CUSTOMER_NOT_FOUND");
  });
});
