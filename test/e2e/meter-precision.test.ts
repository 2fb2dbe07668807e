import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { DEFAULT_SCOPE } from "../../src/domain/store.js";
import { assertRefused } from "../support/errors.js";
import { PROTOCOLS } from "../support/clients.js";
import { scratchDirectory } from "../support/tally-process.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

// DESIGN.md "Meters": precision 0 or unset means up to 9 digits after the
// point; whole_units is the one way to ask for integers; meters stored with
// precision 0 before whole_units existed are whole-units meters.
describe("meter precision and whole units", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally();
    const { customer } = await tally.clients().customers.createCustomer({ requestId: "c", customer: { displayName: "Precise", currencyCode: "USD" } });
    customerId = customer!.id;
  });
  after(() => tally.stop());

  const meter = (key: string, fields: { precision?: number; wholeUnits?: boolean }) => ({
    requestId: `meter-${key}`,
    meter: { key, displayName: key, unit: "unit", aggregation: Aggregation.SUM, ...fields },
  });

  it('a meter without precision accepts "1.5", and up to 9 digits after the point', async () => {
    const { catalog, usage } = tally.clients();
    const { meter: created } = await catalog.createMeter(meter("unset", {}));
    assert.deepEqual([created!.precision, created!.wholeUnits], [9, false], "a stored meter reports the digits it allows");
    for (const protocol of PROTOCOLS) {
      const { record } = await tally.clients(protocol).usage.recordUsage({ requestId: `unset-${protocol}`, customerId, meterKey: "unset", quantity: "1.5" });
      assert.equal(record!.quantity, "1.5", protocol);
    }
    await usage.recordUsage({ requestId: "unset-9", customerId, meterKey: "unset", quantity: "0.123456789" });
    await assertRefused(usage.recordUsage({ requestId: "unset-10", customerId, meterKey: "unset", quantity: "0.1234567891" }), Code.InvalidArgument, "INVALID_QUANTITY", ["quantity"]);
    // precision 0 sent explicitly is the same as unset (proto3 cannot tell them apart): a retry replays.
    const replayed = await catalog.createMeter({ ...meter("unset", { precision: 0 }) });
    assert.equal(replayed.replayed, true);
    assert.equal((await catalog.getMeter({ key: "unset" })).meter!.precision, 9);
  });

  it('whole_units refuses "1.5" and accepts "2"', async () => {
    const { catalog, usage } = tally.clients();
    const { meter: created } = await catalog.createMeter(meter("whole", { wholeUnits: true }));
    assert.deepEqual([created!.precision, created!.wholeUnits], [0, true]);
    const refused = await assertRefused(
      usage.recordUsage({ requestId: "whole-1.5", customerId, meterKey: "whole", quantity: "1.5" }),
      Code.InvalidArgument,
      "INVALID_QUANTITY",
      ["quantity"],
    );
    assert.match(refused.message, /allows 0/);
    const { record } = await usage.recordUsage({ requestId: "whole-2", customerId, meterKey: "whole", quantity: "2" });
    assert.equal(record!.quantity, "2");
    const listed = (await catalog.listMeters({})).meters.find((candidate) => candidate.key === "whole");
    assert.deepEqual([listed?.precision, listed?.wholeUnits], [0, true]);
  });

  it("precision 1 to 9 works as before", async () => {
    const { catalog, usage } = tally.clients();
    const { meter: created } = await catalog.createMeter(meter("two", { precision: 2 }));
    assert.deepEqual([created!.precision, created!.wholeUnits], [2, false]);
    await usage.recordUsage({ requestId: "two-ok", customerId, meterKey: "two", quantity: "1.25" });
    await assertRefused(usage.recordUsage({ requestId: "two-3", customerId, meterKey: "two", quantity: "1.255" }), Code.InvalidArgument, "INVALID_QUANTITY", ["quantity"]);
  });

  it("whole_units with a precision above 0 is refused, naming meter.precision, and creates nothing", async () => {
    const { catalog } = tally.clients();
    const refused = await assertRefused(catalog.createMeter(meter("both", { precision: 3, wholeUnits: true })), Code.InvalidArgument, "INVALID_FIELD", ["meter.precision"]);
    assert.match(refused.message, /whole_units/);
    await assertRefused(catalog.getMeter({ key: "both" }), Code.NotFound, "METER_NOT_FOUND");
    // The request id stays free: the same id with a valid meter creates it.
    const { replayed } = await catalog.createMeter(meter("both", { wholeUnits: true }));
    assert.equal(replayed, false);
  });

  it("a meter stored with precision 0 before whole_units existed reads as whole units and refuses \"1.5\"", async () => {
    const scratch = scratchDirectory("tally-old-meter-");
    const db = `${scratch.path}/tally.db`;
    const first = await startTestTally({ db });
    await first.stop();
    // The row an earlier server wrote for CreateMeter{precision: 0}.
    const sqlite = new Database(db);
    sqlite
      .prepare(`INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id) VALUES (?, 'old-calls', 'Old calls', 'call', 'count', 0, 1, 'old')`)
      .run(DEFAULT_SCOPE);
    sqlite.close();
    const upgraded = await startTestTally({ db });
    try {
      const { catalog, customers, usage } = upgraded.clients();
      const { meter: old } = await catalog.getMeter({ key: "old-calls" });
      assert.deepEqual([old!.precision, old!.wholeUnits], [0, true]);
      const { customer } = await customers.createCustomer({ requestId: "c", customer: { displayName: "Old", currencyCode: "USD" } });
      await assertRefused(usage.recordUsage({ requestId: "old-1.5", customerId: customer!.id, meterKey: "old-calls", quantity: "1.5" }), Code.InvalidArgument, "INVALID_QUANTITY");
      await usage.recordUsage({ requestId: "old-1", customerId: customer!.id, meterKey: "old-calls", quantity: "1" });
    } finally {
      await upgraded.stop();
      scratch.cleanup();
    }
  });
});
