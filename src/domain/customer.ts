/** A customer as stored. Times are epoch milliseconds. */
export interface Customer {
  id: string;
  /** The caller's own id for the customer; "" when not given. */
  externalId: string;
  displayName: string;
  currencyCode: string;
  createTime: number;
}

/** What a caller asks for when creating a customer. */
export type CustomerDraft = Pick<Customer, "externalId" | "displayName" | "currencyCode">;

/** The fields of `draft` that differ from the stored customer, for REQUEST_ID_REUSED. */
export function customerDifferences(stored: Customer, draft: CustomerDraft): string[] {
  const differences: string[] = [];
  if (stored.externalId !== draft.externalId) differences.push("customer.external_id");
  if (stored.displayName !== draft.displayName) differences.push("customer.display_name");
  if (stored.currencyCode !== draft.currencyCode) differences.push("customer.currency_code");
  return differences;
}
