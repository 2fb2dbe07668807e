import type { ServiceImpl } from "@connectrpc/connect";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { isBillingPeriod } from "../domain/billing-period.js";
import type { Billing } from "../domain/billing.js";
import { FailureError, failure, valueOrThrow } from "../domain/failure.js";
import { callerScope } from "./caller-scope.js";
import type { FeedHandlers } from "./feed-handler.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { billMessage, creditGrantMessage } from "./proto-mapping.js";
import { getBillRequest, getCurrentBillRequest, grantCreditRequest, listBillsRequest, listCreditGrantsRequest } from "./request-schemas.js";
import { validate } from "./request-validation.js";

/** billing.v1.BillingService: proto in, use case, proto out (bills as typed literals, not through create()). */
export function createBillingHandler(billing: Billing, feed: FeedHandlers): ServiceImpl<typeof BillingService> {
  const { credits } = billing;
  return {
    async getCurrentBill(request, context) {
      const { customerId } = validate(getCurrentBillRequest, request);
      const bill = await billMessage(valueOrThrow(await billing.getCurrentBill(context.values.get(callerScope), customerId)));
      return { $typeName: "billing.v1.GetCurrentBillResponse", bill };
    },

    async getBill(request, context) {
      const { customerId, period, revision } = validate(getBillRequest, request);
      const bill = await billMessage(valueOrThrow(await billing.getBill(context.values.get(callerScope), customerId, period, revision)));
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
    async grantCredit(request, context) {
      const { requestId, grant } = validate(grantCreditRequest, request);
      const result = valueOrThrow(
        await credits.grantCredit(context.values.get(callerScope), requestId, {
          customerRef: grant.customerId,
          amount: grant.amount,
          currencyCode: grant.currencyCode,
          expireTime: grant.expireTime ?? null,
          reason: grant.reason,
        }),
      );
      return { grant: creditGrantMessage(result.value), replayed: result.replayed };
    },

    async listCreditGrants(request, context) {
      const { customerId, pageSize, pageToken } = validate(listCreditGrantsRequest, request);
      const page = valueOrThrow(
        await credits.listCreditGrants(context.values.get(callerScope), customerId, {
          limit: pageSize,
          after: decodePageToken("credit grants", pageToken),
        }),
      );
      return { grants: page.items.map(creditGrantMessage), nextPageToken: encodePageToken("credit grants", page.nextCursor) };
    },

    createAlert: feed.createAlert,
    watchAlerts: feed.watchAlerts,
  };
}
