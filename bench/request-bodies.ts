import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetCurrentBillRequestSchema } from "../gen/ts/billing/v1/billing_service_pb.js";
import {
  BatchRecordUsageRequestSchema,
  RecordUsageRequestSchema,
  RecordUsageResponseSchema,
  StreamUsageRequestSchema,
  UsageRecordView,
} from "../gen/ts/billing/v1/usage_service_pb.js";
import { frameMessage, varintField } from "./grpc-frames.js";

/** Digits of the counter that makes every request_id unique. */
const COUNTER_DIGITS = 12;

/** What the load generator sends: described as data so it can cross the process boundary. */
export type BodySpec =
  | {
      kind: "record-usage" | "batch-record-usage" | "stream-usage";
      /** Every request_id is this prefix and a 12-digit counter; the prefix must be unique to the run. */
      idPrefix: string;
      /** Events cycle through these customers (Tally ids). */
      customerIds: string[];
      meterKey: string;
      quantity: string;
      /** Events per message; 1 for record-usage. */
      batchSize: number;
      /** Each event's attributes, cycling through these (the dimensioned figures); none when absent. */
      attributes?: Record<string, string>[];
    }
  | { kind: "get-current-bill"; customerId: string };

/**
 * A body encoded once, with the byte offsets of the counters inside it.
 * Every request_id has the same width, so a new body is a copy of the
 * template with the counters overwritten: no protobuf encoding per call.
 */
export interface BodyTemplate {
  /** The encoded message (not framed). */
  message: Buffer;
  /** Offsets in `message` of each 12-digit counter, in request order. */
  counterOffsets: number[];
}

/** The events one message of `spec` carries (0 for a read). */
export function eventsPerMessage(spec: BodySpec): number {
  return spec.kind === "get-current-bill" ? 0 : spec.batchSize;
}

/**
 * The templates of `spec`: several, one per customer (or per customer
 * rotation of a batch), so consecutive calls spread over customers.
 */
export function buildTemplates(spec: BodySpec): BodyTemplate[] {
  if (spec.kind === "get-current-bill") {
    return [{ message: Buffer.from(toBinary(GetCurrentBillRequestSchema, create(GetCurrentBillRequestSchema, { customerId: spec.customerId }))), counterOffsets: [] }];
  }
  const placeholder = `${spec.idPrefix}${"0".repeat(COUNTER_DIGITS)}`;
  const item = (index: number) =>
    create(RecordUsageRequestSchema, {
      requestId: placeholder,
      customerId: spec.customerIds[index % spec.customerIds.length]!,
      meterKey: spec.meterKey,
      quantity: spec.quantity,
      attributes: spec.attributes === undefined ? {} : spec.attributes[index % spec.attributes.length]!,
    });
  return spec.customerIds.map((_, rotation) => {
    let encoded: Uint8Array;
    if (spec.kind === "record-usage") {
      encoded = toBinary(RecordUsageRequestSchema, item(rotation));
    } else {
      const requests = Array.from({ length: spec.batchSize }, (_, index) => item(rotation + index));
      encoded =
        spec.kind === "batch-record-usage"
          ? toBinary(BatchRecordUsageRequestSchema, create(BatchRecordUsageRequestSchema, { requests, atomic: false, view: UsageRecordView.BASIC }))
          : toBinary(StreamUsageRequestSchema, create(StreamUsageRequestSchema, { requests, view: UsageRecordView.BASIC }));
    }
    const message = Buffer.from(encoded);
    const counterOffsets: number[] = [];
    for (let at = message.indexOf(placeholder); at >= 0; at = message.indexOf(placeholder, at + placeholder.length)) {
      counterOffsets.push(at + spec.idPrefix.length);
    }
    if (counterOffsets.length !== eventsPerMessage(spec)) {
      throw new Error(`found ${counterOffsets.length} request ids in a template of ${eventsPerMessage(spec)} events`);
    }
    return { message, counterOffsets };
  });
}

/** Writes `value` as COUNTER_DIGITS ASCII digits at `offset`. */
function writeCounter(target: Buffer, offset: number, value: number): void {
  let rest = value;
  for (let digit = COUNTER_DIGITS - 1; digit >= 0; digit--) {
    target[offset + digit] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/**
 * Makes bodies from templates: each call gets a fresh buffer (HTTP/2 may
 * still hold the previous one) with fresh counters, framed for gRPC (5-byte
 * prefix) or bare for Connect. A stream message also gets its sequence
 * appended as field 2 (protobuf merges concatenated fields).
 */
export function createBodyFactory(templates: BodyTemplate[], framing: "grpc" | "bare") {
  let counter = 0;
  let rotation = 0;
  return {
    /** The next body; `sequence` ≥ 0 appends StreamUsageRequest.sequence. */
    next(sequence = -1): Buffer {
      const template = templates[rotation]!;
      rotation = (rotation + 1) % templates.length;
      const tail = sequence >= 0 ? varintField(2, sequence) : undefined;
      const length = template.message.length + (tail?.length ?? 0);
      const prefix = framing === "grpc" ? 5 : 0;
      const body = Buffer.allocUnsafe(prefix + length);
      if (prefix === 5) {
        body[0] = 0;
        body.writeUInt32BE(length, 1);
      }
      template.message.copy(body, prefix);
      if (tail !== undefined) tail.copy(body, prefix + template.message.length);
      for (const offset of template.counterOffsets) writeCounter(body, prefix + offset, counter++);
      return body;
    },
  };
}

/**
 * The echo server's answer: a RecordUsageResponse like Tally's (a full
 * record), encoded once, so the echo moves the same bytes per call as the
 * real service and a real client could decode it.
 */
export function fixedAnswer(framing: "grpc" | "bare"): Buffer {
  const now = Date.now();
  const answer = toBinary(
    RecordUsageResponseSchema,
    create(RecordUsageResponseSchema, {
      record: {
        id: "rec_0190f3c2a1b27c3e8d45f0a1b2c3d4e5",
        requestId: "echo-000000000000",
        customerId: "cus_0190f3c2a1b27c3e8d45f0a1b2c3d4e5",
        meterKey: "bench-requests",
        quantity: "1.25",
        eventTime: timestampFromMs(now),
        createTime: timestampFromMs(now),
        period: "2026-01",
      },
      replayed: false,
    }),
  );
  return framing === "grpc" ? frameMessage(answer) : Buffer.from(answer);
}
