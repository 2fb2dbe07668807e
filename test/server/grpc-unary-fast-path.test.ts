import assert from "node:assert/strict";
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { GetCustomerRequestSchema, GetCustomerResponseSchema } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

/** One raw HTTP/2 gRPC exchange: response headers, body and trailers as sent. */
function exchange(session: ClientHttp2Session, path: string, body: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ headers: IncomingHttpHeaders; body: Buffer; trailers: IncomingHttpHeaders }>((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${TEST_ADMIN_KEY}`, ...headers });
    const chunks: Buffer[] = [];
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    stream.on("response", (received) => (responseHeaders = received));
    stream.on("trailers", (received) => (trailers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve({ headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    stream.on("error", reject);
    stream.end(body);
  });
}

function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** grpc-status and friends, whether sent as trailers or in a trailers-only response. */
function status(response: { headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }) {
  const source = response.trailers["grpc-status"] !== undefined ? response.trailers : response.headers;
  return { code: source["grpc-status"], message: source["grpc-message"], details: source["grpc-status-details-bin"] };
}

// The unary gRPC fast path must answer exactly as connect-node would: the same
// codes, messages and error details, with compressed calls left to connect.
describe("the gRPC unary fast path", () => {
  const slow: Interceptor = (next) => async (request) => {
    if (request.header.get("x-test-delay") !== null) await new Promise((resolve) => setTimeout(resolve, Number(request.header.get("x-test-delay"))));
    return next(request);
  };
  // Echoes x-test-echo into a response header and trailer, and lists the request's header names.
  const metadata: Interceptor = (next) => async (request) => {
    const echo = request.header.get("x-test-echo");
    if (echo === null) return next(request);
    const response = await next(request);
    response.header.set("x-test-echo", echo);
    response.header.set("x-test-names", [...request.header.keys()].join(","));
    response.trailer.set("x-test-echo-trailer", echo);
    return response;
  };
  // Waits for the call's signal when asked to, and keeps why it aborted.
  const abortReasons: unknown[] = [];
  const awaitAbort: Interceptor = (next) => async (request) => {
    if (request.header.get("x-test-await-abort") === null) return next(request);
    await new Promise<void>((resolve) => request.signal.addEventListener("abort", () => resolve(), { once: true }));
    abortReasons.push(request.signal.reason);
    return next(request);
  };
  let tally: TestTally;
  let session: ClientHttp2Session;
  const path = "/billing.v1.CustomerService/GetCustomer";
  const known = toBinary(GetCustomerRequestSchema, create(GetCustomerRequestSchema, { id: "acme" }));
  const unknown = toBinary(GetCustomerRequestSchema, create(GetCustomerRequestSchema, { id: "nobody" }));

  before(async () => {
    tally = await startTestTally({ maxMessageBytes: 1024 }, undefined, [slow, metadata, awaitAbort]);
    await tally.clients().customers.createCustomer({ requestId: "c", customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
    session = connect(tally.url);
  });
  after(async () => {
    session.close();
    await tally.stop();
  });

  it("answers a plain unary call with the message and an OK trailer", async () => {
    const response = await exchange(session, path, frame(known));
    assert.equal(response.headers[":status"], 200);
    assert.equal(response.headers["content-type"], "application/grpc+proto");
    assert.equal(response.trailers["grpc-status"], "0");
    const answer = fromBinary(GetCustomerResponseSchema, response.body.subarray(5));
    assert.equal(answer.customer?.externalId, "acme");
  });

  it("refuses exactly as connect-node does (compressed calls still go through connect)", async () => {
    const fast = status(await exchange(session, path, frame(unknown)));
    const viaConnect = status(await exchange(session, path, frame(gzipSync(unknown), true), { "grpc-encoding": "gzip" }));
    assert.equal(fast.code, "5");
    assert.deepEqual(fast, viaConnect);
    assert.ok(typeof fast.details === "string" && fast.details.length > 0);
  });

  it("refuses broken envelopes and undecodable messages, and keeps serving", async () => {
    const truncated = frame(known).subarray(0, 7);
    assert.equal(status(await exchange(session, path, truncated)).code, "3");
    assert.equal(status(await exchange(session, path, Buffer.alloc(0))).code, "12");
    // An undecodable message is INTERNAL, as gRPC's status table prescribes and
    // as connect-node answers the same bytes when they arrive compressed.
    const undecodable = Buffer.from([0x0a, 0xff, 0xff]);
    assert.equal(status(await exchange(session, path, frame(undecodable))).code, "13");
    assert.deepEqual(
      status(await exchange(session, path, frame(undecodable))).code,
      status(await exchange(session, path, frame(gzipSync(undecodable), true), { "grpc-encoding": "gzip" })).code,
    );
    assert.equal(status(await exchange(session, path, frame(known, true))).code, "13");
    // A second message is a cardinality violation: UNIMPLEMENTED, as connect-node answers.
    const twice = Buffer.concat([frame(known), frame(known)]);
    assert.equal(status(await exchange(session, path, twice)).code, "12");
    const twiceCompressed = Buffer.concat([frame(gzipSync(known), true), frame(gzipSync(known), true)]);
    assert.equal(status(await exchange(session, path, twiceCompressed, { "grpc-encoding": "gzip" })).code, "12");
    assert.equal((await exchange(session, path, frame(known))).trailers["grpc-status"], "0");
  });

  it("refuses a message over the size limit with RESOURCE_EXHAUSTED", async () => {
    const big = toBinary(GetCustomerRequestSchema, create(GetCustomerRequestSchema, { id: "x".repeat(4000) }));
    assert.equal(status(await exchange(session, path, frame(big))).code, "8");
    assert.equal((await exchange(session, path, frame(known))).trailers["grpc-status"], "0");
  });

  it("answers DEADLINE_EXCEEDED when the client's grpc-timeout passes first", async () => {
    const started = Date.now();
    const response = await exchange(session, path, frame(known), { "grpc-timeout": "50m", "x-test-delay": "400" });
    assert.equal(status(response).code, "4");
    assert.ok(Date.now() - started < 350, `answered after ${Date.now() - started} ms`);
    assert.equal(status(await exchange(session, path, frame(known), { "grpc-timeout": "1H" })).code, "0");
    assert.equal(status(await exchange(session, path, frame(known), { "grpc-timeout": "bogus" })).code, "3");
  });

  it("sends the response headers and trailers interceptors set, and shows them every request header", async () => {
    const response = await exchange(session, path, frame(known), { "x-test-echo": "hello" });
    assert.equal(response.trailers["grpc-status"], "0");
    assert.equal(response.headers["content-type"], "application/grpc+proto");
    assert.equal(response.headers["x-test-echo"], "hello");
    assert.equal(response.trailers["x-test-echo-trailer"], "hello");
    const names = String(response.headers["x-test-names"]).split(",");
    for (const name of ["authorization", "content-type", "te", "x-test-echo"]) assert.ok(names.includes(name), `${name} in ${names.join(",")}`);
    assert.ok(!names.some((name) => name.startsWith(":")), "no pseudo-headers");
  });

  it("aborts the call's signal with CANCELED when the client resets the stream", async () => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${TEST_ADMIN_KEY}`, "x-test-await-abort": "1" });
    stream.on("error", () => undefined);
    stream.end(frame(known));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stream.close(constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 5000;
    while (abortReasons.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(abortReasons.length, 1);
    assert.ok(abortReasons[0] instanceof ConnectError);
    assert.equal((abortReasons[0] as ConnectError).code, Code.Canceled);
    assert.equal((await exchange(session, path, frame(known))).trailers["grpc-status"], "0");
  });
});
