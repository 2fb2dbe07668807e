/**
 * The protobuf binary wire format's pieces for the hand-written encoders
 * (RecordUsageResponse, the bill responses): each message is measured first,
 * then written into one buffer of exactly that size, byte for byte as
 * protobuf-es's `toBinary` writes it. The size functions return NaN for
 * anything an encoder must leave to `toBinary` (a value of the wrong type, an
 * int64 out of range, unknown fields); NaN survives every sum, so one check
 * of a message's size is enough.
 */

import type { Timestamp } from "@bufbuild/protobuf/wkt";

export function optionalTimestampFieldSize(timestamp: Timestamp | undefined): number {
  return timestamp === undefined ? 0 : messageFieldSize(timestampSize(timestamp));
}

export function writeOptionalTimestampField(
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

export function stringFieldSize(value: string): number {
  if (value === "") return 0;
  if (typeof value !== "string") return NaN;
  const length = utf8Length(value);
  return 1 + varint32Size(length) + length;
}

/** Writes a non-empty string field; an empty one is not written at all. */
export function writeStringField(buffer: Buffer, offset: number, tag: number, value: string): number {
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
export function utf8Length(value: string): number {
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
export function writeUtf8(buffer: Buffer, offset: number, value: string): number {
  const length = value.length;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0x7f) return offset + buffer.write(value, offset, "utf8");
    buffer[offset + i] = code;
  }
  return offset + length;
}

export function messageFieldSize(contentSize: number): number {
  return 1 + varint32Size(contentSize) + contentSize;
}

export function hasUnknownFields(message: { $unknown?: unknown[] }): boolean {
  return message.$unknown !== undefined && message.$unknown.length > 0;
}

export function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

export function writeVarint32(buffer: Buffer, offset: number, value: number): number {
  while (value > 0x7f) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
}

/** Negative int32 values are sign-extended to 64 bits: 10 bytes. */
export function int32Size(value: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    return NaN;
  }
  return value < 0 ? 10 : varint32Size(value);
}

export function writeInt32(buffer: Buffer, offset: number, value: number): number {
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
