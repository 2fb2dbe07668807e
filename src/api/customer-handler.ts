import type { ServiceImpl } from "@connectrpc/connect";
import { z } from "zod";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import type { CustomerDirectory } from "../domain/customer-directory.js";
import { valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { customerMessage } from "./proto-mapping.js";
import { currencyCode, customerReference, pageSize, requestId, validate } from "./request-validation.js";

const createCustomerRequest = z.object({
  requestId,
  customer: z.object(
    {
      externalId: z.string().max(128, "at most 128 characters"),
      displayName: z.string().min(1, "is required").max(256, "at most 256 characters"),
      currencyCode,
    },
    { error: "is required" },
  ),
});

// Schemas are built once: zod compiles each one on its first use.
const getCustomerRequest = z.object({ id: customerReference });

const listCustomersRequest = z.object({
  pageSize: pageSize(50, 1000),
  pageToken: z.string(),
  query: z.string().max(128, "at most 128 characters"),
});

/** billing.v1.CustomerService: proto in, use case, proto out. */
export function createCustomerHandler(directory: CustomerDirectory): ServiceImpl<typeof CustomerService> {
  return {
    async createCustomer(request, context) {
      const { requestId, customer } = validate(createCustomerRequest, request);
      const created = valueOrThrow(await directory.createCustomer(context.values.get(callerScope), requestId, customer));
      return { customer: customerMessage(created.value), replayed: created.replayed };
    },

    async getCustomer(request, context) {
      const { id } = validate(getCustomerRequest, request);
      return { customer: customerMessage(valueOrThrow(await directory.getCustomer(context.values.get(callerScope), id))) };
    },

    async listCustomers(request, context) {
      const { pageSize, pageToken, query } = validate(listCustomersRequest, request);
      const page = await directory.listCustomers(context.values.get(callerScope), query, {
        limit: pageSize,
        after: decodePageToken("customers", pageToken),
      });
      return { customers: page.items.map(customerMessage), nextPageToken: encodePageToken("customers", page.nextCursor) };
    },
  };
}
