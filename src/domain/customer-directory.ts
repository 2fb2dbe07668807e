import type { Clock } from "./clock.js";
import { type Customer, type CustomerDraft, customerDifferences } from "./customer.js";
import { type CreateResult, settleCreate } from "./create-result.js";
import { type Failure, failure } from "./failure.js";
import { newId } from "./ids.js";
import type { Page, PageQuery, Scope, Store } from "./store.js";

/** What the customer directory needs. */
export interface CustomerDirectoryOptions {
  store: Store;
  clock: Clock;
}

/** The use cases of customers. */
export type CustomerDirectory = ReturnType<typeof createCustomerDirectory>;

/** Creates, finds and lists customers. */
export function createCustomerDirectory({ store, clock }: CustomerDirectoryOptions) {
  return {
    async createCustomer(scope: Scope, requestId: string, draft: CustomerDraft): Promise<CreateResult<Customer>> {
      const customer: Customer = { id: newId("cus"), ...draft, createTime: clock.now() };
      return settleCreate(
        await store.createCustomer(scope, requestId, customer),
        requestId,
        (stored) => customerDifferences(stored, draft),
        () => failure("EXTERNAL_ID_TAKEN", `another customer already has external_id "${draft.externalId}"`, "customer.external_id"),
        "customers",
      );
    },

    /** A customer by Tally id or external_id. */
    async getCustomer(scope: Scope, idOrExternalId: string): Promise<Customer | Failure> {
      return (await store.findCustomer(scope, idOrExternalId)) ?? customerNotFound(idOrExternalId);
    },

    listCustomers(scope: Scope, text: string, page: PageQuery): Promise<Page<Customer>> {
      return store.listCustomers(scope, text, page);
    },
  };
}

/** CUSTOMER_NOT_FOUND for a reference, at the request's `field`. */
export function customerNotFound(reference: string, field = "id"): Failure {
  return failure("CUSTOMER_NOT_FOUND", `customer "${reference}" does not exist`, field);
}
