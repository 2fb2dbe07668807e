import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { RecordUsageRequestSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

const PAGE = "https://billing.example.com";

/** A RecordUsage request in gRPC-Web's framing (flag byte, length, message). */
function framedRecordUsage(requestId: string): Buffer {
  const message = toBinary(RecordUsageRequestSchema, create(RecordUsageRequestSchema, { requestId, customerId: "acme", meterKey: "calls", quantity: "1" }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

// Google's grpc-web npm client, generated in its default text mode, sends
// what these requests send (its stubs need protoc-gen-grpc-web, which is not
// installable here, so the requests are made by hand): base64 of the framed
// message as application/grpc-web-text, x-grpc-web: 1.
describe("gRPC-Web's text mode (application/grpc-web-text)", () => {
  let tally: TestTally;

  before(async () => {
    tally = await startTestTally({ corsOrigins: [PAGE] });
    const { catalog, customers } = tally.clients();
    await catalog.createMeter({ requestId: "m", meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await customers.createCustomer({ requestId: "c", customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
  });
  after(() => tally.stop());

  function post(contentType: string, body: Uint8Array | string) {
    return fetch(`${tally.url}/billing.v1.UsageService/RecordUsage`, {
      method: "POST",
      headers: { "content-type": contentType, accept: contentType, "x-grpc-web": "1", authorization: `Bearer ${TEST_ADMIN_KEY}`, origin: PAGE },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
  }

  it("is refused the way gRPC-Web reports a status (HTTP 200, grpc-status UNIMPLEMENTED), naming the binary mode, and records nothing", async () => {
    for (const contentType of ["application/grpc-web-text", "application/grpc-web-text+proto"]) {
      const response = await post(contentType, framedRecordUsage("text-mode").toString("base64"));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("grpc-status"), "12");
      const message = response.headers.get("grpc-message") ?? "";
      assert.match(message, /application\/grpc-web\+proto/);
      assert.match(message, /mode=grpcweb/);
      assert.equal(await response.text(), "");
      // A page on an allowed origin can read the status and the message.
      const exposed = response.headers.get("access-control-expose-headers") ?? "";
      assert.match(exposed, /grpc-status/i);
      assert.match(exposed, /grpc-message/i);
    }
    assert.deepEqual((await tally.clients().usage.listUsageRecords({ customerId: "acme" })).records, []);
  });

  it("the binary mode the message names records the same call", async () => {
    const response = await post("application/grpc-web+proto", framedRecordUsage("binary-mode"));
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(body[0], 0, "the first frame is the message");
    assert.match(body.subarray(5 + body.readUInt32BE(1)).toString("latin1"), /grpc-status:\s*0/);
    const { records } = await tally.clients().usage.listUsageRecords({ customerId: "acme" });
    assert.deepEqual(records.map((record) => record.requestId), ["binary-mode"]);
  });
});
