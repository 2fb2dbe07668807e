import assert from "node:assert/strict";
import { type ClientHttp2Session, connect, createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { clone, type DescMessage, type DescMethod, type DescService, equals, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { createConnectRouter } from "@connectrpc/connect";
import { AccessService } from "../../gen/ts/billing/v1/access_service_pb.js";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createGrpcUnaryFastPath } from "../../src/server/grpc-unary-fast-path.js";
import { filledMessage, oneofVariants, unsetFields } from "../support/filled-messages.js";

const SERVICES: DescService[] = [CustomerService, CatalogService, UsageService, BillingService, AccessService];

/** Every unary method of the contract: the fast path serves each of them. */
const UNARY_METHODS = SERVICES.flatMap((service) => service.methods.filter((method) => method.methodKind === "unary"));

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function call(session: ClientHttp2Session, method: DescMethod, body: Buffer) {
  return new Promise<{ body: Buffer; status: string | undefined; message: string | undefined }>((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": `/${method.parent.typeName}/${method.name}`, "content-type": "application/grpc", te: "trailers" });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message: string | undefined;
    const readStatus = (headers: Record<string, unknown>) => {
      if (headers["grpc-status"] !== undefined) {
        status = String(headers["grpc-status"]);
        message = headers["grpc-message"] === undefined ? undefined : decodeURIComponent(String(headers["grpc-message"]));
      }
    };
    stream.on("response", readStatus);
    stream.on("trailers", readStatus);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve({ body: Buffer.concat(chunks), status, message }));
    stream.on("error", reject);
    stream.end(body);
  });
}

// The fast path decodes requests and encodes answers itself; here every field
// of every message it touches (found by walking the descriptors, so a field
// added to the contract is covered without touching this test) must come
// through it exactly as protobuf-es encodes and decodes it, both ways, over a
// real HTTP/2 connection.
describe("the gRPC fast path carries every field of every unary method's messages", () => {
  const received = new Map<string, MessageShape<DescMessage>>();
  const answers = new Map<string, MessageShape<DescMessage>>();
  let server: Http2Server;
  let session: ClientHttp2Session;

  before(async () => {
    const fastPath = createGrpcUnaryFastPath({ interceptors: [], readMaxBytes: 16 << 20, writeMaxBytes: 16 << 20 });
    const router = fastPath.recordRoutes(createConnectRouter());
    for (const service of SERVICES) {
      const implementation: Record<string, (request: MessageShape<DescMessage>) => MessageShape<DescMessage>> = {};
      for (const method of service.methods) {
        implementation[method.localName] = (request) => {
          received.set(method.name, request);
          return clone(method.output, answers.get(method.name)!);
        };
      }
      router.service(service, implementation as never);
    }
    server = createServer();
    server.on("request", (request, response) => {
      if (!fastPath.claim(request, response)) response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    session.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it("covers the contract's unary methods", () => {
    assert.ok(UNARY_METHODS.length >= 15, `${UNARY_METHODS.length} unary methods`);
  });

  for (const method of UNARY_METHODS) {
    it(`${method.parent.name}.${method.name}`, async () => {
      const variants = Math.max(oneofVariants(method.input), oneofVariants(method.output));
      for (let variant = 0; variant < variants; variant++) {
        const request = filledMessage(method.input, variant);
        const answer = filledMessage(method.output, variant);
        // The filler itself must leave nothing unset, or this test could pass by skipping a field.
        assert.deepEqual(unsetFields(method.input, request), []);
        assert.deepEqual(unsetFields(method.output, answer), []);
        answers.set(method.name, answer);

        const response = await call(session, method, frame(toBinary(method.input, request)));
        assert.equal(response.status, "0", response.message);
        assert.ok(equals(method.input, received.get(method.name)!, request), `the request as decoded by the fast path (variant ${variant})`);
        const decoded = fromBinary(method.output, response.body.subarray(5));
        assert.ok(equals(method.output, decoded, answer), `the answer as encoded by the fast path (variant ${variant})`);
        assert.deepEqual(response.body.subarray(5), Buffer.from(toBinary(method.output, answer)), "the very bytes protobuf-es writes");
      }
    });
  }
});
