import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary, type Message, type MessageInitShape, type UnknownField } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { TimestampSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  RecordUsageResponseSchema,
  UsageRecordSchema,
  type RecordUsageResponse,
  type UsageRecord,
} from "../../gen/ts/billing/v1/usage_service_pb.js";
import { encodeRecordUsageResponse } from "../../src/server/record-usage-encoding.js";
import { EDGE_NANOS, EDGE_SECONDS, randomProtoValues } from "../support/random-proto-values.js";
import { seededRandom } from "../support/seeded-random.js";

type ResponseInit = MessageInitShape<typeof RecordUsageResponseSchema>;

function response(init: ResponseInit): RecordUsageResponse {
  return create(RecordUsageResponseSchema, init);
}

function assertSameAsToBinary(message: RecordUsageResponse, label = "message"): void {
  const expected = toBinary(RecordUsageResponseSchema, message);
  const actual = encodeRecordUsageResponse(message);
  assert.equal(Buffer.from(actual).toString("hex"), Buffer.from(expected).toString("hex"), label);
}

const fullRecord = {
  id: "rec_01JD7Z9K3M4N5P6Q7R8S9T0VWX",
  requestId: "req_01JD7Z9K3M4N5P6Q7R8S9T0VWX",
  customerId: "acme",
  meterKey: "api_calls",
  quantity: "1.25",
  eventTime: { seconds: 1_795_000_000n, nanos: 123_456_789 },
  createTime: { seconds: 1_795_000_001n, nanos: 1 },
  period: "2026-11",
  voided: true,
  attributes: { region: "eu-west-1", "": "empty key", tier: "", "10": "numeric-looking key", "2": "another" },
  voidReason: "duplicate",
  voidTime: { seconds: 1_795_000_002n },
} satisfies MessageInitShape<typeof UsageRecordSchema>;

test("an empty response encodes as toBinary does (to no bytes)", () => {
  const message = response({});
  assertSameAsToBinary(message);
  assert.equal(encodeRecordUsageResponse(message).length, 0);
});

test("an empty record and empty timestamps are still written", () => {
  assertSameAsToBinary(response({ record: {} }));
  assertSameAsToBinary(response({ record: { eventTime: {}, createTime: {}, voidTime: {} } }));
  assertSameAsToBinary(response({ record: { attributes: { "": "" } } }));
});

test("a record with every field set, replayed, encodes as toBinary does", () => {
  assertSameAsToBinary(response({ record: fullRecord, replayed: true }));
  assertSameAsToBinary(response({ record: fullRecord, replayed: false }));
  assertSameAsToBinary(response({ replayed: true }));
});

test("non-ASCII strings, including lone surrogates, encode as toBinary does", () => {
  const samples = [
    "café",
    "Zürich — 東京",
    "emoji 🚀🎉",
    "lone high \ud800 surrogate",
    "lone low \udc00",
    "\ud83d",
    "reversed pair \udc00\ud800",
    "é".repeat(42),
    "🚀".repeat(21),
    "\ud800".repeat(42),
    "東".repeat(43),
    "\udfff".repeat(43),
    "x".repeat(43),
    "é".repeat(43),
    "🚀".repeat(200),
    "a".repeat(70_000),
  ];
  for (const text of samples) {
    assertSameAsToBinary(
      response({
        record: {
          id: text,
          customerId: text,
          quantity: text,
          period: text,
          voidReason: text,
          attributes: { [text]: text, plain: text, [`${text}-key`]: "v" },
        },
      }),
      JSON.stringify(text),
    );
  }
});

test("negative, large and edge timestamp values encode as toBinary does", () => {
  for (const s of EDGE_SECONDS) {
    for (const n of EDGE_NANOS) {
      assertSameAsToBinary(response({ record: { eventTime: { seconds: s, nanos: n } } }), `${s}s ${n}ns`);
    }
  }
});

test("values toBinary rejects are rejected the same way", () => {
  const outOfRange = response({ record: { eventTime: { seconds: 2n ** 63n } } });
  assert.throws(() => toBinary(RecordUsageResponseSchema, outOfRange));
  assert.throws(() => encodeRecordUsageResponse(outOfRange));
  const badNanos = response({ record: { eventTime: { nanos: 1.5 } } });
  assert.throws(() => encodeRecordUsageResponse(badNanos));
});

test("messages with unknown fields encode as toBinary does", () => {
  const unknown: UnknownField[] = [{ no: 99, wireType: WireType.Varint, data: Uint8Array.of(0x96, 0x01) }];
  const withUnknown = (message: Message) => {
    message.$unknown = unknown;
  };
  const onResponse = response({ record: fullRecord, replayed: true });
  withUnknown(onResponse);
  assertSameAsToBinary(onResponse, "unknown on the response");

  const onRecord = response({ record: fullRecord });
  withUnknown(onRecord.record as UsageRecord);
  assertSameAsToBinary(onRecord, "unknown on the record");

  const onTimestamp = response({ record: fullRecord });
  withUnknown(onTimestamp.record?.voidTime as Timestamp);
  assertSameAsToBinary(onTimestamp, "unknown on a timestamp");

  const emptyUnknown = response({ record: fullRecord });
  emptyUnknown.$unknown = [];
  assertSameAsToBinary(emptyUnknown, "empty unknown list");
});

test("an encoded response decodes back to the same message", () => {
  const message = response({ record: fullRecord, replayed: true });
  const decoded = fromBinary(RecordUsageResponseSchema, encodeRecordUsageResponse(message));
  assert.deepEqual(decoded, message);
});

test("2000 seeded random messages encode as toBinary does", () => {
  const random = seededRandom(0x5eed_1234).next;
  for (let i = 0; i < 2000; i++) {
    const message = randomResponse(random);
    assertSameAsToBinary(message, `random message #${i}`);
  }
});

function randomResponse(random: () => number): RecordUsageResponse {
  const { chance, text, seconds, nanos, attributes } = randomProtoValues(random, {
    characters: ["é", "ß", "東", "🚀", "\ud800", "\udfff", "\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff"],
    lengths: [0, 0, 1, 4, 9, 30, 42, 43, 60, 200],
  });
  const timestamp = () => (chance(0.5) ? undefined : create(TimestampSchema, { seconds: seconds(), nanos: nanos() }));

  const record = chance(0.1)
    ? undefined
    : create(UsageRecordSchema, {
        id: chance(0.9) ? text() : "",
        requestId: text(),
        customerId: text(),
        meterKey: text(),
        quantity: text(),
        eventTime: timestamp(),
        createTime: timestamp(),
        period: text(),
        voided: chance(0.3),
        attributes: attributes(),
        voidReason: text(),
        voidTime: timestamp(),
      });
  return create(RecordUsageResponseSchema, { record, replayed: chance(0.5) });
}
