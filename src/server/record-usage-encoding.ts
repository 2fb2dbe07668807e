import { toBinary } from "@bufbuild/protobuf";
import {
  RecordUsageResponseSchema,
  type RecordUsageResponse,
  type UsageRecord,
} from "../../gen/ts/billing/v1/usage_service_pb.js";
import {
  hasUnknownFields,
  messageFieldSize,
  optionalTimestampFieldSize,
  stringFieldSize,
  utf8Length,
  varint32Size,
  writeOptionalTimestampField,
  writeStringField,
  writeUtf8,
  writeVarint32,
} from "./protobuf-wire.js";

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

// The size functions return NaN for anything that must go to toBinary (see protobuf-wire.ts).

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

