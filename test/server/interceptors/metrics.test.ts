import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { createCatalogFixture } from "../../support/catalog-fixture.js";
import type { TallyClients } from "../../support/clients.js";
import { assertRefused } from "../../support/errors.js";
import { startTestTally, type TestTally } from "../../support/test-tally.js";

/** The value of one sample line of the exposition, e.g. `tally_usage_events_total{outcome="recorded",reason=""}`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  let tally: TestTally;
  let clients: TallyClients;
  before(async () => {
    tally = await startTestTally();
    clients = tally.clients("grpc");
    await createCatalogFixture(clients);
  });
  after(() => tally.stop());

  it("reports calls by method, protocol and code, events by outcome and reason, group commits and the database size, without a key", async () => {
    const event = { customerId: "acme", meterKey: "hosting", quantity: "1" };
    await clients.usage.recordUsage({ ...event, requestId: "m1" });
    await clients.usage.recordUsage({ ...event, requestId: "m1" }); // replayed
    await assertRefused(clients.usage.recordUsage({ ...event, requestId: "m2", meterKey: "nope" }), Code.NotFound, "METER_NOT_FOUND");
    await clients.usage.batchRecordUsage({ requests: [{ ...event, requestId: "m3" }, { ...event, requestId: "m4", quantity: "-1" }] });
    await assertRefused(tally.clients("connect-json-h1", "").billing.getCurrentBill({ customerId: "acme" }), Code.Unauthenticated, "API_KEY_MISSING");

    const response = await fetch(`${tally.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await response.text();

    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.UsageService/RecordUsage",protocol="grpc",code="OK"}'), 2);
    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.UsageService/RecordUsage",protocol="grpc",code="NotFound"}'), 1);
    assert.equal(sample(text, 'tally_rpc_calls_total{method="billing.v1.BillingService/GetCurrentBill",protocol="connect",code="Unauthenticated"}'), 1);
    assert.equal(sample(text, 'tally_rpc_duration_seconds_count{method="billing.v1.UsageService/RecordUsage",protocol="grpc"}'), 3);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="recorded",reason=""}'), 2);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="replayed",reason=""}'), 1);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="refused",reason="METER_NOT_FOUND"}'), 1);
    assert.equal(sample(text, 'tally_usage_events_total{outcome="refused",reason="INVALID_QUANTITY"}'), 1);
    // The fixture's 9 creates and the 2 recorded events were committed in groups.
    assert.ok(sample(text, "tally_group_commit_writes_sum") >= 11);
    assert.ok(sample(text, "tally_group_commit_seconds_count") >= 1);
    assert.ok(sample(text, "tally_database_bytes") > 0);
    assert.ok(sample(text, "tally_process_resident_memory_bytes") > 0);
  });
});
