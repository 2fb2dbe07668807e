import { periodOf } from "./billing-period.js";
import type { Clock } from "./clock.js";
import { type CreateResult, settleCreate } from "./create-result.js";
import { customerNotFound } from "./customer-directory.js";
import { type Failure, failure } from "./failure.js";
import { newId } from "./ids.js";
import { type Meter, type MeterDraft, meterDifferences, meterNotFound } from "./meter.js";
import { checkPricingTerms, type Price, type PriceDraft, priceDifferences } from "./price.js";
import type { Page, PageQuery, Scope, Store } from "./store.js";
import { checkPeriodOpen, type TimeRules } from "./time-rules.js";

/** What the catalog needs. */
export interface CatalogOptions {
  store: Store;
  clock: Clock;
  timeRules: TimeRules;
}

/** The use cases of meters and prices. */
export type Catalog = ReturnType<typeof createCatalog>;

/** Defines meters and versions their prices. */
export function createCatalog({ store, clock, timeRules }: CatalogOptions) {
  return {
    async createMeter(scope: Scope, requestId: string, draft: MeterDraft): Promise<CreateResult<Meter>> {
      return settleCreate(
        await store.createMeter(scope, requestId, { ...draft, createTime: clock.now() }),
        requestId,
        (stored) => meterDifferences(stored, draft),
        () => failure("METER_KEY_TAKEN", `meter "${draft.key}" already exists`, "meter.key"),
        "meters",
      );
    },

    async getMeter(scope: Scope, key: string): Promise<Meter | Failure> {
      return (await store.findMeter(scope, key)) ?? meterNotFound(key, "key");
    },

    listMeters(scope: Scope, page: PageQuery): Promise<Page<Meter>> {
      return store.listMeters(scope, page);
    },

    /**
     * Adds a price version. It applies from the start of its effective period
     * (default: the current one); a finalized period cannot be repriced, so
     * finalized bills stay reproducible. Its dimension_values must name the
     * meter's dimensions; a customer price names the customer by Tally id or
     * external_id and is stored with the Tally id.
     */
    async createPrice(scope: Scope, requestId: string, draft: PriceDraft): Promise<CreateResult<Price>> {
      const termsFailure = checkPricingTerms(draft);
      if (termsFailure !== undefined) return termsFailure;
      const meter = await store.findMeter(scope, draft.meterKey);
      if (meter === undefined) return meterNotFound(draft.meterKey, "price.meter_key");
      for (const dimension of Object.keys(draft.dimensionValues)) {
        if (!meter.dimensions.includes(dimension)) {
          const named = meter.dimensions.length === 0 ? "has no dimensions" : `has the dimensions ${meter.dimensions.map((key) => `"${key}"`).join(", ")}`;
          return failure("INVALID_FIELD", `dimension_values names "${dimension}", but meter "${meter.key}" ${named}`, "price.dimension_values");
        }
      }
      let customerId = "";
      if (draft.customerId !== "") {
        const customer = await store.findCustomer(scope, draft.customerId);
        if (customer === undefined) return customerNotFound(draft.customerId, "price.customer_id");
        // A customer is billed in its own currency only: a price in another would never apply.
        if (draft.currencyCode !== customer.currencyCode) {
          return failure(
            "INVALID_FIELD",
            `customer "${draft.customerId}" is billed in ${customer.currencyCode}, so its own price must be in ${customer.currencyCode}, not ${draft.currencyCode}`,
            "price.currency_code",
          );
        }
        customerId = customer.id;
      }
      const now = clock.now();
      const effectivePeriod = draft.effectivePeriod === "" ? periodOf(now) : draft.effectivePeriod;
      const closed = checkPeriodOpen(effectivePeriod, now, timeRules, "price.effective_period");
      if (closed !== undefined) return closed;
      return settleCreate(
        await store.createPrice(scope, requestId, { ...draft, customerId, id: newId("price"), effectivePeriod, createTime: now }),
        requestId,
        (stored) => priceDifferences(stored, { ...draft, customerId }),
        () => {
          throw new Error("prices have no unique field but their request_id");
        },
        "prices",
      );
    },

    listPrices(scope: Scope, meterKey: string, page: PageQuery): Promise<Page<Price>> {
      return store.listPrices(scope, meterKey, page);
    },
  };
}
