import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageRecordSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { basicUsageRecordMessage, usageRecordMessage } from "../../src/api/proto-mapping.js";
import { Decimal } from "../../src/domain/decimal.js";
import type { UsageRecord } from "../../src/domain/usage-record.js";

function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    id: "rec_0193a8d2c1b27c3e8f4a5b6c7d8e9f00",
    requestId: "req-1",
    customerId: "cus_1",
    meterKey: "api_calls",
    quantity: Decimal.parse("12.500")!,
    eventTime: Date.UTC(2026, 10, 21, 12, 30, 15, 250),
    requestedEventTime: null,
    createTime: Date.UTC(2026, 10, 21, 12, 30, 16, 7),
    period: "2026-11",
    attributes: { region: "eu-west-1", "": "empty key" },
    voided: false,
    voidReason: "",
    voidTime: null,
    ...overrides,
  };
}

/** What the literal messages must equal: the same record through protobuf-es's create(). */
function created(source: UsageRecord) {
  return create(UsageRecordSchema, {
    id: source.id,
    requestId: source.requestId,
    customerId: source.customerId,
    meterKey: source.meterKey,
    quantity: source.quantity.toString(),
    eventTime: timestampFromMs(source.eventTime),
    createTime: timestampFromMs(source.createTime),
    period: source.period,
    voided: source.voided,
    attributes: source.attributes,
    voidReason: source.voidReason,
    voidTime: source.voidTime === null ? undefined : timestampFromMs(source.voidTime),
  });
}

describe("usage record messages", () => {
  const cases: [string, UsageRecord][] = [
    ["a live record", record()],
    ["a voided record", record({ voided: true, voidReason: "duplicate upload", voidTime: Date.UTC(2026, 10, 22, 0, 0, 0, 999) })],
    ["times before 1970 and on a second's boundary", record({ eventTime: -1_234_567, createTime: 0 })],
    ["no attributes", record({ attributes: {} })],
  ];
  for (const [name, source] of cases) {
    it(`equal create()'s message, field for field and byte for byte: ${name}`, () => {
      const literal = usageRecordMessage(source);
      assert.ok(equals(UsageRecordSchema, literal, created(source)));
      assert.deepEqual(toBinary(UsageRecordSchema, literal), toBinary(UsageRecordSchema, created(source)));
    });
  }

  it("the basic view holds only the id, request id and period", () => {
    const source = record({ voided: true, voidReason: "x", voidTime: 1 });
    const basic = basicUsageRecordMessage(source);
    const expected = create(UsageRecordSchema, { id: source.id, requestId: source.requestId, period: source.period });
    assert.ok(equals(UsageRecordSchema, basic, expected));
    assert.deepEqual(toBinary(UsageRecordSchema, basic), toBinary(UsageRecordSchema, expected));
  });
});
