import { readFileSync } from "node:fs";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { createRegistry, type DescFile } from "@bufbuild/protobuf";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { AccessService, file_billing_v1_access_service } from "../../gen/ts/billing/v1/access_service_pb.js";
import { BillingService, file_billing_v1_billing_service } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService, file_billing_v1_catalog_service } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService, file_billing_v1_customer_service } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { file_billing_v1_usage_service, UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { file_health_v1_health, Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { file_grpc_reflection_v1_reflection, ServerReflection } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ServerReflectionV1Alpha,
} from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { file_google_rpc_error_details } from "../../gen/ts/google/rpc/error_details_pb.js";
import { createAccessHandler } from "../api/access-handler.js";
import { createBillingHandler } from "../api/billing-handler.js";
import { SERVE_DEFAULTS } from "../config.js";
import { createCatalogHandler } from "../api/catalog-handler.js";
import { createCustomerHandler } from "../api/customer-handler.js";
import { createUsageHandler } from "../api/usage-handler.js";
import { createFeedHandlers } from "../api/feed-handler.js";
import { createWatchStreams } from "../api/watch-streams.js";
import type { Alerts } from "../domain/alerts.js";
import type { UsageFeed } from "../domain/usage-feed.js";
import type { Billing } from "../domain/billing.js";
import type { Catalog } from "../domain/catalog.js";
import type { CustomerDirectory } from "../domain/customer-directory.js";
import type { UsageLedger } from "../domain/usage-ledger.js";
import type { UsageLimits } from "../domain/usage-limits.js";
import type { Keyring } from "../domain/keyring.js";
import { createCallDraining } from "./interceptors/call-draining.js";
import type { CallLimitsOptions } from "./interceptors/call-limits.js";
import { createInterceptorChain } from "./interceptors/interceptor-chain.js";
import { createHealthService } from "./health-service.js";
import { createCorsPolicy } from "./cors.js";
import { createGrpcUnaryFastPath } from "./grpc-unary-fast-path.js";
import { refuseGrpcWebText } from "./grpc-web-text.js";
import type { TallyMetrics } from "./interceptors/metrics.js";
import { createOnePortListener, type HttpRequestHandler, type OnePortListenerOptions } from "./one-port-listener.js";
import { jsonRequestDecoder } from "./json-request-rules.js";
import { CONTRACT_DESCRIPTOR_SET, registerReflection } from "./reflection-service.js";
import { createWebAssets } from "./web-assets.js";

/** The use cases the server exposes. */
export interface TallyServices {
  directory: CustomerDirectory;
  catalog: Catalog;
  ledger: UsageLedger;
  billing: Billing;
  feed: UsageFeed;
  alerts: Alerts;
  limits: UsageLimits;
}

/** How to build the server. */
export interface TallyServerOptions {
  /** The use cases behind the RPCs. Required. */
  services: TallyServices;
  /** Where call logs and faults go. Required. */
  logger: Logger;
  /** Verifies the API key of every call but health. Required. */
  keyring: Keyring;
  /** Counts calls, events and group commits; served at GET /metrics. Required. */
  metrics: TallyMetrics;
  /** Serve reflection without a key. Default false. */
  publicReflection?: boolean;
  /** Batch size, stream length, deadline cap and per-tenant rate. Required. */
  callLimits: CallLimitsOptions;
  /** Connection limits and TLS of the listener. Default: the listener's defaults, cleartext. */
  listener?: Omit<OnePortListenerOptions, "handler" | "onListenerError" | "onConnectionRefused">;
  /** Largest request message in bytes. Default: --max-message-bytes's (src/config.ts). */
  maxMessageBytes?: number;
  /** Largest response message in bytes. Default: --max-response-bytes's (src/config.ts). */
  maxResponseBytes?: number;
  /** Watch streams (health Watch, WatchUsage, WatchAlerts) open at once. Default: --max-watch-streams's (src/config.ts). */
  maxWatchStreams?: number;
  /**
   * Answer bytes not yet taken by clients, all connections together, over
   * which reads and reflection are refused (SERVER_BUSY). Default:
   * --max-buffered-response-bytes's (src/config.ts).
   */
  maxBufferedResponseBytes?: number;
  /**
   * Serve uncompressed unary gRPC calls on the gRPC fast path (same
   * interceptors, same answers, less CPU); false leaves every call to
   * connect-node. Default true.
   */
  grpcFastPath?: boolean;
  /** How often an open stream's API key is verified again, in ms. Default: --key-recheck-interval's (src/config.ts). */
  keyRecheckIntervalMs?: number;
  /**
   * More interceptors, run after the text rules and outside the error
   * boundary (so their own refusals are logged and counted); tests use them.
   * Default none.
   */
  interceptors?: Interceptor[];
  /**
   * Ignore Connect JSON fields a billing.v1 request message does not define
   * (forward compatibility), instead of refusing them with UNKNOWN_FIELD.
   * Default false.
   */
  allowUnknownJsonFields?: boolean;
  /** Origins (e.g. "https://billing.example.com") whose pages may call the API cross-origin. Default none. */
  corsOrigins?: string[];
  /** Directory of the built dashboard. Default dist/web in the package. */
  webRoot?: string;
  /**
   * More services served on the same port, through the same listener,
   * interceptor chain and gRPC fast path, but without an API key. Only the
   * conformance runner mounts one (connectrpc.com/conformance's
   * ConformanceService); production serves none. Default none.
   */
  publicServices?: PublicService[];
}

/** A service served without an API key (see TallyServerOptions.publicServices). */
export interface PublicService<S extends DescService = DescService> {
  service: S;
  implementation: Partial<ServiceImpl<S>>;
}

/**
 * JSON bodies must be valid UTF-8 (RFC 8259): connect decodes them with a
 * lenient TextDecoder by default, which turns invalid bytes into U+FFFD and
 * would record a request_id or attribute nobody sent. connect-node passes
 * jsonOptions on to its JSON serialization, which takes the decoder from
 * them (connect is pinned to an exact version; the fault suite's bad-input
 * corpus fails if that changes), so bad bytes are INVALID_ARGUMENT. These
 * options serve health, reflection and public services, which ignore unknown
 * fields as connect does by default; the billing.v1 methods take
 * strictJsonOptions instead.
 */
const STRICT_JSON = { ignoreUnknownFields: true, textDecoder: new TextDecoder("utf-8", { fatal: true }) };

/**
 * The JSON options of one billing.v1 method: its decoder checks the request's
 * JSON text against the method's message (json-request-rules.ts: unknown
 * fields, timestamps that do not exist) before protobuf-es reads it.
 */
function strictJsonOptions(method: DescMethod, allowUnknownFields: boolean) {
  return { ignoreUnknownFields: allowUnknownFields, textDecoder: jsonRequestDecoder(method.input, { allowUnknownFields }) };
}

/**
 * Mounts a billing.v1 service one method at a time (`rpc`), each with its
 * own JSON options: connect takes them per service or per method, and each
 * method checks its own message. The gRPC fast path records `rpc` routes too.
 */
function mountStrictly<S extends DescService>(router: ConnectRouter, service: S, implementation: ServiceImpl<S>, allowUnknownFields: boolean): void {
  for (const method of service.methods) {
    const handler = (implementation as Record<string, (...args: never[]) => unknown>)[method.localName]!.bind(implementation);
    router.rpc(method, handler as never, { jsonOptions: strictJsonOptions(method, allowUnknownFields) });
  }
}

/** Client- and bidi-streaming RPCs, whose request side stays open by design. */
const STREAMING_REQUEST_PATHS = new Set(
  [UsageService, ServerReflection, ServerReflectionV1Alpha].flatMap((service) =>
    service.methods.filter((method) => method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming").map((method) => `/${service.typeName}/${method.name}`),
  ),
);

/**
 * The HTTP methods each procedure takes, by path: POST, and GET too for a
 * unary method without side effects (Connect's GET requests).
 */
const ALLOWED_METHODS = new Map(
  [CustomerService, CatalogService, UsageService, BillingService, AccessService, Health, ServerReflection, ServerReflectionV1Alpha].flatMap((service) =>
    service.methods.map((method) => [
      `/${service.typeName}/${method.name}`,
      method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ? "GET, POST" : "POST",
    ]),
  ),
);

/**
 * Answers a gRPC, gRPC-Web or Connect request for a procedure the server
 * does not have as its protocol says an unknown procedure is answered:
 * gRPC and gRPC-Web with status 12 (UNIMPLEMENTED) in a trailers-only
 * response, Connect with HTTP 404 and its JSON error. Anything else (a
 * browser, curl without a content type) is left to the plain 404.
 */
function answerUnknownProcedure(request: FallbackRequest, response: FallbackResponse): "grpc" | "grpc-web" | "connect" | undefined {
  if (request.method !== "POST") return undefined;
  const contentType = String(request.headers["content-type"] ?? "").toLowerCase();
  const message = `unknown procedure ${(request.url ?? "").split("?")[0]}`;
  if (contentType.startsWith("application/grpc")) {
    response.writeHead(200, { "content-type": contentType.split(";")[0]!, "grpc-status": "12", "grpc-message": encodeURIComponent(message) });
    response.end();
    return contentType.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
  }
  if (/^application\/(connect\+)?(json|proto)/.test(contentType)) {
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ code: "unimplemented", message }));
    return "connect";
  }
  return undefined;
}

/** The request and response connect-node hands its fallback, of either HTTP version. */
type FallbackRequest = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[0];
type FallbackResponse = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[1];

/** The services health reports on, besides the whole server (""). */
const SERVICE_NAMES = [CustomerService, CatalogService, UsageService, BillingService, AccessService].map((service) => service.typeName);

/**
 * The files reflection describes: the contract, health and reflection
 * themselves, and the google.rpc error details, so grpcurl can decode the
 * ErrorInfo and BadRequest of an error status.
 */
const REFLECTED_FILES: DescFile[] = [
  file_billing_v1_customer_service,
  file_billing_v1_catalog_service,
  file_billing_v1_usage_service,
  file_billing_v1_billing_service,
  file_billing_v1_access_service,
  file_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
  file_google_rpc_error_details,
];

/**
 * Builds the Tally server: every billing.v1 service, gRPC health and
 * reflection, GET /healthz and the dashboard at /, for gRPC, gRPC-Web and
 * Connect (JSON and binary) on one port over HTTP/1.1 and cleartext HTTP/2.
 */
export function createTallyServer(options: TallyServerOptions) {
  const { services, logger } = options;
  const maxMessageBytes = options.maxMessageBytes ?? SERVE_DEFAULTS.maxMessageBytes;
  const maxResponseBytes = options.maxResponseBytes ?? SERVE_DEFAULTS.maxResponseBytes;
  const watches = createWatchStreams(options.maxWatchStreams ?? SERVE_DEFAULTS.maxWatchStreams);
  const health = createHealthService({ watches });
  const maxBufferedBytes = options.maxBufferedResponseBytes ?? SERVE_DEFAULTS.maxBufferedResponseBytes;
  const feedHandlers = createFeedHandlers({
    feed: services.feed,
    alerts: services.alerts,
    watches,
    responseBudget: { bufferedBytes: (maxAgeMs) => listener.bufferedResponseBytes(maxAgeMs), maxBufferedBytes },
  });
  const draining = createCallDraining();
  let serving = true;

  const cors = createCorsPolicy(options.corsOrigins ?? []);
  const webAssets = createWebAssets(options.webRoot);
  const interceptors = createInterceptorChain({
    logger,
    keyring: options.keyring,
    metrics: options.metrics,
    draining: draining.interceptor,
    callLimits: options.callLimits,
    publicReflection: options.publicReflection ?? false,
    keyRecheckIntervalMs: options.keyRecheckIntervalMs ?? SERVE_DEFAULTS.keyRecheckInterval,
    publicServices: (options.publicServices ?? []).map(({ service }) => service.typeName),
    responseBudget: {
      bufferedBytes: (maxAgeMs) => listener.bufferedResponseBytes(maxAgeMs),
      maxBufferedBytes,
    },
    extra: options.interceptors ?? [],
  });
  const grpcFastPath = createGrpcUnaryFastPath({
    interceptors,
    readMaxBytes: maxMessageBytes,
    writeMaxBytes: maxResponseBytes,
  });
  const grpcFastPathOn = options.grpcFastPath ?? true;
  const connectHandler = connectNodeAdapter({
    routes(connectRouter: ConnectRouter) {
      const router = grpcFastPathOn ? grpcFastPath.recordRoutes(connectRouter) : connectRouter;
      const allowUnknown = options.allowUnknownJsonFields ?? false;
      mountStrictly(router, CustomerService, createCustomerHandler(services.directory), allowUnknown);
      mountStrictly(router, CatalogService, createCatalogHandler(services.catalog), allowUnknown);
      mountStrictly(router, UsageService, createUsageHandler(services.ledger, feedHandlers, services.limits), allowUnknown);
      mountStrictly(router, BillingService, createBillingHandler(services.billing, feedHandlers), allowUnknown);
      mountStrictly(router, AccessService, createAccessHandler(), allowUnknown);
      health.register(router);
      registerReflection(router, REFLECTED_FILES, readFileSync(CONTRACT_DESCRIPTOR_SET));
      // Their own JSON options add a registry of the service's file, so a
      // google.protobuf.Any of its messages (the conformance payload echoes
      // its requests in Any fields) can be written as JSON.
      for (const { service, implementation } of options.publicServices ?? []) {
        router.service(service, implementation, { jsonOptions: { ...STRICT_JSON, registry: createRegistry(service.file) } });
      }
    },
    interceptors,
    jsonOptions: STRICT_JSON,
    readMaxBytes: maxMessageBytes,
    writeMaxBytes: maxResponseBytes,
    fallback(request, response) {
      if (request.url === "/healthz" && (request.method === "GET" || request.method === "HEAD")) {
        response.writeHead(serving ? 200 : 503, { "content-type": "text/plain; charset=utf-8" });
        response.end(serving ? "SERVING\n" : "NOT_SERVING\n");
        return;
      }
      if (request.url === "/metrics" && request.method === "GET") {
        options.metrics.render().then(
          (text) => {
            response.writeHead(200, { "content-type": options.metrics.contentType });
            response.end(text);
          },
          (error: unknown) => {
            logger.error({ err: error }, "metrics failed");
            response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
            response.end("metrics failed; see the log\n");
          },
        );
        return;
      }
      if (webAssets.handle(request, response)) return;
      const unknown = answerUnknownProcedure(request, response);
      if (unknown !== undefined) {
        // No interceptor saw it (there is no method to run them for): counted
        // and logged here, the path cut short, so a flood of made-up paths
        // cannot grow the metrics or flood the log with long lines.
        options.metrics.unknownProcedure(unknown);
        logger.info({ method: (request.url ?? "").split("?")[0]!.slice(0, 200), protocol: unknown, code: "Unimplemented", message: "unknown procedure" }, "call");
        return;
      }
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("not found\n");
    },
  });
  const handler: HttpRequestHandler = (request, response) => {
    if (grpcFastPathOn && request.httpVersionMajor === 2 && grpcFastPath.claim(request as Http2ServerRequest, response as Http2ServerResponse)) return;
    if (cors.handle(request, response) || refuseGrpcWebText(request, response)) return;
    // connect-node answers a procedure's wrong HTTP method with a bare 405;
    // RFC 9110 wants the methods it takes named in Allow.
    const allow = request.method === "POST" ? undefined : ALLOWED_METHODS.get((request.url ?? "").split("?")[0]!);
    if (allow !== undefined && !allow.split(", ").includes(request.method ?? "")) response.setHeader("allow", allow);
    connectHandler(request, response);
  };

  const listener = createOnePortListener({
    ...options.listener,
    keepsRequestOpen: (path) => STREAMING_REQUEST_PATHS.has(path),
    handler,
    onListenerError: (error) => logger.error({ err: error }, "listener error"),
    onConnectionRefused: (refusal) => logger.warn(refusal, "connections refused"),
  });

  for (const name of ["", ...SERVICE_NAMES]) health.setStatus(name, HealthCheckResponse_ServingStatus.SERVING);

  return {
    /** Starts listening; resolves with the bound address. */
    listen(port: number, host: string): Promise<AddressInfo> {
      return listener.listen(port, host);
    },

    /**
     * Graceful shutdown: health goes NOT_SERVING, new calls are refused with
     * UNAVAILABLE, calls in flight finish (up to `graceMs`), then every
     * connection is closed (HTTP/2 sessions with GOAWAY).
     */
    async shutdown(graceMs: number): Promise<void> {
      serving = false;
      health.setAllNotServing();
      health.close();
      watches.close();
      await draining.drain(graceMs);
      await listener.close(graceMs);
    },

    /** Open connections, for tests that check nothing is left behind. */
    openConnections: () => listener.openConnections(),
  };
}

/** The server built by createTallyServer. */
export type TallyServer = ReturnType<typeof createTallyServer>;
