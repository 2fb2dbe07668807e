import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary, type Message, type MessageInitShape, type UnknownField } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  type Bill,
  type BillLine,
  BillLineSchema,
  BillLineTierSchema,
  BillSchema,
  BillStatus,
  GetBillResponseSchema,
  GetCurrentBillResponseSchema,
  type GetCurrentBillResponse,
} from "../../gen/ts/billing/v1/billing_service_pb.js";
import { encodeGetBillResponse, encodeGetCurrentBillResponse } from "../../src/server/bill-encoding.js";
import { EDGE_NANOS, EDGE_SECONDS, randomProtoValues } from "../support/random-proto-values.js";
import { seededRandom } from "../support/seeded-random.js";

function response(bill: MessageInitShape<typeof BillSchema> | undefined): GetCurrentBillResponse {
  return create(GetCurrentBillResponseSchema, { bill });
}

function assertSameAsToBinary(message: GetCurrentBillResponse, label = "message"): void {
  const expected = Buffer.from(toBinary(GetCurrentBillResponseSchema, message)).toString("hex");
  assert.equal(Buffer.from(encodeGetCurrentBillResponse(message)).toString("hex"), expected, label);
  // GetBillResponse has the same field: the same bytes.
  const asGetBill = create(GetBillResponseSchema, { bill: message.bill });
  if (message.$unknown !== undefined) asGetBill.$unknown = message.$unknown;
  assert.equal(Buffer.from(encodeGetBillResponse(asGetBill)).toString("hex"), Buffer.from(toBinary(GetBillResponseSchema, asGetBill)).toString("hex"), `${label} (GetBill)`);
}

const fullBill = {
  customerId: "cus_0190f3c2a1b27c3e8d45f0a1b2c3d4e5",
  period: "2026-11",
  status: BillStatus.DRAFT,
  currencyCode: "EUR",
  lines: [
    {
      meterKey: "api-calls",
      quantity: "1234567.125",
      amount: "12.35",
      priceVersion: 3,
      tiers: [
        { upTo: "1000", quantity: "1000", unitAmount: "0", amount: "0" },
        { upTo: "", quantity: "1233567.125", unitAmount: "0.00001", amount: "12.33567125" },
      ],
      displayName: "API calls",
      unit: "call",
      priceId: "price_0190f3c2a1b27c3e8d45f0a1b2c3d4e6",
    },
    { meterKey: "storage", quantity: "0", amount: "0.00", priceVersion: 1, tiers: [], displayName: "Storage", unit: "GB", priceId: "price_2" },
  ],
  total: "12.35",
  asOfTime: { seconds: 1_795_000_000n, nanos: 123_000_000 },
  startTime: { seconds: 1_793_491_200n },
  endTime: { seconds: 1_796_083_200n },
  finalizeTime: { seconds: 1_796_083_200n, nanos: 1 },
} satisfies MessageInitShape<typeof BillSchema>;

test("an empty response, an empty bill and empty lines and tiers encode as toBinary does", () => {
  assertSameAsToBinary(response(undefined));
  assert.equal(encodeGetCurrentBillResponse(response(undefined)).length, 0);
  assertSameAsToBinary(response({}));
  assertSameAsToBinary(response({ lines: [{}, { tiers: [{}, {}] }] }));
  assertSameAsToBinary(response({ asOfTime: {}, startTime: {}, endTime: {}, finalizeTime: {} }));
});

test("a bill with every field set encodes as toBinary does, and decodes back to itself", () => {
  const message = response(fullBill);
  assertSameAsToBinary(message);
  assert.deepEqual(fromBinary(GetCurrentBillResponseSchema, encodeGetCurrentBillResponse(message)), message);
});

test("every status, negative and extreme int32 values encode as toBinary does", () => {
  for (const status of [BillStatus.UNSPECIFIED, BillStatus.DRAFT, BillStatus.FINALIZED, 99, -1]) {
    for (const priceVersion of [0, 1, 127, 128, 2 ** 31 - 1, -1, -(2 ** 31)]) {
      assertSameAsToBinary(response({ ...fullBill, status, lines: [{ ...fullBill.lines[0], priceVersion }] }), `status ${status}, version ${priceVersion}`);
    }
  }
});

test("non-ASCII strings, long strings and edge timestamps encode as toBinary does", () => {
  for (const text of ["Zürich — 東京", "emoji 🚀", "lone \ud800", "é".repeat(43), "x".repeat(300), "🚀".repeat(5_000)]) {
    assertSameAsToBinary(response({ customerId: text, lines: [{ displayName: text, tiers: [{ amount: text }] }], total: text }), JSON.stringify(text.slice(0, 20)));
  }
  for (const seconds of EDGE_SECONDS) {
    for (const nanos of EDGE_NANOS) assertSameAsToBinary(response({ asOfTime: { seconds, nanos }, finalizeTime: { seconds } }), `${seconds}s ${nanos}ns`);
  }
  // Enough lines and tiers that lengths take several varint bytes.
  const many = Array.from({ length: 300 }, (_, index) => ({ ...fullBill.lines[0], meterKey: `meter-${index}` }));
  assertSameAsToBinary(response({ ...fullBill, lines: many }), "300 lines");
});

test("unknown fields at any depth leave the encoding to toBinary", () => {
  const unknown: UnknownField[] = [{ no: 99, wireType: WireType.Varint, data: Uint8Array.of(0x96, 0x01) }];
  const withUnknown = (pick: (message: GetCurrentBillResponse) => Message, label: string) => {
    const message = response(fullBill);
    pick(message).$unknown = unknown;
    assertSameAsToBinary(message, label);
  };
  withUnknown((message) => message, "on the response");
  withUnknown((message) => message.bill as Bill, "on the bill");
  withUnknown((message) => (message.bill as Bill).lines[0] as BillLine, "on a line");
  withUnknown((message) => ((message.bill as Bill).lines[0] as BillLine).tiers[1]!, "on a tier");
  withUnknown((message) => (message.bill as Bill).asOfTime!, "on a timestamp");
});

test("values toBinary rejects are rejected the same way", () => {
  const badVersion = response({ ...fullBill, lines: [{ ...fullBill.lines[0], priceVersion: 1.5 }] });
  assert.throws(() => toBinary(GetCurrentBillResponseSchema, badVersion));
  assert.throws(() => encodeGetCurrentBillResponse(badVersion));
  const badSeconds = response({ ...fullBill, asOfTime: { seconds: 2n ** 63n } });
  assert.throws(() => toBinary(GetCurrentBillResponseSchema, badSeconds));
  assert.throws(() => encodeGetCurrentBillResponse(badSeconds));
});

test("1000 seeded random bills encode as toBinary does", () => {
  const random = seededRandom(0xb111_5eed).next;
  const { chance, integer, text, seconds, nanos } = randomProtoValues(random, {
    characters: ["é", "東", "🚀", "\ud800", "\udfff", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff"],
    lengths: [0, 0, 1, 3, 7, 12, 42, 43, 130],
  });
  const timestamp = () => (chance(0.3) ? undefined : create(TimestampSchema, { seconds: seconds(), nanos: nanos() }));
  const int32 = () => [0, 0, 1, integer(1000), 2 ** 31 - 1, -1, -(2 ** 31)][integer(7)]!;
  for (let index = 0; index < 1000; index++) {
    const lines = Array.from({ length: [0, 1, 1, 2, 5][integer(5)]! }, () =>
      create(BillLineSchema, {
        meterKey: text(),
        quantity: text(),
        amount: text(),
        priceVersion: int32(),
        tiers: Array.from({ length: [0, 0, 1, 3][integer(4)]! }, () => create(BillLineTierSchema, { upTo: text(), quantity: text(), unitAmount: text(), amount: text() })),
        displayName: text(),
        unit: text(),
        priceId: text(),
      }),
    );
    const bill = chance(0.05)
      ? undefined
      : create(BillSchema, {
          customerId: text(),
          period: text(),
          status: int32(),
          currencyCode: text(),
          lines,
          total: text(),
          asOfTime: timestamp(),
          startTime: timestamp(),
          endTime: timestamp(),
          finalizeTime: timestamp(),
        });
    assertSameAsToBinary(create(GetCurrentBillResponseSchema, { bill }), `random bill #${index}`);
  }
});
