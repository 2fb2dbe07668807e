import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BillingService } from "../gen/ts/billing/v1/billing_service_pb.js";
import { Aggregation, CatalogService, PricingModel } from "../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../gen/ts/billing/v1/customer_service_pb.js";
import { UsageService } from "../gen/ts/billing/v1/usage_service_pb.js";
import { authInterceptors } from "../clients/typescript/src/auth-interceptor.js";
import { BENCH_KEY } from "./load-plan.js";

/** The meter every benchmark event is recorded against. */
export const BENCH_METER_KEY = "bench-requests";

/** A SUM meter with two dimensions, priced per region: the dimensioned figures' meter. */
export const BENCH_DIMENSION_METER_KEY = "bench-vm-hours";
/** A UNIQUE_COUNT meter (of attributes.user): the dimensioned bill's distinct-count line. */
export const BENCH_UNIQUE_METER_KEY = "bench-active-users";
const REGIONS = ["ap-south", "eu-central", "eu-west", "us-east", "us-west"];
const SIZES = ["large", "medium", "small", "xlarge"];
/** The 20 combinations of the dimensioned meter's values (5 regions x 4 sizes), as event attributes. */
export const BENCH_COMBINATIONS: Record<string, string>[] = REGIONS.flatMap((region) => SIZES.map((size) => ({ region, size })));

/** What the benchmark created in a fresh Tally through its API. */
export interface BenchCatalog {
  meterKey: string;
  /** The Tally ids of the customers the ingest figures spread their events over. */
  customerIds: string[];
  /** The Tally id of the customer whose current period holds the bulk-loaded events. */
  heavyCustomerId: string;
  /** The Tally id of the customer whose current period holds the bulk-loaded dimensioned and distinct events. */
  dimensionCustomerId: string;
  /**
   * As many customers again, each with a usage limit on the meter far above
   * anything a run records (so nothing is refused): the same ingest against
   * them measures what the limit check costs.
   */
  limitedCustomerIds: string[];
}

/** The limit of the limited customers: 20 digits, never reached by a run. */
export const BENCH_USAGE_LIMIT = "99999999999999999999";

/** A gRPC client of the setup services over one HTTP/2 connection, closed by `close()`. */
function setupClients(url: string) {
  const sessionManager = new Http2SessionManager(url);
  const transport = createGrpcTransport({ baseUrl: url, sessionManager, interceptors: authInterceptors(BENCH_KEY) });
  return {
    catalog: createClient(CatalogService, transport),
    customers: createClient(CustomerService, transport),
    billing: createClient(BillingService, transport),
    usage: createClient(UsageService, transport),
    close: () => sessionManager.abort(),
  };
}

/**
 * Creates the catalog through the API, as an operator would: one SUM meter
 * with three decimals, a graduated USD price for it (two tiers, so a bill
 * does real tier work), `customerCount` customers for the ingest figures,
 * one more for the bill figure, and `customerCount` with a usage limit.
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
    // The dimensioned figures: a SUM meter split by region and size, a catalog price, a volume price per
    // region and a package price for one combination; a UNIQUE_COUNT meter of users with a graduated price.
    await clients.catalog.createMeter({
      requestId: "bench-meter-vm",
      meter: { key: BENCH_DIMENSION_METER_KEY, displayName: "Benchmark VM hours", unit: "hour", aggregation: Aggregation.SUM, precision: 3, dimensions: ["region", "size"] },
    });
    await clients.catalog.createPrice({
      requestId: "bench-price-vm",
      price: { meterKey: BENCH_DIMENSION_METER_KEY, currencyCode: "USD", tiers: [{ upTo: "10000", unitAmount: "0.05" }, { upTo: "", unitAmount: "0.04" }] },
    });
    for (const region of REGIONS) {
      await clients.catalog.createPrice({
        requestId: `bench-price-vm-${region}`,
        price: {
          meterKey: BENCH_DIMENSION_METER_KEY,
          currencyCode: "USD",
          model: PricingModel.VOLUME,
          dimensionValues: { region },
          tiers: [{ upTo: "10000", unitAmount: "0.06" }, { upTo: "", unitAmount: "0.045", flatAmount: "10" }],
        },
      });
    }
    await clients.catalog.createPrice({
      requestId: "bench-price-vm-xlarge",
      price: {
        meterKey: BENCH_DIMENSION_METER_KEY,
        currencyCode: "USD",
        model: PricingModel.PACKAGE,
        packageSize: "100",
        dimensionValues: { region: "us-east", size: "xlarge" },
        tiers: [{ unitAmount: "4.5" }],
      },
    });
    await clients.catalog.createMeter({
      requestId: "bench-meter-users",
      meter: { key: BENCH_UNIQUE_METER_KEY, displayName: "Benchmark active users", unit: "user", aggregation: Aggregation.UNIQUE_COUNT, wholeUnits: true, uniqueAttribute: "user" },
    });
    await clients.catalog.createPrice({
      requestId: "bench-price-users",
      price: { meterKey: BENCH_UNIQUE_METER_KEY, currencyCode: "USD", tiers: [{ upTo: "1000", unitAmount: "0", flatAmount: "50" }, { upTo: "", unitAmount: "0.02" }] },
    });
    const customerIds: string[] = [];
    for (let index = 0; index <= customerCount + 1; index++) {
      const name = index === customerCount + 1 ? "bench-dimensions" : index === customerCount ? "bench-heavy" : `bench-${String(index).padStart(3, "0")}`;
      const { customer } = await clients.customers.createCustomer({
        requestId: `bench-customer-${name}`,
        customer: { externalId: name, displayName: `Benchmark customer ${name}`, currencyCode: "USD" },
      });
      customerIds.push(customer!.id);
    }
    const dimensionCustomerId = customerIds.pop()!;
    const heavyCustomerId = customerIds.pop()!;
    const limitedCustomerIds: string[] = [];
    for (let index = 0; index < customerCount; index++) {
      const name = `bench-limited-${String(index).padStart(3, "0")}`;
      const { customer } = await clients.customers.createCustomer({
        requestId: `bench-customer-${name}`,
        customer: { externalId: name, displayName: `Benchmark customer ${name}`, currencyCode: "USD" },
      });
      await clients.usage.setUsageLimit({ requestId: `bench-limit-${name}`, limit: { customerId: customer!.id, meterKey: BENCH_METER_KEY, limit: BENCH_USAGE_LIMIT } });
      limitedCustomerIds.push(customer!.id);
    }
    return { meterKey: BENCH_METER_KEY, customerIds, heavyCustomerId, dimensionCustomerId, limitedCustomerIds };
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

/** The dimension customer's current bill: its lines' meter, dimensions and quantity. */
export async function currentBillLines(url: string, customerId: string): Promise<{ meterKey: string; dimensions: Record<string, string>; quantity: string }[]> {
  const clients = setupClients(url);
  try {
    const { bill } = await clients.billing.getCurrentBill({ customerId });
    return (bill?.lines ?? []).map((line) => ({ meterKey: line.meterKey, dimensions: line.dimensions, quantity: line.quantity }));
  } finally {
    clients.close();
  }
}
