import { Decimal } from "../../src/domain/decimal.js";
import type { UsageWrite } from "../../src/domain/store.js";
import type { NewUsageRecord } from "../../src/domain/usage-record.js";

/** The Store contracts' usage: events of cus_1 on the "hosting" meter, recorded on 2026-11-05 unless `overrides` say otherwise. */
export const NOV_5 = Date.UTC(2026, 10, 5);

export const usageRecord = (requestId: string, quantity: string, overrides: Partial<NewUsageRecord> = {}): NewUsageRecord => ({
  id: `rec_${requestId}`,
  requestId,
  customerId: "cus_1",
  meterKey: "hosting",
  quantity: Decimal.parse(quantity)!,
  eventTime: NOV_5,
  requestedEventTime: null,
  createTime: NOV_5,
  period: "2026-11",
  attributes: {},
  ...overrides,
});

export const usageWrite = (requestId: string, quantity: string, overrides: Partial<NewUsageRecord> = {}): UsageWrite => ({
  record: usageRecord(requestId, quantity, overrides),
});
