import { type DescMessage, toBinary } from "@bufbuild/protobuf";
import {
  type Bill,
  type BillLine,
  type BillLineTier,
  GetBillResponseSchema,
  type GetBillResponse,
  GetCurrentBillResponseSchema,
  type GetCurrentBillResponse,
} from "../../gen/ts/billing/v1/billing_service_pb.js";
import {
  hasUnknownFields,
  int32Size,
  messageFieldSize,
  optionalTimestampFieldSize,
  stringFieldSize,
  writeInt32,
  writeOptionalTimestampField,
  writeStringField,
  writeVarint32,
} from "./protobuf-wire.js";

/**
 * Encodes a GetCurrentBillResponse to the protobuf binary format, byte for
 * byte as `toBinary(GetCurrentBillResponseSchema, message)` does.
 *
 * The reflective `toBinary` was about a third of what a GetCurrentBill call
 * allocated (its writer keeps every field in arrays of its own). This encoder
 * measures the bill first, then writes it into a single buffer of exactly
 * that size. Anything it does not model — unknown fields, values of the wrong
 * type — is handed to `toBinary`, so the output (or the error) is always the
 * reflective encoder's. The tests pin it to `toBinary`.
 *
 * The result is a Buffer that may be a slice of Node's shared pool: read it
 * through its own view (or byteOffset), never through `.buffer` alone.
 */
export function encodeGetCurrentBillResponse(message: GetCurrentBillResponse): Uint8Array {
  return encodeBillResponse(GetCurrentBillResponseSchema, message);
}

/** GetBillResponse has the same one field as GetCurrentBillResponse; encoded the same way. */
export function encodeGetBillResponse(message: GetBillResponse): Uint8Array {
  return encodeBillResponse(GetBillResponseSchema, message);
}

function encodeBillResponse(schema: DescMessage, message: GetCurrentBillResponse | GetBillResponse): Uint8Array {
  const bill = message.bill;
  const billSize = bill === undefined ? 0 : billContentSize(bill);
  if (Number.isNaN(billSize) || hasUnknownFields(message)) return toBinary(schema, message);
  const buffer = Buffer.allocUnsafe(bill === undefined ? 0 : messageFieldSize(billSize));
  if (bill !== undefined) {
    buffer[0] = 0x0a;
    writeBill(buffer, writeVarint32(buffer, 1, billSize), bill);
  }
  return buffer;
}

function billContentSize(bill: Bill): number {
  if (hasUnknownFields(bill) || !Array.isArray(bill.lines)) return NaN;
  let size =
    stringFieldSize(bill.customerId) +
    stringFieldSize(bill.period) +
    int32FieldSize(bill.status) +
    stringFieldSize(bill.currencyCode) +
    stringFieldSize(bill.total) +
    optionalTimestampFieldSize(bill.asOfTime) +
    optionalTimestampFieldSize(bill.startTime) +
    optionalTimestampFieldSize(bill.endTime) +
    optionalTimestampFieldSize(bill.finalizeTime);
  for (const line of bill.lines) size += messageFieldSize(lineContentSize(line));
  return size;
}

function writeBill(buffer: Buffer, offset: number, bill: Bill): number {
  offset = writeStringField(buffer, offset, 0x0a, bill.customerId);
  offset = writeStringField(buffer, offset, 0x12, bill.period);
  offset = writeInt32Field(buffer, offset, 0x18, bill.status);
  offset = writeStringField(buffer, offset, 0x22, bill.currencyCode);
  for (const line of bill.lines) {
    buffer[offset++] = 0x2a;
    offset = writeVarint32(buffer, offset, lineContentSize(line));
    offset = writeLine(buffer, offset, line);
  }
  offset = writeStringField(buffer, offset, 0x32, bill.total);
  offset = writeOptionalTimestampField(buffer, offset, 0x3a, bill.asOfTime);
  offset = writeOptionalTimestampField(buffer, offset, 0x42, bill.startTime);
  offset = writeOptionalTimestampField(buffer, offset, 0x4a, bill.endTime);
  return writeOptionalTimestampField(buffer, offset, 0x52, bill.finalizeTime);
}

function lineContentSize(line: BillLine): number {
  if (typeof line !== "object" || line === null || hasUnknownFields(line) || !Array.isArray(line.tiers)) return NaN;
  let size =
    stringFieldSize(line.meterKey) +
    stringFieldSize(line.quantity) +
    stringFieldSize(line.amount) +
    int32FieldSize(line.priceVersion) +
    stringFieldSize(line.displayName) +
    stringFieldSize(line.unit) +
    stringFieldSize(line.priceId);
  for (const tier of line.tiers) size += messageFieldSize(tierContentSize(tier));
  return size;
}

function writeLine(buffer: Buffer, offset: number, line: BillLine): number {
  offset = writeStringField(buffer, offset, 0x0a, line.meterKey);
  offset = writeStringField(buffer, offset, 0x12, line.quantity);
  offset = writeStringField(buffer, offset, 0x1a, line.amount);
  offset = writeInt32Field(buffer, offset, 0x20, line.priceVersion);
  for (const tier of line.tiers) {
    buffer[offset++] = 0x2a;
    offset = writeVarint32(buffer, offset, tierContentSize(tier));
    offset = writeTier(buffer, offset, tier);
  }
  offset = writeStringField(buffer, offset, 0x32, line.displayName);
  offset = writeStringField(buffer, offset, 0x3a, line.unit);
  return writeStringField(buffer, offset, 0x42, line.priceId);
}

function tierContentSize(tier: BillLineTier): number {
  if (typeof tier !== "object" || tier === null || hasUnknownFields(tier)) return NaN;
  return stringFieldSize(tier.upTo) + stringFieldSize(tier.quantity) + stringFieldSize(tier.unitAmount) + stringFieldSize(tier.amount);
}

function writeTier(buffer: Buffer, offset: number, tier: BillLineTier): number {
  offset = writeStringField(buffer, offset, 0x0a, tier.upTo);
  offset = writeStringField(buffer, offset, 0x12, tier.quantity);
  offset = writeStringField(buffer, offset, 0x1a, tier.unitAmount);
  return writeStringField(buffer, offset, 0x22, tier.amount);
}

/** An int32 (or open enum) field: not written when 0. */
function int32FieldSize(value: number): number {
  return value === 0 ? 0 : 1 + int32Size(value);
}

function writeInt32Field(buffer: Buffer, offset: number, tag: number, value: number): number {
  if (value === 0) return offset;
  buffer[offset++] = tag;
  return writeInt32(buffer, offset, value);
}
