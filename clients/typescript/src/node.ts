import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { authInterceptors } from "./auth-interceptor.js";
import { type BillingClient, type BillingClientOptions, createBillingClientOver } from "./billing-client.js";

export * from "./common-exports.js";

/** Options of the Node client: the common ones, plus the HTTP version. */
export interface NodeBillingClientOptions extends BillingClientOptions {
  /** HTTP version for "connect" and "grpc-web" ("grpc" is always HTTP/2). Default "2". */
  httpVersion?: "1.1" | "2";
}

/**
 * The Tally client for Node: gRPC, Connect or gRPC-Web over connect-node's
 * transports (HTTP/2 by default, one multiplexed connection).
 */
export function createBillingClient(options: NodeBillingClientOptions): BillingClient {
  const http2 = (options.protocol ?? "connect") === "grpc" || (options.httpVersion ?? "2") === "2";
  // gRPC-Web has no client streaming at all; gRPC and Connect do over HTTP/2.
  const streams = http2 && options.protocol !== "grpc-web";
  return createBillingClientOver(nodeTransport(options), options, streams);
}

function nodeTransport(options: NodeBillingClientOptions): Transport {
  const common = { baseUrl: options.baseUrl, interceptors: authInterceptors(options.apiKey) };
  const httpVersion = options.httpVersion ?? "2";
  switch (options.protocol ?? "connect") {
    case "grpc":
      return createGrpcTransport(common);
    case "grpc-web":
      return createGrpcWebTransport({ ...common, httpVersion });
    case "connect":
      return createConnectTransport({ ...common, httpVersion, useBinaryFormat: true, useHttpGet: true });
  }
}
