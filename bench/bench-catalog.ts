import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BillingService } from "../gen/ts/billing/v1/billing_service_pb.js";
import { Aggregation, CatalogService } from "../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../gen/ts/billing/v1/customer_service_pb.js";
import { authInterceptors } from "../clients/typescript/src/auth-interceptor.js";
import { BENCH_KEY } from "./load-plan.js";

/** The meter every benchmark event is recorded against. */
export const BENCH_METER_KEY = "bench-requests";

/** What the benchmark created in a fresh Tally through its API. */
export interface BenchCatalog {
  meterKey: string;
  /** The Tally ids of the customers the ingest figures spread their events over. */
  customerIds: string[];
  /** The Tally id of the customer whose current period holds the bulk-loaded events. */
  heavyCustomerId: string;
}

/** A gRPC client of the setup services over one HTTP/2 connection, closed by `close()`. */
function setupClients(url: string) {
  const sessionManager = new Http2SessionManager(url);
  const transport = createGrpcTransport({ baseUrl: url, sessionManager, interceptors: authInterceptors(BENCH_KEY) });
  return {
    catalog: createClient(CatalogService, transport),
    customers: createClient(CustomerService, transport),
    billing: createClient(BillingService, transport),
    close: () => sessionManager.abort(),
  };
}

/**
 * Creates the catalog through the API, as an operator would: one SUM meter
 * with three decimals, a graduated USD price for it (two tiers, so a bill
 * does real tier work), `customerCount` customers for the ingest figures and
 * one more for the bill figure.
 */
export async function createBenchCatalog(url: string, customerCount: number): Promise<BenchCatalog> {
  const clients = setupClients(url);
  try {
    await clients.catalog.createMeter({
      requestId: "bench-meter",
      meter: { key: BENCH_METER_KEY, displayName: "Benchmark requests", unit: "request", aggregation: Aggregation.SUM, precision: 3 },
    });
    await clients.catalog.createPrice({
      requestId: "bench-price",
      price: {
        meterKey: BENCH_METER_KEY,
        currencyCode: "USD",
        tiers: [
          { upTo: "100000", unitAmount: "0.001" },
          { upTo: "", unitAmount: "0.0005" },
        ],
      },
    });
    const customerIds: string[] = [];
    for (let index = 0; index <= customerCount; index++) {
      const name = index === customerCount ? "bench-heavy" : `bench-${String(index).padStart(3, "0")}`;
      const { customer } = await clients.customers.createCustomer({
        requestId: `bench-customer-${name}`,
        customer: { externalId: name, displayName: `Benchmark customer ${name}`, currencyCode: "USD" },
      });
      customerIds.push(customer!.id);
    }
    const heavyCustomerId = customerIds.pop()!;
    return { meterKey: BENCH_METER_KEY, customerIds, heavyCustomerId };
  } finally {
    clients.close();
  }
}

/** The current bill's quantity on the benchmark meter for `customerId` ("" when the bill has no such line). */
export async function currentBillQuantity(url: string, customerId: string): Promise<string> {
  const clients = setupClients(url);
  try {
    const { bill } = await clients.billing.getCurrentBill({ customerId });
    return bill?.lines.find((line) => line.meterKey === BENCH_METER_KEY)?.quantity ?? "";
  } finally {
    clients.close();
  }
}
