import type { BillingClient } from "../../clients/typescript/src/node.js";
import { Aggregation, PricingModel } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { runConcurrently } from "./concurrently.js";

/** One band of a simulated price; `upTo` undefined is the unbounded last tier. */
export interface SimulatedTier {
  upTo: string | undefined;
  unitAmount: string;
  /** The tier's flat fee, if any. */
  flatAmount?: string;
}

/** How a simulated price's tiers price a quantity (DESIGN.md, "Prices"). */
export type SimulatedModel = "graduated" | "volume" | "package";

/** A meter the simulator creates, with the one USD price it gives it. */
export interface SimulatedMeter {
  key: string;
  displayName: string;
  unit: string;
  aggregation: "sum" | "count";
  /** Digits allowed after the point in a quantity; 0 = whole units only (created with whole_units). */
  precision: number;
  model: SimulatedModel;
  tiers: SimulatedTier[];
  /** Units per package: the package model only. */
  packageSize?: string;
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

/** The second meter's price (COUNT): 0.0125 per started 10 requests. */
const PACKAGE_PRICE = { packageSize: "10", tiers: [{ upTo: undefined, unitAmount: "0.0125" }] };
/** The third meter's volume price (SUM): flat fees on the upper tiers, bounds its sums cross. */
const VOLUME_TIERS: SimulatedTier[] = [
  { upTo: "50", unitAmount: "0.0125" },
  { upTo: "500", unitAmount: "0.01", flatAmount: "0.505" },
  { upTo: undefined, unitAmount: "0.0075", flatAmount: "2.5" },
];
/** The fourth meter's graduated price (COUNT) with a fee for using it at all and another past 5 requests. */
const GRADUATED_FEE_TIERS: SimulatedTier[] = [
  { upTo: "5", unitAmount: "0", flatAmount: "0.25" },
  { upTo: undefined, unitAmount: "0.00125", flatAmount: "0.105" },
];

/**
 * The run's catalog: meters `sim-<runId>-m<i>` (even: SUM with 3 decimals,
 * odd: COUNT; m0 with graduated tiers, m1 priced by packages, m2 by volume,
 * m3 graduated with flat fees, the others flat) and USD customers
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
      ...pricing(index, flat),
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

/** Meter `index`'s price: one of each model on the first four meters, flat on the rest. */
function pricing(index: number, flat: string): Pick<SimulatedMeter, "model" | "tiers" | "packageSize"> {
  switch (index) {
    case 0:
      return { model: "graduated", tiers: GRADUATED_TIERS };
    case 1:
      return { model: "package", ...PACKAGE_PRICE };
    case 2:
      return { model: "volume", tiers: VOLUME_TIERS };
    case 3:
      return { model: "graduated", tiers: GRADUATED_FEE_TIERS };
    default:
      return { model: "graduated", tiers: [{ upTo: undefined, unitAmount: flat }] };
  }
}

const PRICING_MODELS: Record<SimulatedModel, PricingModel> = {
  graduated: PricingModel.GRADUATED,
  volume: PricingModel.VOLUME,
  package: PricingModel.PACKAGE,
};

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
        model: PRICING_MODELS[meter.model],
        tiers: meter.tiers.map((tier) => ({ upTo: tier.upTo ?? "", unitAmount: tier.unitAmount, flatAmount: tier.flatAmount ?? "" })),
        packageSize: meter.packageSize ?? "",
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
