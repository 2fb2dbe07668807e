import { Code } from "@connectrpc/connect";
import { type RecordUsageResponse, UsageRecordView } from "../../../gen/ts/billing/v1/usage_service_pb.js";
import type { BatchSender, UsageEventInput } from "./billing-client.js";
import { newRequestId } from "./billing-client.js";
import { BillingError } from "./billing-error.js";
import { DecimalInputError, toDecimalString } from "./quantity.js";

/** Options of a usage producer. */
export interface UsageProducerOptions {
  /** Events per BatchRecordUsage call (the server takes at most 1000). Default 500. */
  maxBatch?: number;
  /** How long an event may wait for its batch to fill, in ms. Default 20. */
  maxDelayMs?: number;
  /** Events held at once, queued or being sent; past it, backpressure. Default 10000. */
  maxQueue?: number;
  /** When the queue is full: "wait" (enqueue waits for room) or "reject" (enqueue fails with RESOURCE_EXHAUSTED). Default "wait". */
  whenFull?: "wait" | "reject";
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /**
   * How batches travel: "stream" (one StreamUsage stream; needs HTTP/2),
   * "calls" (BatchRecordUsage calls) or "auto" (the stream where the client's
   * protocol allows it). Default "auto".
   */
  via?: "auto" | "stream" | "calls";
  /**
   * How much of each record an acknowledgement carries: "basic" (id,
   * request_id and period; the server does not echo back the rest) or
   * "full". Default "basic".
   */
  view?: "basic" | "full";
}

/** A batching producer of usage events. */
export interface UsageProducer {
  /**
   * Queues an event; the promise settles when the event is durable (with the
   * record, `replayed` if it was recorded before) or definitively refused or
   * given up on (a BillingError; the event's request_id is safe to send again).
   */
  enqueue(event: UsageEventInput): Promise<RecordUsageResponse>;
  /** Sends everything queued now; resolves when every event enqueued so far has settled. */
  flush(): Promise<void>;
  /** Refuses new events, then flushes. */
  close(): Promise<void>;
  /** Events waiting for room, queued, and being sent. */
  stats(): { waiting: number; queued: number; sending: number };
}

interface PendingEvent {
  request: UsageEventInput & { requestId: string; quantity: string };
  resolve(response: RecordUsageResponse): void;
  reject(error: BillingError): void;
  settled: Promise<unknown>;
}

/**
 * Groups events into batches sent in the background (by `sendBatch`: a
 * StreamUsage stream or BatchRecordUsage calls). Every event
 * gets its request_id at enqueue, so the client's retries of a batch repeat
 * it exactly and nothing is recorded twice; per-item refusals reach that
 * item's promise; nothing is dropped without its promise saying so.
 */
export function createUsageProducer(sendBatch: BatchSender, options: UsageProducerOptions = {}): UsageProducer {
  const maxBatch = options.maxBatch ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20;
  const maxQueue = options.maxQueue ?? 10_000;
  const whenFull = options.whenFull ?? "wait";
  const concurrency = options.concurrency ?? 4;
  const view = options.view === "full" ? UsageRecordView.FULL : UsageRecordView.BASIC;
  const waiting: PendingEvent[] = [];
  const queued: PendingEvent[] = [];
  const unsettled = new Set<Promise<unknown>>();
  let sending = 0;
  let batchesInFlight = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing = 0;
  let closed = false;

  function refuse(event: UsageEventInput, code: Code, reason: string, detail: string, field?: string): Promise<never> {
    return Promise.reject(
      new BillingError({
        method: "RecordUsage",
        code,
        reason,
        detail,
        fieldViolations: field === undefined ? [] : [{ field, description: detail }],
        attempts: 0,
        outcome: "refused",
        requestId: event.requestId || undefined,
      }),
    );
  }

  function admitWaiting(): void {
    while (waiting.length > 0 && queued.length + sending < maxQueue) queued.push(waiting.shift()!);
  }

  function schedule(): void {
    admitWaiting();
    while (batchesInFlight < concurrency && (queued.length >= maxBatch || (queued.length > 0 && flushing > 0))) send();
    if (queued.length > 0 && timer === undefined && batchesInFlight < concurrency) {
      timer = setTimeout(() => {
        timer = undefined;
        if (queued.length > 0 && batchesInFlight < concurrency) send();
        schedule();
      }, maxDelayMs);
    }
  }

  function send(): void {
    const batch = queued.splice(0, maxBatch);
    sending += batch.length;
    batchesInFlight++;
    sendBatch(
      batch.map((event) => event.request),
      view,
    )
      .then(
        (results) => {
          batch.forEach((event, index) => {
            const result = results[index]?.result;
            if (result?.case === "response") event.resolve(result.value);
            else if (result?.case === "error") {
              event.reject(
                new BillingError({
                  method: "RecordUsage",
                  code: result.value.code as Code,
                  reason: result.value.reason,
                  detail: result.value.message.replace(/^requests\[\d+\]: /, ""),
                  fieldViolations: result.value.fieldViolations.map(({ field, description }) => ({
                    field: field.replace(/^requests\[\d+\]\./, ""),
                    description,
                  })),
                  attempts: 1,
                  outcome: "refused",
                  requestId: event.request.requestId,
                }),
              );
            } else {
              event.reject(
                new BillingError({
                  method: "RecordUsage",
                  code: Code.Internal,
                  reason: "",
                  detail: "the server's batch answer had no result for this event",
                  fieldViolations: [],
                  attempts: 1,
                  outcome: "gave-up",
                  requestId: event.request.requestId,
                }),
              );
            }
          });
        },
        (error: unknown) => {
          for (const event of batch) {
            event.reject(
              error instanceof BillingError
                ? new BillingError({ ...error, requestId: event.request.requestId, cause: error })
                : BillingError.fromCause(error, { method: "RecordUsage", attempts: 1, outcome: "gave-up", requestId: event.request.requestId }),
            );
          }
        },
      )
      .finally(() => {
        sending -= batch.length;
        batchesInFlight--;
        schedule();
      });
  }

  function enqueue(event: UsageEventInput): Promise<RecordUsageResponse> {
    if (closed) return refuse(event, Code.FailedPrecondition, "PRODUCER_CLOSED", "the producer is closed and takes no more events");
    let quantity: string;
    try {
      quantity = toDecimalString(event.quantity, "quantity");
    } catch (error) {
      if (!(error instanceof DecimalInputError)) throw error;
      return refuse(event, Code.InvalidArgument, "INVALID_QUANTITY", `${error.description}; nothing was sent`, "quantity");
    }
    const full = queued.length + sending >= maxQueue || waiting.length > 0;
    if (full && whenFull === "reject") {
      return refuse(event, Code.ResourceExhausted, "PRODUCER_QUEUE_FULL", `the producer already holds ${maxQueue} events; retry after some are acknowledged`);
    }
    let resolve!: (response: RecordUsageResponse) => void;
    let reject!: (error: BillingError) => void;
    const promise = new Promise<RecordUsageResponse>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    unsettled.add(settled);
    void settled.then(() => unsettled.delete(settled));
    const pending: PendingEvent = {
      request: { ...event, requestId: event.requestId || newRequestId(), quantity },
      resolve,
      reject,
      settled,
    };
    (full ? waiting : queued).push(pending);
    schedule();
    return promise;
  }

  async function flush(): Promise<void> {
    const snapshot = [...unsettled];
    flushing++;
    try {
      schedule();
      await Promise.all(snapshot);
    } finally {
      flushing--;
    }
  }

  return {
    enqueue,
    flush,
    async close() {
      closed = true;
      while (unsettled.size > 0) await flush();
      if (timer !== undefined) clearTimeout(timer);
    },
    stats: () => ({ waiting: waiting.length, queued: queued.length, sending }),
  };
}
