import { toBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  RecordUsageResponseSchema,
  type RecordUsageResponse,
  type UsageRecord,
} from "../../gen/ts/billing/v1/usage_service_pb.js";

/**
 * Encodes a RecordUsageResponse to the protobuf binary format, byte for byte
 * as `toBinary(RecordUsageResponseSchema, message)` does.
 *
 * The reflective `toBinary` was about 9% of the CPU of a unary RecordUsage
 * call and a large share of its allocations. This encoder measures the
 * message first, then writes it into a single buffer of exactly that size.
 * Anything it does not model — unknown fields, values of the wrong type, an
 * int64 out of range — is handed to `toBinary`, so the output (or the error)
 * is always the reflective encoder's. The tests pin it to `toBinary`.
 *
 * The result is a Buffer that may be a slice of Node's shared pool: read it
 * through its own view (or byteOffset), never through `.buffer` alone.
 */
export function encodeRecordUsageResponse(message: RecordUsageResponse): Uint8Array {
  const record = message.record;
  const recordSize = record === undefined ? 0 : usageRecordSize(record);
  const replayed = message.replayed;
  if (Number.isNaN(recordSize) || hasUnknownFields(message) || typeof replayed !== "boolean") {
    return toBinary(RecordUsageResponseSchema, message);
  }
  const size = (record === undefined ? 0 : messageFieldSize(recordSize)) + (replayed ? 2 : 0);
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  if (record !== undefined) {
    buffer[offset++] = 0x0a;
    offset = writeVarint32(buffer, offset, recordSize);
    offset = writeUsageRecord(buffer, offset, record);
  }
  if (replayed) {
    buffer[offset++] = 0x10;
    buffer[offset++] = 1;
  }
  return buffer;
}

// The size functions return NaN for anything that must go to toBinary; NaN
// survives every sum, so one check at the top is enough.

function usageRecordSize(record: UsageRecord): number {
  if (hasUnknownFields(record) || typeof record.voided !== "boolean") return NaN;
  return (
    stringFieldSize(record.id) +
    stringFieldSize(record.requestId) +
    stringFieldSize(record.customerId) +
    stringFieldSize(record.meterKey) +
    stringFieldSize(record.quantity) +
    optionalTimestampFieldSize(record.eventTime) +
    optionalTimestampFieldSize(record.createTime) +
    stringFieldSize(record.period) +
    (record.voided ? 2 : 0) +
    attributesSize(record.attributes) +
    stringFieldSize(record.voidReason) +
    optionalTimestampFieldSize(record.voidTime)
  );
}

function writeUsageRecord(buffer: Buffer, offset: number, record: UsageRecord): number {
  offset = writeStringField(buffer, offset, 0x0a, record.id);
  offset = writeStringField(buffer, offset, 0x12, record.requestId);
  offset = writeStringField(buffer, offset, 0x1a, record.customerId);
  offset = writeStringField(buffer, offset, 0x22, record.meterKey);
  offset = writeStringField(buffer, offset, 0x2a, record.quantity);
  offset = writeOptionalTimestampField(buffer, offset, 0x32, record.eventTime);
  offset = writeOptionalTimestampField(buffer, offset, 0x3a, record.createTime);
  offset = writeStringField(buffer, offset, 0x42, record.period);
  if (record.voided) {
    buffer[offset++] = 0x48;
    buffer[offset++] = 1;
  }
  offset = writeAttributes(buffer, offset, record.attributes);
  offset = writeStringField(buffer, offset, 0x5a, record.voidReason);
  return writeOptionalTimestampField(buffer, offset, 0x62, record.voidTime);
}

/** Map entries always carry both key and value, even when empty. */
function attributesSize(attributes: { [key: string]: string }): number {
  if (typeof attributes !== "object" || attributes === null) return NaN;
  let size = 0;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key];
    if (typeof value !== "string") return NaN;
    size += messageFieldSize(mapEntrySize(utf8Length(key), utf8Length(value)));
  }
  return size;
}

function writeAttributes(buffer: Buffer, offset: number, attributes: { [key: string]: string }): number {
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key] as string;
    const keyLength = utf8Length(key);
    const valueLength = utf8Length(value);
    buffer[offset++] = 0x52;
    offset = writeVarint32(buffer, offset, mapEntrySize(keyLength, valueLength));
    buffer[offset++] = 0x0a;
    offset = writeVarint32(buffer, offset, keyLength);
    offset = writeUtf8(buffer, offset, key);
    buffer[offset++] = 0x12;
    offset = writeVarint32(buffer, offset, valueLength);
    offset = writeUtf8(buffer, offset, value);
  }
  return offset;
}

function mapEntrySize(keyLength: number, valueLength: number): number {
  return 2 + varint32Size(keyLength) + keyLength + varint32Size(valueLength) + valueLength;
}

function optionalTimestampFieldSize(timestamp: Timestamp | undefined): number {
  return timestamp === undefined ? 0 : messageFieldSize(timestampSize(timestamp));
}

function writeOptionalTimestampField(
  buffer: Buffer,
  offset: number,
  tag: number,
  timestamp: Timestamp | undefined,
): number {
  if (timestamp === undefined) return offset;
  buffer[offset++] = tag;
  offset = writeVarint32(buffer, offset, timestampSize(timestamp));
  if (timestamp.seconds !== 0n) {
    buffer[offset++] = 0x08;
    offset = writeInt64(buffer, offset, timestamp.seconds);
  }
  if (timestamp.nanos !== 0) {
    buffer[offset++] = 0x10;
    offset = writeInt32(buffer, offset, timestamp.nanos);
  }
  return offset;
}

function timestampSize(timestamp: Timestamp): number {
  if (hasUnknownFields(timestamp)) return NaN;
  const { seconds, nanos } = timestamp;
  return (seconds === 0n ? 0 : 1 + int64Size(seconds)) + (nanos === 0 ? 0 : 1 + int32Size(nanos));
}

function stringFieldSize(value: string): number {
  if (value === "") return 0;
  if (typeof value !== "string") return NaN;
  const length = utf8Length(value);
  return 1 + varint32Size(length) + length;
}

/** Writes a non-empty string field; an empty one is not written at all. */
function writeStringField(buffer: Buffer, offset: number, tag: number, value: string): number {
  if (value === "") return offset;
  buffer[offset++] = tag;
  if (value.length <= MAX_CHARS_WITH_ONE_BYTE_LENGTH) {
    const end = writeUtf8(buffer, offset + 1, value);
    buffer[offset] = end - offset - 1;
    return end;
  }
  offset = writeVarint32(buffer, offset, utf8Length(value));
  return writeUtf8(buffer, offset, value);
}

/**
 * A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair takes
 * 4 for 2 units), so a string this short has a length that fits one byte.
 */
const MAX_CHARS_WITH_ONE_BYTE_LENGTH = 42;

/**
 * UTF-8 length as TextEncoder and Buffer count it: a lone surrogate becomes
 * U+FFFD, 3 bytes.
 */
function utf8Length(value: string): number {
  const length = value.length;
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.byteLength(value, "utf8");
  }
  return length;
}

/**
 * ASCII is copied byte by byte: for the short strings of a record, a call
 * into Buffer#write costs more than the copy.
 */
function writeUtf8(buffer: Buffer, offset: number, value: string): number {
  const length = value.length;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0x7f) return offset + buffer.write(value, offset, "utf8");
    buffer[offset + i] = code;
  }
  return offset + length;
}

function messageFieldSize(contentSize: number): number {
  return 1 + varint32Size(contentSize) + contentSize;
}

function hasUnknownFields(message: { $unknown?: unknown[] }): boolean {
  return message.$unknown !== undefined && message.$unknown.length > 0;
}

function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

function writeVarint32(buffer: Buffer, offset: number, value: number): number {
  while (value > 0x7f) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
}

/** Negative int32 values are sign-extended to 64 bits: 10 bytes. */
function int32Size(value: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    return NaN;
  }
  return value < 0 ? 10 : varint32Size(value);
}

function writeInt32(buffer: Buffer, offset: number, value: number): number {
  return value < 0 ? writeVarint64(buffer, offset, value >>> 0, 0xffffffff) : writeVarint32(buffer, offset, value);
}

function int64Size(value: bigint): number {
  if (typeof value !== "bigint") return NaN;
  const small = Number(value);
  if (Number.isSafeInteger(small)) return small < 0 ? 10 : uint53Size(small);
  if (value < INT64_MIN || value > INT64_MAX) return NaN;
  if (value < 0n) return 10;
  return value < TWO_POW_56 ? 8 : 9;
}

function writeInt64(buffer: Buffer, offset: number, value: bigint): number {
  const small = Number(value);
  if (Number.isSafeInteger(small)) {
    if (small >= 0) return writeUint53(buffer, offset, small);
    return writeVarint64(buffer, offset, small >>> 0, Math.floor(small / 0x100000000) >>> 0);
  }
  const unsigned = BigInt.asUintN(64, value);
  return writeVarint64(buffer, offset, Number(unsigned & 0xffffffffn), Number(unsigned >> 32n));
}

function uint53Size(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeUint53(buffer: Buffer, offset: number, value: number): number {
  while (value > 0x7fffffff) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  return writeVarint32(buffer, offset, value);
}

/** Writes the varint of the unsigned 64-bit value `high * 2^32 + low`. */
function writeVarint64(buffer: Buffer, offset: number, low: number, high: number): number {
  while (high !== 0 || low > 0x7f) {
    buffer[offset++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  buffer[offset++] = low;
  return offset;
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_POW_56 = 2n ** 56n;
