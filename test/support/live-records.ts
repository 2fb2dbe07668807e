import type { BillingPeriod } from "../../src/domain/billing-period.js";
import type { Scope, Store } from "../../src/domain/store.js";
import type { UsageRecord } from "../../src/domain/usage-record.js";

/** Every page of Store.liveUsageRecords, together. */
export async function allLiveUsageRecords(store: Store, scope: Scope, customerId: string, period: BillingPeriod): Promise<UsageRecord[]> {
  const records: UsageRecord[] = [];
  for await (const page of store.liveUsageRecords(scope, customerId, period)) records.push(...page);
  return records;
}
