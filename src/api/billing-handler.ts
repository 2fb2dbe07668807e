import type { ServiceImpl } from "@connectrpc/connect";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { isBillingPeriod } from "../domain/billing-period.js";
import type { Billing } from "../domain/billing.js";
import { FailureError, failure, valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import type { FeedHandlers } from "./feed-handler.js";
import { notYetImplemented } from "./not-yet-implemented.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { billMessage } from "./proto-mapping.js";
import { getBillRequest, getCurrentBillRequest, listBillsRequest } from "./request-schemas.js";
import { validate } from "./request-validation.js";

/** billing.v1.BillingService: proto in, use case, proto out (bills as typed literals, not through create()). */
export function createBillingHandler(billing: Billing, feed: FeedHandlers): ServiceImpl<typeof BillingService> {
  return {
    async getCurrentBill(request, context) {
      const { customerId } = validate(getCurrentBillRequest, request);
      const bill = await billMessage(valueOrThrow(await billing.getCurrentBill(context.values.get(callerScope), customerId)));
      return { $typeName: "billing.v1.GetCurrentBillResponse", bill };
    },

    async getBill(request, context) {
      const { customerId, period } = validate(getBillRequest, request);
      const bill = await billMessage(valueOrThrow(await billing.getBill(context.values.get(callerScope), customerId, period)));
      return { $typeName: "billing.v1.GetBillResponse", bill };
    },

    async listBills(request, context) {
      const { customerId, pageSize, pageToken } = validate(listBillsRequest, request);
      const beforePeriod = decodePageToken("bills", pageToken);
      if (beforePeriod !== null && !isBillingPeriod(beforePeriod)) {
        throw new FailureError(failure("INVALID_PAGE_TOKEN", "page_token is not one this bills listing handed out", "page_token"));
      }
      const page = valueOrThrow(
        await billing.listBills(context.values.get(callerScope), customerId, { limit: pageSize, beforePeriod }),
      );
      const bills = [];
      for (const bill of page.bills) bills.push(await billMessage(bill));
      return { bills, nextPageToken: encodePageToken("bills", page.nextBeforePeriod) };
    },

    // Contract added for issue 19; the implementations land with it.
    grantCredit: notYetImplemented,
    listCreditGrants: notYetImplemented,
    createAlert: feed.createAlert,
    watchAlerts: feed.watchAlerts,
  };
}
