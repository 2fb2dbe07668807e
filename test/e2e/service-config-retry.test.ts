import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { createGrpcJsStubs, GrpcStatus, grpcJsFailure, unary } from "../support/grpc-js-stubs.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/** The gRPC service config stub users in every language are given (README, "Calling Tally from your language"). */
const SERVICE_CONFIG = readFileSync("clients/service-config.json", "utf8");

// gRPC's own retry policy (gRFC A6), as clients/service-config.json sets it,
// in a stub client that is not ours (grpc-js with proto-loader): a retry
// resends the same message, so the same request_id, and cannot double-charge.
// A TCP proxy lets the first attempt reach the server and cuts the connection
// before the answer comes back.
describe("the shipped service config's retry policy with grpc-js stubs", () => {
  let tally: TestTally;

  before(async () => {
    tally = await startTestTally();
    const { catalog, customers } = tally.clients();
    await catalog.createMeter({ requestId: "meter", meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await catalog.createPrice({ requestId: "price", price: { meterKey: "calls", currencyCode: "USD", tiers: [{ unitAmount: "0.01" }] } });
    for (const name of ["with-config", "without-config"]) {
      await customers.createCustomer({ requestId: name, customer: { externalId: name, displayName: name, currencyCode: "USD" } });
    }
  });
  after(async () => {
    await tally.stop();
  });

  // Each test has its own proxy and its channel its own connections (grpc-js
  // otherwise shares them between channels): no other connection's bytes can
  // take the cut.
  const OWN_CONNECTIONS = { "grpc.use_local_subchannel_pool": 1 };

  async function recordsOf(customerId: string) {
    return (await tally.clients().usage.listUsageRecords({ customerId })).records;
  }

  it("retries a call whose connection was cut after the server recorded it: the retry is replayed, the event recorded once", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: tally.port });
    const stubs = createGrpcJsStubs(`127.0.0.1:${proxy.port}`, TEST_ADMIN_KEY, { ...OWN_CONNECTIONS, "grpc.service_config": SERVICE_CONFIG });
    try {
      const cutsBefore = proxy.cuts();
      proxy.cutResponses(1, { afterServerSpeaks: true });
      const response = await unary<{ record: { request_id: string; quantity: string }; replayed: boolean }>(stubs.usage, "RecordUsage", {
        request_id: "service-config-1",
        customer_id: "with-config",
        meter_key: "calls",
        quantity: "5",
      });
      assert.equal(proxy.cuts(), cutsBefore + 1, "the first attempt's connection was not cut");
      assert.equal(response.replayed, true, "the first attempt was recorded; the policy's retry must replay it");
      assert.equal(response.record.request_id, "service-config-1");
      const records = await recordsOf("with-config");
      assert.deepEqual(records.map((record) => [record.requestId, record.quantity]), [["service-config-1", "5"]]);
      const { bill } = await tally.clients().billing.getCurrentBill({ customerId: "with-config" });
      assert.equal(bill?.lines[0]?.quantity, "5");
    } finally {
      stubs.close();
      await proxy.close();
    }
  });

  it("without the service config the same cut fails the call (UNAVAILABLE), though the server recorded it: the retry above is the policy's", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: tally.port });
    const stubs = createGrpcJsStubs(`127.0.0.1:${proxy.port}`, TEST_ADMIN_KEY, OWN_CONNECTIONS);
    try {
      const cutsBefore = proxy.cuts();
      proxy.cutResponses(1, { afterServerSpeaks: true });
      const failure = await grpcJsFailure(
        unary(stubs.usage, "RecordUsage", { request_id: "no-config-1", customer_id: "without-config", meter_key: "calls", quantity: "5" }),
      );
      assert.equal(proxy.cuts(), cutsBefore + 1);
      assert.equal(failure.code, GrpcStatus.UNAVAILABLE);
      assert.deepEqual((await recordsOf("without-config")).map((record) => record.requestId), ["no-config-1"]);
    } finally {
      stubs.close();
      await proxy.close();
    }
  });

  it("is valid JSON naming every billing.v1 service and retrying only codes that mean the call may be sent again", () => {
    const config = JSON.parse(SERVICE_CONFIG) as {
      methodConfig: { name: { service: string }[]; retryPolicy: { retryableStatusCodes: string[] } }[];
    };
    const [methods] = config.methodConfig;
    assert.deepEqual(methods?.name.map((name) => name.service).sort(), [
      "billing.v1.AccessService",
      "billing.v1.BillingService",
      "billing.v1.CatalogService",
      "billing.v1.CustomerService",
      "billing.v1.UsageService",
    ]);
    assert.deepEqual(methods?.retryPolicy.retryableStatusCodes.sort(), ["ABORTED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"]);
  });
});
