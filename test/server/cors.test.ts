import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/** A raw HTTP/1.1 request, so the test controls the Origin header exactly. */
function send(url: string, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const outgoing = request(url, { method, headers }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

describe("cross-origin rules", () => {
  let tally: TestTally;
  let billUrl: string;
  before(async () => {
    tally = await startTestTally({ corsOrigins: ["https://billing.example.com"] });
    await tally.clients().customers.createCustomer({ requestId: "c", customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
    billUrl = `${tally.url}/billing.v1.BillingService/GetCurrentBill`;
  });
  after(() => tally.stop());

  const json = { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_KEY}` };
  const body = JSON.stringify({ customerId: "acme" });

  it("lets callers without an Origin and same-origin pages through", async () => {
    assert.equal((await send(billUrl, "POST", json, body)).status, 200);
    const sameOrigin = await send(billUrl, "POST", { ...json, origin: tally.url }, body);
    assert.equal(sameOrigin.status, 200);
    assert.equal(sameOrigin.headers["access-control-allow-origin"], undefined);
  });

  it("answers an allowed origin's preflight and calls with the headers Connect needs", async () => {
    const preflight = await send(billUrl, "OPTIONS", {
      origin: "https://billing.example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version,authorization",
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], "https://billing.example.com");
    assert.match(String(preflight.headers["access-control-allow-headers"]), /Connect-Protocol-Version/i);
    assert.match(String(preflight.headers["access-control-allow-headers"]), /Authorization/i);
    assert.match(String(preflight.headers["access-control-allow-methods"]), /POST/);
    const call = await send(billUrl, "POST", { ...json, origin: "https://billing.example.com" }, body);
    assert.equal(call.status, 200);
    assert.equal(call.headers["access-control-allow-origin"], "https://billing.example.com");
    assert.match(String(call.headers["access-control-expose-headers"]), /Grpc-Status/i);
  });

  it("refuses any other origin at the server, preflight or not", async () => {
    const preflight = await send(billUrl, "OPTIONS", { origin: "https://evil.example", "access-control-request-method": "POST" });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers["access-control-allow-origin"], undefined);
    const write = await send(
      `${tally.url}/billing.v1.UsageService/RecordUsage`,
      "POST",
      { ...json, origin: "https://evil.example" },
      JSON.stringify({ requestId: "x", customerId: "acme", meterKey: "m", quantity: "1" }),
    );
    assert.equal(write.status, 403);
    assert.match(write.body, /not allowed/);
  });
});
