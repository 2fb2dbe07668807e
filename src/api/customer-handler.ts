import type { ServiceImpl } from "@connectrpc/connect";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import type { CustomerDirectory } from "../domain/customer-directory.js";
import { valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { customerMessage } from "./proto-mapping.js";
import { createCustomerRequest, getCustomerRequest, listCustomersRequest } from "./request-schemas.js";
import { validate } from "./request-validation.js";

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
