import { existsSync } from "node:fs";
import { join } from "node:path";
import grpc from "@grpc/grpc-js";
import { TEST_ADMIN_KEY } from "./clients.js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

/**
 * Stubs built the way another team would build them: @grpc/grpc-js and
 * @grpc/proto-loader reading the .proto contract at run time, with none of
 * this project's generated code or client library in between. Field names
 * keep their proto spelling (snake_case), enums are their names, 64-bit
 * integers are strings.
 */

/** The proto-loader options every stub here is loaded with. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Where the google/rpc/*.proto files come from: a package that ships them. */
const GOOGLE_PROTOS = join("node_modules", "google-proto-files");

const BILLING_FILES = ["customer_service", "catalog_service", "usage_service", "billing_service"].map(
  (name) => `billing/v1/${name}.proto`,
);

/** The billing.v1 service stubs (and health) on one address, closed together. */
export interface GrpcJsStubs {
  customers: grpc.Client;
  catalog: grpc.Client;
  usage: grpc.Client;
  billing: grpc.Client;
  health: grpc.Client;
  close(): void;
}

type ServiceConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client;

function serviceAt(pkg: grpc.GrpcObject, path: string): ServiceConstructor {
  let node: unknown = pkg;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`${path} is not a service in the loaded protos`);
  return node as ServiceConstructor;
}

const billingPackage = grpc.loadPackageDefinition(protoLoader.loadSync(BILLING_FILES, { ...LOADER_OPTIONS, includeDirs: ["proto"] }));
const healthPackage = grpc.loadPackageDefinition(
  protoLoader.loadSync(join("node_modules", "grpc-health-check", "proto", "health", "v1", "health.proto"), LOADER_OPTIONS),
);

/**
 * Plaintext stubs for `address` ("127.0.0.1:port"), sending `apiKey` as
 * `authorization` metadata on every call ("" for none), with grpc-js's
 * `channelOptions` (e.g. "grpc.service_config"; default none).
 */
export function createGrpcJsStubs(address: string, apiKey = TEST_ADMIN_KEY, channelOptions: grpc.ChannelOptions = {}): GrpcJsStubs {
  const credentials = grpc.credentials.createInsecure();
  // grpc-js refuses call credentials on an insecure channel; an interceptor adds the header instead.
  const withKey: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (apiKey !== "") metadata.set("authorization", `Bearer ${apiKey}`);
        next(metadata, listener);
      },
    });
  const options = { ...channelOptions, interceptors: [withKey] };
  const stubs = {
    customers: new (serviceAt(billingPackage, "billing.v1.CustomerService"))(address, credentials, options),
    catalog: new (serviceAt(billingPackage, "billing.v1.CatalogService"))(address, credentials, options),
    usage: new (serviceAt(billingPackage, "billing.v1.UsageService"))(address, credentials, options),
    billing: new (serviceAt(billingPackage, "billing.v1.BillingService"))(address, credentials, options),
    health: new (serviceAt(healthPackage, "grpc.health.v1.Health"))(address, credentials, options),
  };
  return {
    ...stubs,
    close() {
      for (const stub of Object.values(stubs)) stub.close();
    },
  };
}

type UnaryCallback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: UnaryCallback) => grpc.ClientUnaryCall;

/**
 * Calls unary `method` (its proto name, e.g. "RecordUsage") and resolves with
 * the response object, or rejects with grpc-js's ServiceError.
 */
export function unary<Response = Record<string, never>>(
  stub: grpc.Client,
  method: string,
  request: object,
  metadata = new grpc.Metadata(),
): Promise<Response> {
  const call = (stub as unknown as Record<string, UnaryMethod | undefined>)[method];
  if (call === undefined) throw new Error(`the stub has no method ${method}`);
  return new Promise((resolve, reject) => {
    call.call(stub, request, metadata, { deadline: Date.now() + 10_000 }, (error, response) =>
      error === null ? resolve(response as Response) : reject(error),
    );
  });
}

/** Awaits a call that must fail and returns grpc-js's error. */
export async function grpcJsFailure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (error) {
    if (typeof error === "object" && error !== null && "code" in error && "metadata" in error) return error as grpc.ServiceError;
    throw error;
  }
  throw new Error("the call succeeded but was expected to fail");
}

/** grpc-js's status codes by name, for readable assertions. */
export const GrpcStatus = grpc.status;

/** The google.rpc.Status of a failed call, with its ErrorInfo and BadRequest details decoded. */
export interface DecodedStatus {
  code: number;
  message: string;
  /** The type URL of every detail, in order. */
  detailTypes: string[];
  reason: string;
  domain: string;
  fieldViolations: { field: string; description: string }[];
}

let rpcRoot: protobuf.Root | undefined;

/** google/rpc/status.proto and error_details.proto parsed by protobufjs from google-proto-files. */
function googleRpcTypes(): protobuf.Root {
  if (rpcRoot !== undefined) return rpcRoot;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    const path = join(GOOGLE_PROTOS, target);
    return existsSync(path) ? path : target;
  };
  root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
  root.resolveAll();
  rpcRoot = root;
  return root;
}

interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/**
 * Reads the `grpc-status-details-bin` trailer the way any gRPC client must:
 * a serialized google.rpc.Status whose `details` are google.protobuf.Any
 * values, each decoded here by its type URL.
 */
export function decodeStatusDetails(error: grpc.ServiceError): DecodedStatus {
  const [trailer] = error.metadata.get("grpc-status-details-bin");
  if (!(trailer instanceof Buffer)) throw new Error(`no grpc-status-details-bin trailer on: ${error.message}`);
  const root = googleRpcTypes();
  const statusType = root.lookupType("google.rpc.Status");
  const status = statusType.toObject(statusType.decode(trailer), { defaults: true, longs: String, enums: String }) as {
    code: number;
    message: string;
    details: AnyMessage[];
  };
  const decoded: DecodedStatus = {
    code: status.code,
    message: status.message,
    detailTypes: [],
    reason: "",
    domain: "",
    fieldViolations: [],
  };
  for (const detail of status.details) {
    decoded.detailTypes.push(detail.type_url);
    const typeName = detail.type_url.slice(detail.type_url.lastIndexOf("/") + 1);
    const type = root.lookupType(typeName);
    const value = type.toObject(type.decode(detail.value), { defaults: true });
    if (typeName === "google.rpc.ErrorInfo") {
      decoded.reason = String(value.reason);
      decoded.domain = String(value.domain);
    } else if (typeName === "google.rpc.BadRequest") {
      decoded.fieldViolations.push(
        ...(value.field_violations as { field: string; description: string }[]).map(({ field, description }) => ({ field, description })),
      );
    }
  }
  return decoded;
}
