import assert from "node:assert/strict";
import { test } from "node:test";
import { create, equals, fromBinary, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType, configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { RecordUsageRequestSchema, type RecordUsageRequest } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { decodeRecordUsageRequest } from "../../src/server/record-usage-decoding.js";
import { EDGE_NANOS, EDGE_SECONDS, randomProtoValues } from "../support/random-proto-values.js";
import { seededRandom } from "../support/seeded-random.js";

type RequestInit = MessageInitShape<typeof RecordUsageRequestSchema>;

type Outcome = { message: RecordUsageRequest; error?: undefined } | { message?: undefined; error: Error };

function outcome(decode: () => RecordUsageRequest): Outcome {
  try {
    return { message: decode() };
  } catch (error) {
    return { error: error as Error };
  }
}

/**
 * Either both decoders throw the same error, or both return equal messages:
 * equal by `equals`, and structurally identical down to key order and the
 * presence of `$unknown`.
 */
function assertSameAsFromBinary(bytes: Uint8Array, label = "bytes"): Outcome {
  const context = `${label}: ${Buffer.from(bytes).toString("hex")}`;
  const expected = outcome(() => fromBinary(RecordUsageRequestSchema, bytes));
  const actual = outcome(() => decodeRecordUsageRequest(bytes));
  if (expected.error !== undefined) {
    assert.ok(actual.error !== undefined, `${context}: fromBinary threw ${expected.error.message}, the decoder did not`);
    assert.equal(actual.error.constructor, expected.error.constructor, context);
    assert.equal(actual.error.message, expected.error.message, context);
    return expected;
  }
  if (actual.error !== undefined) assert.fail(`${context}: the decoder threw ${actual.error.message}, fromBinary did not`);
  const a = actual.message;
  const b = expected.message;
  assert.ok(isMessage(a, RecordUsageRequestSchema), context);
  assert.ok(equals(RecordUsageRequestSchema, a, b), context);
  assert.deepEqual(a, b, context);
  assert.deepEqual(Object.keys(a), Object.keys(b), context);
  assert.deepEqual(Object.keys(a.attributes), Object.keys(b.attributes), context);
  assert.equal(Object.getPrototypeOf(a.attributes), Object.getPrototypeOf(b.attributes), context);
  if (a.eventTime !== undefined) assert.ok(isMessage(a.eventTime, TimestampSchema), context);
  return expected;
}

function encode(init: RequestInit): Uint8Array {
  return toBinary(RecordUsageRequestSchema, create(RecordUsageRequestSchema, init));
}

/** Hand-made encodings, for what toBinary never writes. */
function wire(build: (writer: BinaryWriter) => void): Uint8Array {
  const writer = new BinaryWriter();
  build(writer);
  return writer.finish();
}

function stringField(writer: BinaryWriter, no: number, value: string): BinaryWriter {
  return writer.tag(no, WireType.LengthDelimited).string(value);
}

function bytesField(writer: BinaryWriter, no: number, value: Uint8Array): BinaryWriter {
  return writer.tag(no, WireType.LengthDelimited).bytes(value);
}

function entry(build: (writer: BinaryWriter) => void): Uint8Array {
  return wire(build);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

const fullRequest = {
  requestId: "req-000000123456",
  customerId: "cus_01JD7Z9K3M4N5P6Q7R8S9T0VWX",
  meterKey: "api_calls",
  quantity: "1.25",
  eventTime: { seconds: 1_795_000_000n, nanos: 123_456_789 },
  attributes: { region: "eu-west-1", "": "empty key", tier: "", "10": "numeric-looking key", "2": "another" },
} satisfies RequestInit;

test("empty input decodes as fromBinary does (to the zero message)", () => {
  assertSameAsFromBinary(new Uint8Array(0));
  assert.deepEqual(decodeRecordUsageRequest(new Uint8Array(0)), create(RecordUsageRequestSchema));
});

test("a full request decodes as fromBinary does", () => {
  const bytes = encode(fullRequest);
  assertSameAsFromBinary(bytes);
  assert.deepEqual(decodeRecordUsageRequest(bytes), create(RecordUsageRequestSchema, fullRequest));
  assertSameAsFromBinary(encode({ ...fullRequest, eventTime: {} }), "zero timestamp");
  assertSameAsFromBinary(encode({ quantity: "0" }), "a lone field");
});

test("the input may be a Buffer, a view into a larger buffer, or a Node pool slice", () => {
  const bytes = encode(fullRequest);
  const padded = new Uint8Array(bytes.length + 16);
  padded.set(bytes, 7);
  assertSameAsFromBinary(padded.subarray(7, 7 + bytes.length), "subarray");
  assertSameAsFromBinary(Buffer.from(bytes), "pooled Buffer");
  assertSameAsFromBinary(Buffer.from(padded.buffer, 7, bytes.length), "Buffer view");
});

test("ASCII requests decode without protobuf-es's text decoder (the fast path is taken)", () => {
  const original = getTextEncoding();
  let calls = 0;
  configureTextEncoding({
    ...original,
    decodeUtf8(bytes, strict) {
      calls++;
      return original.decodeUtf8(bytes, strict);
    },
  });
  try {
    const bytes = encode(fullRequest);
    decodeRecordUsageRequest(bytes);
    assert.equal(calls, 0, "the decoder fell back to fromBinary");
    fromBinary(RecordUsageRequestSchema, bytes);
    assert.ok(calls > 0, "the spy does see fromBinary");
    calls = 0;
    decodeRecordUsageRequest(encode({ requestId: "réq" }));
    assert.equal(calls, 1, "one non-ASCII string, one call");
  } finally {
    configureTextEncoding(original);
  }
});

test("attributes: empty keys and values, duplicates, missing or swapped key and value", () => {
  const entries: Uint8Array[] = [
    entry((w) => stringField(stringField(w, 1, ""), 2, "")),
    entry((w) => stringField(stringField(w, 1, "a"), 2, "first")),
    entry((w) => stringField(stringField(w, 1, "b"), 2, "")),
    entry((w) => stringField(stringField(w, 1, "a"), 2, "second")),
    entry((w) => stringField(stringField(w, 2, "value first"), 1, "swapped")),
    entry((w) => stringField(w, 1, "no value")),
    entry((w) => stringField(w, 2, "no key")),
    entry(() => {}),
    entry((w) => stringField(stringField(stringField(w, 1, "k1"), 1, "k2"), 2, "repeated key in an entry")),
    entry((w) => stringField(stringField(stringField(w, 1, "k3"), 2, "v1"), 2, "v2")),
    entry((w) => stringField(stringField(w, 1, "__proto__"), 2, "dropped, as fromBinary drops it")),
    entry((w) => stringField(stringField(w, 1, "constructor"), 2, "kept")),
    entry((w) => stringField(stringField(w, 1, "10"), 2, "numeric")),
    entry((w) => stringField(stringField(w, 1, "2"), 2, "numeric")),
    entry((w) => stringField(stringField(w, 1, "b"), 2, "last b")),
  ];
  const bytes = wire((w) => {
    for (const e of entries) bytesField(w, 6, e);
  });
  const { message } = assertSameAsFromBinary(bytes);
  assert.equal(message?.attributes.a, "second");
  assert.equal(message?.attributes["no value"], "");
  assert.equal(message?.attributes[""], "", "the empty entry, after the one with no key, replaces it");
  for (let i = 0; i < entries.length; i++) {
    assertSameAsFromBinary(wire((w) => bytesField(w, 6, entries[i] as Uint8Array)), `entry #${i}`);
  }
});

test("non-ASCII, emoji, BOM and long strings decode as fromBinary does", () => {
  const samples = [
    "café",
    "Zürich — 東京",
    "emoji 🚀🎉",
    "\u0000nul and \u007f del",
    "\u0080",
    "\u07ff\u0800\uffff",
    "\ufeffleading BOM",
    "\ufeff",
    "inner \ufeff BOM",
    "lone surrogate \ud800 becomes U+FFFD on the way in",
    "x".repeat(127),
    "x".repeat(128),
    "é".repeat(64),
    "🚀".repeat(200),
    "a".repeat(70_000),
  ];
  for (const text of samples) {
    assertSameAsFromBinary(
      encode({
        requestId: text,
        customerId: text,
        meterKey: `k-${text}`,
        quantity: text,
        attributes: { [text]: text, plain: text },
      }),
      JSON.stringify(text.slice(0, 40)),
    );
  }
});

test("invalid UTF-8 in any string throws, as fromBinary does", () => {
  const invalid = [
    [0xff],
    [0x61, 0x80],
    [0xc3],
    [0xc0, 0x80],
    [0xe0, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf0, 0x9f, 0x9a],
    [0xf4, 0x90, 0x80, 0x80],
    [0xef, 0xbb],
  ].map((codes) => Uint8Array.from(codes));
  for (const text of invalid) {
    const cases = [
      ...[1, 2, 3, 4].map((no) => wire((w) => bytesField(w, no, text))),
      wire((w) => bytesField(w, 6, entry((e) => bytesField(stringField(e, 2, "v"), 1, text)))),
      wire((w) => bytesField(w, 6, entry((e) => bytesField(stringField(e, 1, "k"), 2, text)))),
      wire((w) => bytesField(stringField(w, 1, "ok"), 3, text)),
    ];
    for (const bytes of cases) {
      const { error } = assertSameAsFromBinary(bytes, "invalid UTF-8");
      assert.ok(error instanceof TypeError, "fromBinary rejects invalid UTF-8 with the TextDecoder's TypeError");
    }
  }
});

test("fields out of order and repeated: the last one wins", () => {
  const bytes = wire((w) => {
    stringField(w, 4, "1");
    stringField(w, 3, "first meter");
    stringField(w, 2, "cus_a");
    stringField(w, 1, "req-1");
    stringField(w, 4, "2.5");
    bytesField(w, 6, entry((e) => stringField(stringField(e, 1, "k"), 2, "v")));
    stringField(w, 1, "req-2");
    stringField(w, 3, "");
    stringField(w, 2, "cus_b");
  });
  const { message } = assertSameAsFromBinary(bytes);
  assert.equal(message?.requestId, "req-2");
  assert.equal(message?.quantity, "2.5");
  assert.equal(message?.meterKey, "");
});

test("event_time: negative, large and edge seconds and nanos", () => {
  for (const s of EDGE_SECONDS) {
    for (const n of EDGE_NANOS) {
      assertSameAsFromBinary(encode({ eventTime: { seconds: s, nanos: n } }), `${s}s ${n}ns`);
    }
  }
});

test("event_time: odd but valid varints read as protobuf-es reads them", () => {
  const timestamp = (...raw: number[]) => wire((w) => bytesField(w, 5, Uint8Array.from(raw)));
  const cases = [
    timestamp(0x08, 0x80, 0x00),
    timestamp(0x10, 0x80, 0x80, 0x80, 0x80, 0x00),
    timestamp(0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
    timestamp(0x10, 0xff, 0xff, 0xff, 0xff, 0x7f),
    timestamp(0x10, 0x80, 0x80, 0x80, 0x80, 0x10),
    timestamp(0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
    timestamp(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
    timestamp(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    timestamp(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
    timestamp(0x08, 0xff, 0xff, 0xff, 0xff, 0x7f),
    timestamp(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
    timestamp(0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
    timestamp(0x10, 0x05, 0x08, 0x07, 0x10, 0x06),
    timestamp(),
  ];
  for (const bytes of cases) assertSameAsFromBinary(bytes);
  const { message } = assertSameAsFromBinary(cases[2] as Uint8Array);
  assert.equal(message?.eventTime?.nanos, -1);
});

test("a repeated event_time merges into the first, field by field", () => {
  const timestamp = (w: BinaryWriter, build: (t: BinaryWriter) => void) => bytesField(w, 5, wire(build));
  const bytes = wire((w) => {
    timestamp(w, (t) => t.tag(1, WireType.Varint).int64(100n).tag(2, WireType.Varint).int32(5));
    stringField(w, 1, "between");
    timestamp(w, (t) => t.tag(2, WireType.Varint).int32(-7));
    timestamp(w, () => {});
  });
  const { message } = assertSameAsFromBinary(bytes);
  assert.equal(message?.eventTime?.seconds, 100n);
  assert.equal(message?.eventTime?.nanos, -7);
  assertSameAsFromBinary(
    wire((w) => {
      timestamp(w, (t) => t.tag(2, WireType.Varint).int32(9));
      timestamp(w, (t) => t.tag(1, WireType.Varint).int64(-3n));
      timestamp(w, (t) => t.tag(1, WireType.Varint).int64(4n).tag(1, WireType.Varint).int64(8n));
    }),
  );
});

test("unknown fields at the top level, in the timestamp and in a map entry decode as fromBinary does", () => {
  const unknowns: ((w: BinaryWriter) => void)[] = [
    (w) => w.tag(99, WireType.Varint).uint64(150n),
    (w) => w.tag(7, WireType.Bit32).fixed32(0xdeadbeef),
    (w) => w.tag(8, WireType.Bit64).fixed64(1n),
    (w) => w.tag(1000, WireType.LengthDelimited).bytes(Uint8Array.of(1, 2, 3)),
    (w) => w.tag(9, WireType.StartGroup).tag(1, WireType.Varint).int32(1).tag(9, WireType.EndGroup),
    (w) => w.tag(3, WireType.Varint).int32(1),
  ];
  for (const [i, unknown] of unknowns.entries()) {
    const top = assertSameAsFromBinary(
      wire((w) => {
        stringField(w, 1, "req");
        unknown(w);
        stringField(w, 2, "cus");
      }),
      `top level #${i}`,
    );
    if (i < 4) assert.equal(top.message?.$unknown?.length, 1, "the unknown field is kept");
    assertSameAsFromBinary(
      wire((w) =>
        bytesField(
          w,
          5,
          wire((t) => {
            t.tag(1, WireType.Varint).int64(42n);
            unknown(t);
            t.tag(2, WireType.Varint).int32(7);
          }),
        ),
      ),
      `in the timestamp #${i}`,
    );
    assertSameAsFromBinary(
      wire((w) =>
        bytesField(
          w,
          6,
          entry((e) => {
            stringField(e, 1, "key");
            unknown(e);
            stringField(e, 2, "value");
          }),
        ),
      ),
      `in a map entry #${i}`,
    );
  }
});

test("unexpected wire types, padded tags and malformed input behave as in fromBinary", () => {
  const cases = [
    [0x08, 0x01],
    [0x0d, 0x01, 0x02, 0x03, 0x04],
    [0x8a, 0x00, 0x01, 0x61],
    [0x8a, 0x80, 0x80, 0x80, 0x00, 0x01, 0x61],
    [0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x61],
    [0x0a, 0x80, 0x00],
    [0x0a, 0x81, 0x80, 0x80, 0x00, 0x61],
    [0x0a, 0x81, 0x80, 0x80, 0x80, 0x00, 0x61],
    [0x0a],
    [0x0a, 0x05, 0x61],
    [0x0a, 0x80],
    [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
    [0x2a, 0x02, 0x08, 0x96, 0x01],
    [0x2a, 0x05, 0x08, 0x01],
    [0x2a, 0x01, 0x08],
    [0x2a, 0x02, 0x08],
    [0x2b, 0x08, 0x01, 0x2c],
    [0x32, 0x03, 0x0a, 0x02, 0x61],
    [0x32, 0x04, 0x0a, 0x01, 0x61, 0x12],
    [0x32, 0x02, 0x08, 0x01],
    [0x32, 0x03, 0x1a, 0x01, 0x61],
    [0x00],
    [0x02, 0x00],
    [0x07],
    [0x0e],
    [0x0c],
    [0xff],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
  ].map((codes) => Uint8Array.from(codes));
  for (const bytes of cases) assertSameAsFromBinary(bytes);
});

test("2000 seeded random valid messages decode as fromBinary does", () => {
  const random = seededRandom(0x5eed_4321).next;
  for (let i = 0; i < 2000; i++) {
    const bytes = toBinary(RecordUsageRequestSchema, randomRequest(random));
    const { message } = assertSameAsFromBinary(bytes, `random message #${i}`);
    assert.ok(message !== undefined);
  }
});

test("5000 seeded mutations and random byte strings: both throw, or both decode alike", () => {
  const random = seededRandom(0xf022_0001).next;
  const integer = (max: number) => Math.floor(random() * max);
  const interesting = [0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x10, 0x12, 0x2a, 0x32, 0x7f, 0x80, 0xc3, 0xef, 0xff];
  const randomByte = () => (random() < 0.5 ? (interesting[integer(interesting.length)] as number) : integer(256));
  for (let i = 0; i < 5000; i++) {
    let bytes: number[];
    if (i % 10 === 9) {
      bytes = Array.from({ length: integer(40) }, randomByte);
    } else {
      bytes = Array.from(toBinary(RecordUsageRequestSchema, randomRequest(random)));
      const mutations = 1 + integer(3);
      for (let m = 0; m < mutations; m++) {
        const at = integer(bytes.length + 1);
        switch (integer(5)) {
          case 0:
            if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << integer(8));
            break;
          case 1:
            bytes.splice(at, 0, randomByte());
            break;
          case 2:
            bytes.splice(at, 1 + integer(3));
            break;
          case 3:
            bytes.length = at;
            break;
          default:
            if (at < bytes.length) bytes[at] = randomByte();
        }
      }
    }
    assertSameAsFromBinary(Uint8Array.from(bytes), `fuzz #${i}`);
  }
});

function randomRequest(random: () => number): RecordUsageRequest {
  const { chance, integer, text, seconds, nanos, attributes } = randomProtoValues(random, {
    characters: ["é", "ß", "東", "🚀", "\ufeff", "\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff"],
    lengths: [0, 0, 1, 4, 9, 16, 30, 60, 130],
  });
  return create(RecordUsageRequestSchema, {
    requestId: chance(0.9) ? `req-${String(integer(1e12)).padStart(12, "0")}` : text(),
    customerId: text(),
    meterKey: chance(0.5) ? "api_calls" : text(),
    quantity: chance(0.5) ? String(integer(1000) / 4) : text(),
    eventTime: chance(0.5) ? undefined : { seconds: seconds(), nanos: nanos() },
    attributes: attributes(),
  });
}
