import type { ServiceImpl } from "@connectrpc/connect";
import { z } from "zod";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { Catalog } from "../domain/catalog.js";
import { Decimal } from "../domain/decimal.js";
import { valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { aggregationOf, meterMessage, priceMessage } from "./proto-mapping.js";
import {
  billingPeriod,
  currencyCode,
  decimalString,
  meterKey,
  pageSize,
  precision,
  requestId,
  validate,
} from "./request-validation.js";

const createMeterRequest = z.object({
  requestId,
  meter: z.object(
    {
      key: meterKey,
      displayName: z.string().min(1, "is required").max(256, "at most 256 characters"),
      unit: z.string().min(1, "is required").max(64, "at most 64 characters"),
      aggregation: z.number().transform((value, context) => {
        const aggregation = aggregationOf(value);
        if (aggregation === undefined) {
          context.addIssue({ code: "custom", message: "must be AGGREGATION_SUM, AGGREGATION_COUNT or AGGREGATION_MAX" });
          return z.NEVER;
        }
        return aggregation;
      }),
      precision,
    },
    { error: "is required" },
  ),
});

const priceTier = z.object({
  upTo: z.union([z.literal(""), decimalString("up_to")]).transform((text) => (text === "" ? null : Decimal.parse(text)!)),
  unitAmount: decimalString("unit_amount").transform((text) => Decimal.parse(text)!),
});

const createPriceRequest = z.object({
  requestId,
  price: z.object(
    {
      meterKey,
      currencyCode,
      tiers: z.array(priceTier),
      effectivePeriod: z.union([z.literal(""), billingPeriod]),
    },
    { error: "is required" },
  ),
});

// Schemas are built once: zod compiles each one on its first use.
const getMeterRequest = z.object({ key: meterKey });
const listRequest = z.object({ pageSize: pageSize(50, 1000), pageToken: z.string() });
const listPricesRequest = listRequest.extend({ meterKey: z.union([z.literal(""), meterKey]) });

/** billing.v1.CatalogService: proto in, use case, proto out. */
export function createCatalogHandler(catalog: Catalog): ServiceImpl<typeof CatalogService> {
  return {
    async createMeter(request, context) {
      const { requestId, meter } = validate(createMeterRequest, request);
      const created = valueOrThrow(await catalog.createMeter(context.values.get(callerScope), requestId, meter));
      return { meter: meterMessage(created.value), replayed: created.replayed };
    },

    async getMeter(request, context) {
      const { key } = validate(getMeterRequest, request);
      return { meter: meterMessage(valueOrThrow(await catalog.getMeter(context.values.get(callerScope), key))) };
    },

    async listMeters(request, context) {
      const { pageSize, pageToken } = validate(listRequest, request);
      const page = await catalog.listMeters(context.values.get(callerScope), {
        limit: pageSize,
        after: decodePageToken("meters", pageToken),
      });
      return { meters: page.items.map(meterMessage), nextPageToken: encodePageToken("meters", page.nextCursor) };
    },

    async createPrice(request, context) {
      const { requestId, price } = validate(createPriceRequest, request);
      const created = valueOrThrow(await catalog.createPrice(context.values.get(callerScope), requestId, price));
      return { price: priceMessage(created.value), replayed: created.replayed };
    },

    async listPrices(request, context) {
      const { meterKey: key, pageSize, pageToken } = validate(listPricesRequest, request);
      const page = await catalog.listPrices(context.values.get(callerScope), key, {
        limit: pageSize,
        after: decodePageToken("prices", pageToken),
      });
      return { prices: page.items.map(priceMessage), nextPageToken: encodePageToken("prices", page.nextCursor) };
    },
  };
}
