import { periodOf, periodStart } from "./domain/billing-period.js";
import type { Catalog } from "./domain/catalog.js";
import type { Clock } from "./domain/clock.js";
import type { CustomerDirectory } from "./domain/customer-directory.js";
import { Decimal } from "./domain/decimal.js";
import { valueOrThrow } from "./domain/failure.js";
import type { MeterDraft } from "./domain/meter.js";
import { DEFAULT_SCOPE } from "./domain/store.js";
import type { UsageLedger, UsageRequest } from "./domain/usage-ledger.js";

// precision 0: whole units only (a domain MeterDraft's precision is the digits it allows).
const METERS: MeterDraft[] = [
  { key: "database-hosting", displayName: "Database hosting", unit: "GB-hour", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [] },
  { key: "api-requests", displayName: "API requests", unit: "request", aggregation: "count", precision: 0, uniqueAttribute: "", dimensions: [] },
  { key: "egress", displayName: "Network egress", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [] },
  { key: "seats", displayName: "Peak seats", unit: "seat", aggregation: "max", precision: 0, uniqueAttribute: "", dimensions: [] },
];

/** [meter, currency, [up_to, unit_amount][]]: "egress" and "api-requests" have graduated tiers. */
const PRICES: [string, string, [string, string][]][] = [
  ["database-hosting", "USD", [["", "0.0125"]]],
  ["api-requests", "USD", [["1000", "0.002"], ["10000", "0.0015"], ["", "0.001"]]],
  ["egress", "USD", [["100", "0"], ["1000", "0.09"], ["", "0.07"]]],
  ["seats", "USD", [["", "12"]]],
  ["database-hosting", "EUR", [["", "0.0115"]]],
  ["egress", "EUR", [["100", "0"], ["", "0.08"]]],
];

const CUSTOMERS = [
  { externalId: "acme", displayName: "Acme Corporation", currencyCode: "USD" },
  { externalId: "globex", displayName: "Globex", currencyCode: "USD" },
  { externalId: "initech", displayName: "Initech GmbH", currencyCode: "EUR" },
];

/** What the demo seeded, for the banner. */
export interface DemoSeed {
  seeded: boolean;
  customerIds: string[];
}

/**
 * Seeds a demo catalog, three customers and a month's usage so far, through
 * the same use cases the API uses, on first start only (an empty catalog).
 */
export async function seedDemo(
  services: { catalog: Catalog; directory: CustomerDirectory; ledger: UsageLedger },
  clock: Clock,
): Promise<DemoSeed> {
  const scope = DEFAULT_SCOPE;
  const { catalog, directory, ledger } = services;
  if ((await catalog.listMeters(scope, { limit: 1, after: null })).items.length > 0) {
    const customers = await directory.listCustomers(scope, "", { limit: 10, after: null });
    return { seeded: false, customerIds: customers.items.map((customer) => customer.externalId || customer.id) };
  }
  for (const meter of METERS) valueOrThrow(await catalog.createMeter(scope, `demo-meter-${meter.key}`, meter));
  for (const [meterKey, currencyCode, tiers] of PRICES) {
    valueOrThrow(
      await catalog.createPrice(scope, `demo-price-${meterKey}-${currencyCode}`, {
        meterKey,
        currencyCode,
        dimensionValues: {},
        customerId: "",
        effectivePeriod: "",
        model: "graduated",
        tiers: tiers.map(([upTo, unitAmount]) => ({
          upTo: upTo === "" ? null : Decimal.parse(upTo)!,
          unitAmount: Decimal.parse(unitAmount)!,
          flatAmount: null,
        })),
        packageSize: null,
      }),
    );
  }
  const now = clock.now();
  const start = periodStart(periodOf(now));
  for (const [index, customer] of CUSTOMERS.entries()) {
    valueOrThrow(await directory.createCustomer(scope, `demo-customer-${customer.externalId}`, customer));
    // Usage spread evenly from the start of the month until now, in one batch.
    const events = 24 + index * 12;
    const requests: UsageRequest[] = [];
    for (let event = 0; event < events; event++) {
      const eventTime = start + Math.floor(((now - start) * event) / events);
      const usage: [string, string][] = [
        ["database-hosting", (((event * 37) % 50) + 10.125).toFixed(3)],
        ["api-requests", "1"],
        ["egress", (((event * 13) % 40) + index * 7.5).toFixed(3)],
        ["seats", String(3 + ((event * 7) % (5 + index)))],
      ];
      for (const [meterKey, quantity] of usage) {
        requests.push({
          requestId: `demo-${customer.externalId}-${meterKey}-${event}`,
          customerRef: customer.externalId,
          meterKey,
          quantity,
          eventTime,
          attributes: { region: index % 2 === 0 ? "eu-west-1" : "us-east-1" },
        });
      }
    }
    valueOrThrow(await ledger.recordBatch(scope, requests, true));
  }
  return { seeded: true, customerIds: CUSTOMERS.map((customer) => customer.externalId) };
}
