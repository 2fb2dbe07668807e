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

/** The terms of one simulated USD price. */
export interface SimulatedTerms {
  model: SimulatedModel;
  tiers: SimulatedTier[];
  /** Units per package: the package model only. */
  packageSize?: string;
}

/** A meter the simulator creates, with its USD catalog price (and the dimension and customer prices beside it). */
export interface SimulatedMeter extends SimulatedTerms {
  key: string;
  displayName: string;
  unit: string;
  aggregation: "sum" | "count" | "unique_count" | "latest";
  /** Digits allowed after the point in a quantity; 0 = whole units only (created with whole_units). */
  precision: number;
  /** Attribute keys the usage is split by; [] for none. */
  dimensions: string[];
  /** The values each dimension's events pick from. */
  dimensionValues: Record<string, string[]>;
  /** unique_count: the attribute counted, and how many values its events pick from. */
  uniqueAttribute?: { key: string; values: number };
  /** Prices of the meter's usage with these dimension values (more specific than the catalog price). */
  dimensionPrices: (SimulatedTerms & { dimensionValues: Record<string, string> })[];
  /** Prices for one customer (external id), without dimension_values. */
  customerPrices: (SimulatedTerms & { customer: string })[];
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
  /** The credit each customer is granted at setup, which its draft bills must apply (min(total, credit)). */
  creditAmount: string;
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
 * m3 graduated with flat fees, the others flat), the three meters of
 * pricingMeters, and USD customers `sim-<runId>-c<i>`.
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
      dimensions: [],
      dimensionValues: {},
      dimensionPrices: [],
      customerPrices: [],
      ...pricing(index, flat),
    };
  });
  const customers = Array.from({ length: customerCount }, (_, index) => `${prefix}-c${index}`);
  meters.push(...pricingMeters(prefix, customers[0]!));
  return { runId, currencyCode: "USD", minorUnitDigits: 2, meters, customers, unknownMeterKey: `${prefix}-unknown`, creditAmount: "5.00" };
}

/**
 * The meters of issue 18, beside the others: a SUM meter split by region (a
 * graduated catalog price, a volume price for region "eu" and, for the first
 * customer, a price of its own that covers its regions other than "eu": the
 * eu price is more specific), a UNIQUE_COUNT meter of users, and a LATEST
 * gauge.
 */
function pricingMeters(prefix: string, firstCustomer: string): SimulatedMeter[] {
  const plain = { dimensions: [], dimensionValues: {}, dimensionPrices: [], customerPrices: [] };
  return [
    {
      key: `${prefix}-vm`,
      displayName: "Simulated VM hours by region",
      unit: "hour",
      aggregation: "sum",
      precision: 3,
      model: "graduated",
      tiers: GRADUATED_TIERS,
      dimensions: ["region"],
      dimensionValues: { region: ["eu", "us", "ap"] },
      dimensionPrices: [{ dimensionValues: { region: "eu" }, model: "volume", tiers: VOLUME_TIERS }],
      customerPrices: [{ customer: firstCustomer, model: "graduated", tiers: [{ upTo: undefined, unitAmount: "0.009" }] }],
    },
    {
      ...plain,
      key: `${prefix}-users`,
      displayName: "Simulated active users",
      unit: "user",
      aggregation: "unique_count",
      precision: 0,
      model: "graduated",
      tiers: GRADUATED_FEE_TIERS,
      uniqueAttribute: { key: "user", values: 25 },
    },
    { ...plain, key: `${prefix}-gauge`, displayName: "Simulated stored GB (latest)", unit: "GB", aggregation: "latest", precision: 3, model: "graduated", tiers: [{ upTo: undefined, unitAmount: "0.045" }] },
  ];
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

const AGGREGATIONS: Record<SimulatedMeter["aggregation"], Aggregation> = {
  sum: Aggregation.SUM,
  count: Aggregation.COUNT,
  unique_count: Aggregation.UNIQUE_COUNT,
  latest: Aggregation.LATEST,
};

/** A price's terms as CreatePrice takes them. */
function priceTerms(terms: SimulatedTerms) {
  return {
    model: PRICING_MODELS[terms.model],
    tiers: terms.tiers.map((tier) => ({ upTo: tier.upTo ?? "", unitAmount: tier.unitAmount, flatAmount: tier.flatAmount ?? "" })),
    packageSize: terms.packageSize ?? "",
  };
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
        aggregation: AGGREGATIONS[meter.aggregation],
        precision: meter.precision,
        wholeUnits: meter.precision === 0,
        uniqueAttribute: meter.uniqueAttribute?.key ?? "",
        dimensions: meter.dimensions,
      },
    });
    await client.createPrice({
      requestId: setupId(`price-${meter.key}`),
      price: { meterKey: meter.key, currencyCode: catalog.currencyCode, ...priceTerms(meter) },
    });
    for (const [index, price] of meter.dimensionPrices.entries()) {
      await client.createPrice({
        requestId: setupId(`price-${meter.key}-d${index}`),
        price: { meterKey: meter.key, currencyCode: catalog.currencyCode, dimensionValues: price.dimensionValues, ...priceTerms(price) },
      });
    }
  });
  await runConcurrently(catalog.customers, concurrency, async (externalId, index) => {
    await client.createCustomer({
      requestId: setupId(`customer-${externalId}`),
      customer: { externalId, displayName: `Simulated customer ${index}`, currencyCode: catalog.currencyCode },
    });
    await client.grantCredit({
      requestId: setupId(`credit-${externalId}`),
      grant: { customerId: externalId, amount: catalog.creditAmount, reason: "simulated credit" },
    });
    const { bill } = await client.getCurrentBill({ customerId: externalId });
    if ((bill?.lines.length ?? 0) > 0) {
      throw new Error(`run id "${catalog.runId}" was used before: customer ${externalId} already has usage this period; choose another --run-id or leave it out`);
    }
  });
  // Customer prices name their customer by external id, so they come once the customers exist.
  for (const meter of catalog.meters) {
    for (const [index, price] of meter.customerPrices.entries()) {
      await client.createPrice({
        requestId: setupId(`price-${meter.key}-c${index}`),
        price: { meterKey: meter.key, currencyCode: catalog.currencyCode, customerId: price.customer, ...priceTerms(price) },
      });
    }
  }
}
