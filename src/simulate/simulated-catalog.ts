import type { BillingClient } from "../../clients/typescript/src/node.js";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { runConcurrently } from "./concurrently.js";

/** One band of a simulated price; `upTo` undefined is the unbounded last tier. */
export interface SimulatedTier {
  upTo: string | undefined;
  unitAmount: string;
}

/** A meter the simulator creates, with the one USD price it gives it. */
export interface SimulatedMeter {
  key: string;
  displayName: string;
  unit: string;
  aggregation: "sum" | "count";
  /** Digits allowed after the point in a quantity; 0 = whole units only (created with whole_units). */
  precision: number;
  tiers: SimulatedTier[];
}

/**
 * Everything a run creates, named after its run id so that runs never share a
 * customer, a meter or a request id, and the bill check knows what to expect.
 */
export interface SimulatedCatalog {
  runId: string;
  /** The currency of every customer and price. */
  currencyCode: string;
  /** Digits of the currency's minor unit: where a line amount is rounded. */
  minorUnitDigits: number;
  meters: SimulatedMeter[];
  /** The customers' external ids, which every call uses in place of Tally's ids. */
  customers: string[];
  /** A meter key of the run's namespace that is never created, for bad input. */
  unknownMeterKey: string;
}

/** Per-unit prices with enough digits that rounding each line to cents matters. */
const FLAT_SUM_PRICES = ["0.0035", "0.045", "0.0125"];
const FLAT_COUNT_PRICES = ["0.0005", "0.00125", "0.002"];
/** The first meter's graduated price: its sums cross both bounds within a few hundred events. */
const GRADUATED_TIERS: SimulatedTier[] = [
  { upTo: "100", unitAmount: "0.0125" },
  { upTo: "1000", unitAmount: "0.01" },
  { upTo: undefined, unitAmount: "0.0075" },
];

/**
 * The run's catalog: meters `sim-<runId>-m<i>` (even: SUM with 3 decimals,
 * odd: COUNT; m0 with graduated tiers, the others flat) and USD customers
 * `sim-<runId>-c<i>`.
 */
export function planCatalog(runId: string, meterCount: number, customerCount: number): SimulatedCatalog {
  const prefix = `sim-${runId}`;
  const meters = Array.from({ length: meterCount }, (_, index): SimulatedMeter => {
    const sum = index % 2 === 0;
    const flat = (sum ? FLAT_SUM_PRICES : FLAT_COUNT_PRICES)[Math.floor(index / 2) % 3]!;
    return {
      key: `${prefix}-m${index}`,
      displayName: `Simulated ${sum ? "storage" : "requests"} ${index}`,
      unit: sum ? "GB-hour" : "request",
      aggregation: sum ? "sum" : "count",
      precision: sum ? 3 : 0,
      tiers: index === 0 ? GRADUATED_TIERS : [{ upTo: undefined, unitAmount: flat }],
    };
  });
  return {
    runId,
    currencyCode: "USD",
    minorUnitDigits: 2,
    meters,
    customers: Array.from({ length: customerCount }, (_, index) => `${prefix}-c${index}`),
    unknownMeterKey: `${prefix}-unknown`,
  };
}

/**
 * Creates the catalog through the API with request ids derived from the run
 * id, so a retried setup call replays instead of failing. A run id whose
 * customers already have usage this period is refused: their bills would
 * carry the earlier run's events too, and could not be checked against this
 * run's alone.
 */
export async function setUpCatalog(client: BillingClient, catalog: SimulatedCatalog, concurrency: number): Promise<void> {
  const setupId = (what: string) => `sim-${catalog.runId}-setup-${what}`;
  await runConcurrently(catalog.meters, concurrency, async (meter) => {
    await client.createMeter({
      requestId: setupId(`meter-${meter.key}`),
      meter: {
        key: meter.key,
        displayName: meter.displayName,
        unit: meter.unit,
        aggregation: meter.aggregation === "sum" ? Aggregation.SUM : Aggregation.COUNT,
        precision: meter.precision,
        wholeUnits: meter.precision === 0,
      },
    });
    await client.createPrice({
      requestId: setupId(`price-${meter.key}`),
      price: {
        meterKey: meter.key,
        currencyCode: catalog.currencyCode,
        tiers: meter.tiers.map((tier) => ({ upTo: tier.upTo ?? "", unitAmount: tier.unitAmount })),
      },
    });
  });
  await runConcurrently(catalog.customers, concurrency, async (externalId, index) => {
    await client.createCustomer({
      requestId: setupId(`customer-${externalId}`),
      customer: { externalId, displayName: `Simulated customer ${index}`, currencyCode: catalog.currencyCode },
    });
    const { bill } = await client.getCurrentBill({ customerId: externalId });
    if ((bill?.lines.length ?? 0) > 0) {
      throw new Error(`run id "${catalog.runId}" was used before: customer ${externalId} already has usage this period; choose another --run-id or leave it out`);
    }
  });
}
