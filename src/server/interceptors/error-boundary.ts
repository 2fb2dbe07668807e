import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { FailureError } from "../../domain/failure.js";
import { StoreUnavailableError } from "../../domain/store.js";
import { answerOf } from "./call-answer.js";
import { abortStatus } from "./call-end.js";
import { failureToConnectError } from "../../api/failure-status.js";

/**
 * The one choke point between thrown errors and statuses: a domain failure
 * becomes its status from the reason table; a ConnectError passes; anything
 * else is a fault, logged with its stack and answered INTERNAL without a word
 * of it (no stack, no SQL) reaching the caller. A store fault (disk full,
 * database locked, I/O error, database unreachable) is logged the same way
 * and answered UNAVAILABLE, which clients retry: the server is sound, what
 * it stands on is not. What fails because the caller went away or its
 * deadline passed (a reset stream's read, an aborted write) is the caller's
 * status, CANCELED or DEADLINE_EXCEEDED, not a fault of the server's.
 */
export function createErrorBoundary(logger: Logger): Interceptor {
  // Not an async function: one reaction on the answer, without a promise of the interceptor's.
  return (next) => (request) => {
    return answerOf(next, request).then(
      (response) => (response.stream ? { ...response, message: statusOnError(response.message, logger, request.method.name, request.signal) } : response),
      (error: unknown) => Promise.reject(toStatus(error, logger, request.method.name, request.signal)),
    );
  };
}

/** A stream's messages, with whatever its handler throws midway turned into a status. */
async function* statusOnError<T>(messages: AsyncIterable<T>, logger: Logger, method: string, signal: AbortSignal): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toStatus(error, logger, method, signal);
  }
}

/** The status a thrown value is answered with. */
export function toStatus(error: unknown, logger: Logger, method: string, signal?: AbortSignal): ConnectError {
  if (error instanceof FailureError) return failureToConnectError(error.failure);
  if (error instanceof ConnectError) return error;
  if (signal?.aborted === true) return abortStatus(signal.reason);
  if (error instanceof StoreUnavailableError) {
    logger.error({ err: error.cause, method, store: error.condition }, "store unavailable");
    return failureToConnectError({
      reason: "STORE_UNAVAILABLE",
      message: `the database is unavailable (${STORE_CONDITIONS[error.condition]}); retry later with the same request_id: it will not be recorded twice`,
      fieldViolations: [],
    });
  }
  logger.error({ err: error, method }, "internal fault");
  return failureToConnectError({
    reason: "INTERNAL",
    message: "internal error; it was logged. Retrying with the same request_id is safe",
    fieldViolations: [],
  });
}

/** How the caller is told each store condition. */
const STORE_CONDITIONS: Record<StoreUnavailableError["condition"], string> = {
  full: "the disk is full",
  locked: "locked by another writer",
  io: "an I/O error",
  unreachable: "unreachable, or it did not confirm the write",
};
