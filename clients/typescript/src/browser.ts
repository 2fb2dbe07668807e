import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { type BillingClient, type BillingClientOptions, createBillingClientOver } from "./billing-client.js";
import { authInterceptors } from "./auth-interceptor.js";

export * from "./common-exports.js";

/**
 * The Tally client for browsers: Connect (read-only calls as HTTP GET, so
 * they can be cached) or gRPC-Web, over fetch. gRPC itself needs HTTP/2
 * trailers that browsers do not expose, so "grpc" is refused.
 */
export function createBillingClient(options: BillingClientOptions): BillingClient {
  // fetch offers no bidirectional streams, so the producer sends BatchRecordUsage calls.
  return createBillingClientOver(browserTransport(options), options, false);
}

function browserTransport(options: BillingClientOptions): Transport {
  const common = { baseUrl: options.baseUrl, interceptors: authInterceptors(options.apiKey) };
  switch (options.protocol ?? "connect") {
    case "grpc":
      throw new Error('protocol "grpc" needs HTTP/2 trailers, which browsers do not expose; use "connect" or "grpc-web"');
    case "grpc-web":
      return createGrpcWebTransport(common);
    case "connect":
      return createConnectTransport({ ...common, useHttpGet: true });
  }
}
