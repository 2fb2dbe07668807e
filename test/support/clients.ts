import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccessService } from "../../gen/ts/billing/v1/access_service_pb.js";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { authInterceptors } from "../../clients/typescript/src/auth-interceptor.js";

/** The bootstrap (admin) key of every test server, sent by default by every test client. */
export const TEST_ADMIN_KEY = "tally-test-admin-key";

/** Every way a caller can reach Tally: protocol, encoding and HTTP version. */
export const PROTOCOLS = [
  "grpc",
  "connect-json-h1",
  "connect-binary-h1",
  "connect-json-h2",
  "connect-binary-h2",
  "grpc-web-h1",
  "grpc-web-h2",
] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * A transport of `protocol` to the server at `baseUrl`, sending `apiKey` as
 * a bearer credential ("" for none).
 */
export function transportFor(protocol: Protocol, baseUrl: string, apiKey = TEST_ADMIN_KEY): Transport {
  const interceptors = authInterceptors(apiKey);
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl, interceptors });
    case "connect-json-h1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors });
    case "connect-binary-h1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors });
    case "connect-json-h2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, interceptors });
    case "connect-binary-h2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors });
    case "grpc-web-h1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
    case "grpc-web-h2":
      return createGrpcWebTransport({ baseUrl, httpVersion: "2", interceptors });
  }
}

/** A client for each billing.v1 service over one transport. */
export interface TallyClients {
  customers: Client<typeof CustomerService>;
  catalog: Client<typeof CatalogService>;
  usage: Client<typeof UsageService>;
  billing: Client<typeof BillingService>;
  access: Client<typeof AccessService>;
}

export function clientsFor(transport: Transport): TallyClients {
  const client = <S extends DescService>(service: S) => createClient(service, transport);
  return {
    customers: client(CustomerService),
    catalog: client(CatalogService),
    usage: client(UsageService),
    billing: client(BillingService),
    access: client(AccessService),
  };
}
