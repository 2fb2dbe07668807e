import type { ServiceImpl } from "@connectrpc/connect";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { Catalog } from "../domain/catalog.js";
import { valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { meterMessage, priceMessage } from "./proto-mapping.js";
import { createMeterRequest, createPriceRequest, getMeterRequest, listMetersRequest, listPricesRequest } from "./request-schemas.js";
import { validate } from "./request-validation.js";

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
      const { pageSize, pageToken } = validate(listMetersRequest, request);
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
