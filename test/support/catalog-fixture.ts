import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { TallyClients } from "./clients.js";

/**
 * A small catalog every e2e test can start from: "hosting" (SUM, 3 decimals,
 * flat 0.0125 USD), "egress" (SUM, graduated: first 100 free, then 0.09 up to
 * 1000, then 0.07), "calls" (COUNT, whole units, 0.002) and "seats" (MAX, whole units, 12.00), and one
 * USD customer with external_id `externalId`.
 */
export async function createCatalogFixture(clients: TallyClients, externalId = "acme", tag = externalId): Promise<{ customerId: string }> {
  const meters = [
    { key: "hosting", unit: "GB-hour", aggregation: Aggregation.SUM, precision: 3 },
    { key: "egress", unit: "GB", aggregation: Aggregation.SUM, precision: 3 },
    { key: "calls", unit: "call", aggregation: Aggregation.COUNT, wholeUnits: true },
    { key: "seats", unit: "seat", aggregation: Aggregation.MAX, wholeUnits: true },
  ];
  for (const meter of meters) {
    await clients.catalog.createMeter({ requestId: `fixture-meter-${meter.key}`, meter: { ...meter, displayName: meter.key } });
  }
  const prices: [string, [string, string][]][] = [
    ["hosting", [["", "0.0125"]]],
    ["egress", [["100", "0"], ["1000", "0.09"], ["", "0.07"]]],
    ["calls", [["", "0.002"]]],
    ["seats", [["", "12"]]],
  ];
  for (const [meterKey, tiers] of prices) {
    await clients.catalog.createPrice({
      requestId: `fixture-price-${meterKey}`,
      price: { meterKey, currencyCode: "USD", tiers: tiers.map(([upTo, unitAmount]) => ({ upTo, unitAmount })) },
    });
  }
  const { customer } = await clients.customers.createCustomer({
    requestId: `fixture-customer-${tag}`,
    customer: { externalId, displayName: `Customer ${externalId}`, currencyCode: "USD" },
  });
  return { customerId: customer!.id };
}
