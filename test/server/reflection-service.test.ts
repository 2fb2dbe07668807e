import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { cpp, file_google_protobuf_cpp_features, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { file_billing_v1_billing_service } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { file_billing_v1_catalog_service } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { file_billing_v1_customer_service } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { file_billing_v1_usage_service } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { file_grpc_reflection_v1_reflection } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { file_health_v1_health } from "../../gen/ts/health/v1/health_pb.js";
import { createHealthService } from "../../src/server/health-service.js";
import { createOnePortListener } from "../../src/server/one-port-listener.js";
import {
  CONTRACT_DESCRIPTOR_SET,
  createReflectionIndex,
  registerReflection,
  type ReflectionAnswer,
  type ReflectionRequest,
} from "../../src/server/reflection-service.js";

const billingFiles: DescFile[] = [
  file_billing_v1_customer_service,
  file_billing_v1_catalog_service,
  file_billing_v1_usage_service,
  file_billing_v1_billing_service,
];
const servedFiles = [...billingFiles, file_health_v1_health, file_grpc_reflection_v1_reflection, file_grpc_reflection_v1alpha_reflection];

const notFound = 5;
const invalidArgument = 3;

function ask(files: DescFile[], messageRequest: ReflectionRequest["messageRequest"]): ReflectionAnswer {
  return createReflectionIndex(files).answer({ host: "", messageRequest });
}

// Names of the files in a file_descriptor_response, in order; fails the test
// for any other answer.
function fileNames(answer: ReflectionAnswer): string[] {
  assert.equal(answer.case, "fileDescriptorResponse", JSON.stringify(answer.value));
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe("createReflectionIndex", () => {
  it("lists the services of the files it was given", () => {
    const answer = ask(servedFiles, { case: "listServices", value: "*" });
    assert.equal(answer.case, "listServicesResponse");
    assert.deepEqual(
      answer.value.service.map((service) => service.name),
      [
        "billing.v1.CustomerService",
        "billing.v1.CatalogService",
        "billing.v1.UsageService",
        "billing.v1.BillingService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ],
    );
  });

  it("finds the file declaring every kind of fully-qualified symbol", () => {
    const symbols: Record<string, string> = {
      "billing.v1.UsageService": "billing/v1/usage_service.proto",
      "billing.v1.UsageService.RecordUsage": "billing/v1/usage_service.proto",
      "billing.v1.UsageRecord": "billing/v1/usage_service.proto",
      "billing.v1.UsageRecord.AttributesEntry": "billing/v1/usage_service.proto",
      "billing.v1.UsageRecord.AttributesEntry.value": "billing/v1/usage_service.proto",
      "billing.v1.UsageRecord.attributes": "billing/v1/usage_service.proto",
      "grpc.health.v1.HealthListResponse.StatusesEntry": "health/v1/health.proto",
      "billing.v1.UsageRecord.meter_key": "billing/v1/usage_service.proto",
      "billing.v1.BatchRecordUsageResult.result": "billing/v1/usage_service.proto",
      "billing.v1.BatchRecordUsageResult.error": "billing/v1/usage_service.proto",
      "billing.v1.BillStatus": "billing/v1/billing_service.proto",
      "billing.v1.BILL_STATUS_DRAFT": "billing/v1/billing_service.proto",
      "billing.v1.BillStatus.BILL_STATUS_DRAFT": "billing/v1/billing_service.proto",
      "billing.v1.Aggregation": "billing/v1/catalog_service.proto",
      "grpc.health.v1.HealthCheckResponse.ServingStatus": "health/v1/health.proto",
      "grpc.health.v1.HealthCheckResponse.SERVING": "health/v1/health.proto",
      "grpc.health.v1.Health.Watch": "health/v1/health.proto",
      "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
      "google.protobuf.Timestamp.seconds": "google/protobuf/timestamp.proto",
      ".billing.v1.Customer": "billing/v1/customer_service.proto",
    };
    for (const [symbol, fileName] of Object.entries(symbols)) {
      assert.equal(fileNames(ask(servedFiles, { case: "fileContainingSymbol", value: symbol }))[0], fileName, symbol);
    }
  });

  it("answers with the file first, then every file it imports", () => {
    assert.deepEqual(fileNames(ask(servedFiles, { case: "fileContainingSymbol", value: "billing.v1.Bill" })), [
      "billing/v1/billing_service.proto",
      "google/protobuf/timestamp.proto",
    ]);
    assert.deepEqual(fileNames(ask(servedFiles, { case: "fileByFilename", value: "health/v1/health.proto" })), [
      "health/v1/health.proto",
    ]);
  });

  it("follows imports transitively", () => {
    assert.deepEqual(
      fileNames(ask([file_google_protobuf_cpp_features], { case: "fileByFilename", value: "google/protobuf/cpp_features.proto" })),
      ["google/protobuf/cpp_features.proto", "google/protobuf/descriptor.proto"],
    );
  });

  it("serves imported files by name too", () => {
    assert.deepEqual(fileNames(ask(servedFiles, { case: "fileByFilename", value: "google/protobuf/timestamp.proto" })), [
      "google/protobuf/timestamp.proto",
    ]);
  });

  it("sends descriptors that round-trip to the compiled ones", () => {
    const [bytes] = (ask(servedFiles, { case: "fileByFilename", value: "billing/v1/usage_service.proto" }) as {
      value: { fileDescriptorProto: Uint8Array[] };
    }).value.fileDescriptorProto;
    assert.ok(bytes);
    const decoded: FileDescriptorProto = fromBinary(FileDescriptorProtoSchema, bytes);
    assert.equal(decoded.package, "billing.v1");
    assert.deepEqual(decoded.dependency, ["google/protobuf/timestamp.proto"]);
    assert.deepEqual(
      decoded.service[0]?.method.map((method) => method.name),
      file_billing_v1_usage_service.services[0]?.methods.map((method) => method.name),
    );
  });

  it("serves the contract with its comments from the descriptor set buf builds (gen/descriptors), the rest as embedded", () => {
    const index = createReflectionIndex(servedFiles, readFileSync(CONTRACT_DESCRIPTOR_SET));
    const answer = index.answer({ host: "", messageRequest: { case: "fileContainingSymbol", value: "billing.v1.UsageService.RecordUsage" } });
    assert.equal(answer.case, "fileDescriptorResponse");
    const [usage, ...imports] = answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    assert.equal(usage?.name, "billing/v1/usage_service.proto");
    const comments = usage?.sourceCodeInfo?.location.map((location) => location.leadingComments) ?? [];
    assert.ok(comments.some((comment) => comment.includes("UsageService is the usage ledger")), "the service's comment is missing");
    assert.ok(comments.some((comment) => comment.includes("refused records nothing and leaves its request_id free")), "RecordUsage's comment is missing");
    // The same messages and services as the embedded descriptor the server is built from.
    assert.deepEqual(
      usage?.messageType.map((message) => message.name),
      file_billing_v1_usage_service.proto.messageType.map((message) => message.name),
    );
    assert.deepEqual(imports.map((file) => file.name), ["google/protobuf/timestamp.proto"]);
    // Files the set does not hold are served as protoc-gen-es embeds them, without source info.
    const health = index.answer({ host: "", messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } });
    assert.equal(health.case, "fileDescriptorResponse");
    assert.equal(fromBinary(FileDescriptorProtoSchema, health.value.fileDescriptorProto[0]!).sourceCodeInfo, undefined);
  });

  it("reports an unknown symbol or file as NOT_FOUND", () => {
    for (const messageRequest of [
      { case: "fileContainingSymbol", value: "billing.v1.NoSuchThing" },
      { case: "fileContainingSymbol", value: "billing.v1" },
      { case: "fileByFilename", value: "billing/v1/nope.proto" },
      { case: "allExtensionNumbersOfType", value: "billing.v1.NoSuchMessage" },
      { case: "fileContainingExtension", value: { containingType: "billing.v1.UsageRecord", extensionNumber: 100 } },
    ] as const) {
      const answer = ask(servedFiles, messageRequest);
      assert.equal(answer.case, "errorResponse", messageRequest.case);
      assert.equal(answer.value.errorCode, notFound);
    }
  });

  it("reports no extension numbers for a message nothing extends", () => {
    assert.deepEqual(ask(servedFiles, { case: "allExtensionNumbersOfType", value: "billing.v1.UsageRecord" }), {
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "billing.v1.UsageRecord", extensionNumber: [] },
    });
  });

  it("finds extensions by extendee and number", () => {
    const files = [file_google_protobuf_cpp_features];
    assert.deepEqual(ask(files, { case: "allExtensionNumbersOfType", value: "google.protobuf.FeatureSet" }), {
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.FeatureSet", extensionNumber: [cpp.number] },
    });
    assert.equal(
      fileNames(
        ask(files, {
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.FeatureSet", extensionNumber: cpp.number },
        }),
      )[0],
      "google/protobuf/cpp_features.proto",
    );
    assert.equal(fileNames(ask(files, { case: "fileContainingSymbol", value: cpp.typeName }))[0], "google/protobuf/cpp_features.proto");
  });

  it("reports a request without a question as INVALID_ARGUMENT", () => {
    const answer = ask(servedFiles, { case: undefined });
    assert.equal(answer.case, "errorResponse");
    assert.equal(answer.value.errorCode, invalidArgument);
  });
});

// What grpc-js's proto-loader makes of a ServerReflectionResponse, with
// oneofs: true naming the answer in messageResponse.
interface LoadedResponse {
  validHost: string;
  originalRequest: Record<string, unknown>;
  messageResponse: "fileDescriptorResponse" | "allExtensionNumbersResponse" | "listServicesResponse" | "errorResponse";
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  listServicesResponse?: { service: { name: string }[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

type ReflectionStream = grpc.ClientDuplexStream<Record<string, unknown>, LoadedResponse>;

interface ReflectionClient extends grpc.Client {
  serverReflectionInfo(): ReflectionStream;
}

// An independent client: grpc-js with the reflection protos that ship with
// @grpc/reflection, over real sockets, as grpcurl or Postman would connect.
describe("registerReflection over gRPC with grpc-js", { timeout: 20_000 }, () => {
  const protoDir = path.join(path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "..", "proto");

  function loadClient(version: "v1" | "v1alpha", port: number): ReflectionClient {
    const definition = protoLoader.loadSync(path.join(protoDir, "grpc", "reflection", version, "reflection.proto"), {
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { reflection: Record<string, { ServerReflection: new (address: string, credentials: grpc.ChannelCredentials) => ReflectionClient }> };
    };
    const service = loaded.grpc.reflection[version];
    assert.ok(service);
    return new service.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  async function startServer(t: TestContext): Promise<number> {
    const health = createHealthService();
    const listener = createOnePortListener({
      handler: connectNodeAdapter({
        routes(router) {
          health.register(router);
          registerReflection(router, servedFiles);
        },
      }),
    });
    const { port } = await listener.listen(0, "127.0.0.1");
    t.after(async () => {
      health.close();
      await listener.close(1_000);
      assert.equal(listener.openConnections(), 0, "a connection outlived close()");
    });
    return port;
  }

  // Asks questions one after another on one stream, as grpcurl does.
  function openSession(t: TestContext, client: ReflectionClient) {
    const stream = client.serverReflectionInfo();
    const pending: ((response: LoadedResponse) => void)[] = [];
    let failure: Error | undefined;
    stream.on("data", (response: LoadedResponse) => pending.shift()?.(response));
    stream.on("error", (error: Error) => (failure = error));
    t.after(() => {
      stream.cancel();
      client.close();
    });
    return {
      ask(request: Record<string, unknown>): Promise<LoadedResponse> {
        assert.equal(failure, undefined, "the reflection stream broke");
        return new Promise((resolve) => {
          pending.push(resolve);
          stream.write({ host: "localhost", ...request });
        });
      },
      end(): Promise<grpc.StatusObject> {
        const status = new Promise<grpc.StatusObject>((resolve) => stream.once("status", resolve));
        stream.end();
        return status;
      },
    };
  }

  for (const version of ["v1", "v1alpha"] as const) {
    it(`answers ${version} list_services, file_containing_symbol and unknown symbols on one stream`, async (t) => {
      const port = await startServer(t);
      const session = openSession(t, loadClient(version, port));

      const listed = await session.ask({ listServices: "*" });
      assert.equal(listed.messageResponse, "listServicesResponse");
      assert.equal(listed.validHost, "localhost");
      const services = listed.listServicesResponse?.service.map((service) => service.name) ?? [];
      assert.ok(services.includes("billing.v1.UsageService"), services.join());
      assert.ok(services.includes("grpc.health.v1.Health"), services.join());
      assert.ok(services.includes(`grpc.reflection.${version}.ServerReflection`), services.join());

      const found = await session.ask({ fileContainingSymbol: "billing.v1.UsageService" });
      assert.equal(found.messageResponse, "fileDescriptorResponse");
      assert.equal(found.originalRequest.fileContainingSymbol, "billing.v1.UsageService");
      const files = (found.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      assert.deepEqual(
        files.map((file) => file.name),
        ["billing/v1/usage_service.proto", "google/protobuf/timestamp.proto"],
      );
      assert.equal(files[0]?.service[0]?.name, "UsageService");
      assert.equal(files[1]?.messageType[0]?.name, "Timestamp");

      const missing = await session.ask({ fileContainingSymbol: "billing.v1.NoSuchService" });
      assert.equal(missing.messageResponse, "errorResponse");
      assert.equal(missing.errorResponse?.errorCode, notFound);

      // The error was an answer, not the end of the stream.
      const method = await session.ask({ fileContainingSymbol: "grpc.health.v1.Health.Check" });
      assert.equal(method.messageResponse, "fileDescriptorResponse");

      assert.equal((await session.end()).code, grpc.status.OK);
    });
  }
});
