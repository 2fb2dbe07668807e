import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetCustomerRequestSchema, GetCustomerResponseSchema } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { RecordUsageRequestSchema, RecordUsageResponseSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

// Google's grpc-web client speaks through XMLHttpRequest; Node has none, so
// xhr2 (an XMLHttpRequest over node:http) stands in for the browser's.
// (xhr2 ships no types; the one value used is the constructor.)
(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = ((await import("xhr2" as string)) as { default: unknown }).default;
const grpcWeb = await import("grpc-web");

/** A method as protoc-gen-grpc-web would describe it, with protobuf-es doing the (de)serialization. */
function methodOf<I, O>(path: string, encode: (request: I) => Uint8Array, decode: (bytes: Uint8Array) => O) {
  return new grpcWeb.MethodDescriptor<I, O>(path, "unary", Object as never, Object as never, encode, decode);
}

const getCustomer = methodOf(
  "/billing.v1.CustomerService/GetCustomer",
  (request: ReturnType<typeof create<typeof GetCustomerRequestSchema>>) => toBinary(GetCustomerRequestSchema, request),
  (bytes) => fromBinary(GetCustomerResponseSchema, bytes),
);
const recordUsage = methodOf(
  "/billing.v1.UsageService/RecordUsage",
  (request: ReturnType<typeof create<typeof RecordUsageRequestSchema>>) => toBinary(RecordUsageRequestSchema, request),
  (bytes) => fromBinary(RecordUsageResponseSchema, bytes),
);

// Callers using Google's grpc-web npm client: its binary mode
// (application/grpc-web+proto, protoc-gen-grpc-web's mode=grpcweb) is
// served; its default text mode gets a clear UNIMPLEMENTED naming the binary
// mode, and records nothing.
describe("Google's grpc-web client", () => {
  let tally: TestTally;
  let customerId: string;
  const metadata = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  before(async () => {
    tally = await startTestTally();
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("binary mode: reads and records, with the same answers as every other protocol", async () => {
    const client = new grpcWeb.GrpcWebClientBase({ format: "binary" });
    const { customer } = await client.unaryCall(`${tally.url}${getCustomer.getName()}`, create(GetCustomerRequestSchema, { id: "acme" }), metadata, getCustomer);
    assert.equal(customer?.id, customerId);
    const request = create(RecordUsageRequestSchema, { requestId: "grpc-web-1", customerId, meterKey: "hosting", quantity: "2.5" });
    const first = await client.unaryCall(`${tally.url}${recordUsage.getName()}`, request, metadata, recordUsage);
    const again = await client.unaryCall(`${tally.url}${recordUsage.getName()}`, request, metadata, recordUsage);
    assert.deepEqual([first.replayed, again.replayed, again.record?.id], [false, true, first.record?.id]);
    await assert.rejects(client.unaryCall(`${tally.url}${getCustomer.getName()}`, create(GetCustomerRequestSchema, { id: "nobody" }), metadata, getCustomer), (error: { code: number }) => {
      assert.equal(error.code, grpcWeb.StatusCode.NOT_FOUND);
      return true;
    });
  });

  it("text mode (the client's default): UNIMPLEMENTED naming the binary mode, and nothing recorded", async () => {
    const client = new grpcWeb.GrpcWebClientBase({ format: "text" });
    const request = create(RecordUsageRequestSchema, { requestId: "grpc-web-text-1", customerId, meterKey: "hosting", quantity: "1" });
    await assert.rejects(client.unaryCall(`${tally.url}${recordUsage.getName()}`, request, metadata, recordUsage), (error: { code: number; message: string }) => {
      assert.equal(error.code, grpcWeb.StatusCode.UNIMPLEMENTED);
      assert.match(error.message, /application\/grpc-web\+proto/);
      return true;
    });
    await assert.rejects(tally.clients().usage.getUsageRecord({ id: "grpc-web-text-1" }));
  });
});
