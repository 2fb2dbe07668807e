import { create } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { DescMethod } from "@bufbuild/protobuf";
import type { ConnectError, Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { failureToConnectError } from "../../api/failure-status.js";

/** What the response budget needs. */
export interface ResponseBudgetOptions {
  /**
   * Answer bytes written on every connection that clients have not taken
   * yet, as of at most `maxAgeMs` ago. Required.
   */
  bufferedBytes: (maxAgeMs: number) => number;
  /** Over this many buffered bytes, calls that may answer large are refused. Required. */
  maxBufferedBytes: number;
  /** The RetryInfo delay of a refusal, in ms. Default 1000. */
  retryAfterMs?: number;
}

/**
 * Bounds the memory slow readers hold across all connections: an answer
 * stays in memory until its client takes it, and a client that never opens
 * its flow-control window takes nothing. While the bytes written and not yet
 * taken exceed maxBufferedBytes, every call that may answer large (the reads,
 * which are the methods marked NO_SIDE_EFFECTS, and reflection) is refused
 * with RESOURCE_EXHAUSTED / SERVER_BUSY and a RetryInfo delay: before its
 * handler runs (against a sum at most 50 ms old), and again once its answer
 * is made and about to be written (against a fresh sum), since a burst of
 * calls all pass the first check before any of their answers is written.
 * Writes (ingest, creates, voids) answer a few hundred bytes
 * per item and go on, and so does health, so probes still see the server.
 */
export function createResponseBudget(options: ResponseBudgetOptions): Interceptor {
  const retryAfterMs = options.retryAfterMs ?? 1_000;
  const busy = (buffered: number): ConnectError => {
    const error = failureToConnectError({
      reason: "SERVER_BUSY",
      message: `the server holds ${buffered} bytes of answers its clients have not read (limit ${options.maxBufferedBytes}); retry in ${retryAfterMs} ms`,
      fieldViolations: [],
    });
    error.details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(retryAfterMs / 1000)), nanos: (retryAfterMs % 1000) * 1_000_000 } }),
    } as never);
    return error;
  };
  // Not an async function: one reaction on the answer, without a promise of the interceptor's.
  return (next) => (request) => {
    if (!mayAnswerLarge(request.method)) return next(request);
    const before = options.bufferedBytes(50);
    if (before > options.maxBufferedBytes) return Promise.reject(busy(before));
    return next(request).then((response) => {
      if (response.stream) return response;
      const now = options.bufferedBytes(0);
      if (now > options.maxBufferedBytes) throw busy(now);
      return response;
    });
  };
}

/** Reads and reflection: calls whose answers grow with the data (pages, bills, descriptors). */
function mayAnswerLarge(method: DescMethod): boolean {
  return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || method.parent.typeName.startsWith("grpc.reflection.");
}
