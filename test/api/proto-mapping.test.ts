import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BillLineSchema, BillLineTierSchema, BillSchema, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { UsageRecordSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { basicUsageRecordMessage, billMessage, usageRecordMessage } from "../../src/api/proto-mapping.js";
import type { Bill } from "../../src/domain/bill.js";
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

describe("bill messages", () => {
  const decimal = (text: string) => Decimal.parse(text)!;
  const bill = (overrides: Partial<Bill> = {}): Bill => ({
    customerId: "cus_1",
    period: "2026-11",
    status: "draft",
    currencyCode: "EUR",
    lines: [
      {
        meterKey: "api-calls",
        dimensions: { region: "eu-west-1" },
        displayName: "API calls",
        unit: "call",
        quantity: decimal("1500.5"),
        amount: "0.01",
        priceVersion: 2,
        priceId: "price_1",
        tiers: [
          { upTo: decimal("1000"), quantity: decimal("1000"), unitAmount: decimal("0"), flatAmount: decimal("2"), packages: null, amount: decimal("2") },
          { upTo: null, quantity: decimal("500.5"), unitAmount: decimal("0.00001"), flatAmount: null, packages: decimal("3"), amount: decimal("0.005005") },
        ],
      },
      { meterKey: "storage", dimensions: {}, displayName: "Storage", unit: "GB", quantity: decimal("0"), amount: "0.00", priceVersion: 1, priceId: "price_2", tiers: [] },
    ],
    total: "0.01",
    creditsApplied: "0.00",
    amountDue: "0.01",
    revision: 0,
    asOfTime: Date.UTC(2026, 10, 21, 23, 59, 59, 999),
    startTime: Date.UTC(2026, 10, 1),
    endTime: Date.UTC(2026, 11, 1),
    finalizeTime: Date.UTC(2026, 11, 4),
    ...overrides,
  });

  /** The same bill through protobuf-es's create(). */
  function created(source: Bill) {
    return create(BillSchema, {
      customerId: source.customerId,
      period: source.period,
      status: source.status === "finalized" ? BillStatus.FINALIZED : BillStatus.DRAFT,
      currencyCode: source.currencyCode,
      lines: source.lines.map((line) =>
        create(BillLineSchema, {
          meterKey: line.meterKey,
          displayName: line.displayName,
          unit: line.unit,
          quantity: line.quantity.toString(),
          amount: line.amount,
          priceVersion: line.priceVersion,
          priceId: line.priceId,
          dimensions: line.dimensions,
          tiers: line.tiers.map((tier) =>
            create(BillLineTierSchema, {
              upTo: tier.upTo?.toString() ?? "",
              quantity: tier.quantity.toString(),
              unitAmount: tier.unitAmount.toString(),
              amount: tier.amount.toString(),
              flatAmount: tier.flatAmount?.toString() ?? "",
              packages: tier.packages?.toString() ?? "",
            }),
          ),
        }),
      ),
      total: source.total,
      asOfTime: timestampFromMs(source.asOfTime),
      startTime: timestampFromMs(source.startTime),
      endTime: timestampFromMs(source.endTime),
      finalizeTime: timestampFromMs(source.finalizeTime),
      creditsApplied: source.creditsApplied,
      amountDue: source.amountDue,
      revision: source.revision,
    });
  }

  const cases: [string, Bill][] = [
    ["a draft with tiered and empty lines", bill()],
    ["a finalized bill", bill({ status: "finalized", asOfTime: Date.UTC(2026, 11, 4), revision: 1 })],
    ["a corrected revision with credits", bill({ status: "finalized", revision: 3, total: "12.50", creditsApplied: "10.00", amountDue: "2.50" })],
    ["a bill without lines", bill({ lines: [], total: "0.00", amountDue: "0.00" })],
  ];
  for (const [name, source] of cases) {
    it(`equal create()'s message, field for field and byte for byte: ${name}`, async () => {
      const literal = await billMessage(source);
      assert.ok(equals(BillSchema, literal, created(source)));
      assert.deepEqual(toBinary(BillSchema, literal), toBinary(BillSchema, created(source)));
    });
  }
});
