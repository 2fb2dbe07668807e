import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse, type UnaryRequest } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { answerOf } from "./call-answer.js";
import { abortStatus, callDeadline, createStreamEnd, listenForAbort, untilEnded } from "./call-end.js";
import { callerPrincipal } from "../../api/caller-scope.js";
import { failureToConnectError } from "../../api/failure-status.js";
import type { Scope } from "../../domain/store.js";

/** The limits every call is held to. */
export interface CallLimitsOptions {
  /** Most requests in one BatchRecordUsage call or one StreamUsage message. */
  maxBatchSize: number;
  /** Most messages one client stream may send. */
  maxStreamMessages: number;
  /** Longest a unary call may run, in ms, whatever deadline its caller set. */
  maxDeadlineMs: number;
  /** Longest a stream (any streaming call, health Watch included) may stay open, in ms; then it ends UNAVAILABLE. */
  maxStreamLifetimeMs: number;
  /** Calls (and stream messages) per second per tenant; 0 for no limit. */
  rateLimit: number;
  /** The token bucket's size: calls a tenant may make at once. */
  rateBurst: number;
  /** Milliseconds on a monotonic clock. Default performance.now. */
  now?: () => number;
}

/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. Written here
 * rather than taken from a library because the hot path needs a synchronous
 * take that also says how long until the next token (the RetryInfo delay).
 */
class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes a token: 0 when granted, else the milliseconds until one will be there. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}

/**
 * Holds authenticated calls to the limits: a per-tenant rate (each unary call
 * and each stream message takes a token; over it, RESOURCE_EXHAUSTED with a
 * google.rpc.RetryInfo delay the client library honours), the batch size, the
 * length of a stream, and a cap on how long a unary call may run.
 * Public calls (health) are not limited.
 */
export function createCallLimits(options: CallLimitsOptions): Interceptor {
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<Scope, TokenBucket>();

  function takeToken(tenant: Scope): void {
    if (options.rateLimit === 0) return;
    let bucket = buckets.get(tenant);
    if (bucket === undefined) {
      bucket = new TokenBucket(options.rateLimit, options.rateBurst, now());
      buckets.set(tenant, bucket);
    }
    const waitMs = bucket.take(now());
    if (waitMs > 0) throw rateLimited(tenant, waitMs);
  }

  function checkBatchSize(message: unknown, field: string): void {
    const requests = (message as { requests?: unknown }).requests;
    if (!Array.isArray(requests) || requests.length <= options.maxBatchSize) return;
    throw failureToConnectError({
      reason: "INVALID_FIELD",
      message: `${field}: at most ${options.maxBatchSize} requests per batch, got ${requests.length}`,
      fieldViolations: [{ field, description: `at most ${options.maxBatchSize} requests per batch` }],
    });
  }

  /**
   * A unary call's answer; DEADLINE_EXCEEDED once it has run maxDeadlineMs;
   * or, once it aborts (listenForAbort), the caller's own status (DEADLINE_EXCEEDED
   * when its deadline passed, CANCELED when it went away), so the call ends,
   * and is logged and counted, with the status its caller saw. A call whose
   * deadline passed before it got here is not started.
   */
  function capped<T>(next: (request: UnaryRequest) => Promise<T>, request: UnaryRequest): Promise<T> {
    const deadline = callDeadline(request.header);
    return new Promise<T>((resolve, reject) => {
      let aborted = false;
      let stopListening = () => {};
      const settle = () => {
        clearTimeout(timer);
        stopListening();
      };
      const timer = setTimeout(() => {
        settle();
        reject(new ConnectError(`the call ran longer than the server's ${options.maxDeadlineMs} ms cap`, Code.DeadlineExceeded));
      }, options.maxDeadlineMs);
      stopListening = listenForAbort(request, (reason) => {
        aborted = true;
        settle();
        reject(abortStatus(reason, deadline));
      });
      if (aborted) {
        stopListening();
        return;
      }
      answerOf(next, request).then(
        (response) => {
          settle();
          resolve(response);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /**
   * A stream ends UNAVAILABLE (reason STREAM_LIFETIME_REACHED, so clients
   * open a new one) after maxStreamLifetimeMs, and with its caller's status
   * when its signal aborts; an authenticated one is held to the tenant's
   * rate, the batch size and the most messages per stream.
   */
  function limitedStream(next: Parameters<Interceptor>[0], request: StreamRequest, tenant: Scope | undefined): Promise<StreamResponse> {
    const { signal } = request;
    const deadline = callDeadline(request.header);
    if (signal.aborted) return Promise.reject(abortStatus(signal.reason, deadline));
    const { ended, end } = createStreamEnd();
    const lifetime = setTimeout(
      () =>
        end(
          failureToConnectError({
            reason: "STREAM_LIFETIME_REACHED",
            message: `a stream may stay open at most ${options.maxStreamLifetimeMs} ms; open a new one`,
            fieldViolations: [],
          }),
        ),
      options.maxStreamLifetimeMs,
    );
    const stopListening = listenForAbort(request, (reason) => end(abortStatus(reason, deadline)));
    const finish = () => {
      clearTimeout(lifetime);
      stopListening();
    };
    const messages = request.message;
    async function* limited() {
      let count = 0;
      for await (const message of messages) {
        count++;
        if (count > options.maxStreamMessages) {
          throw failureToConnectError({
            reason: "STREAM_LIMIT_REACHED",
            message: `a stream may send at most ${options.maxStreamMessages} messages; open a new stream for the rest`,
            fieldViolations: [],
          });
        }
        takeToken(tenant!);
        checkBatchSize(message, "requests");
        yield message;
      }
    }
    return answerOf(next, tenant === undefined ? request : { ...request, message: limited() }).then(
      (response) => ({ ...response, message: untilEnded((response as StreamResponse).message, ended, finish) }) as StreamResponse,
      (error: unknown) => {
        finish();
        return Promise.reject(error);
      },
    );
  }

  // Not an async function: a unary call's limits are checked at once and its
  // answer raced against the deadline cap, without a promise of the interceptor's.
  return (next) => (request) => {
    const tenant = request.contextValues.get(callerPrincipal)?.tenant;
    if (request.stream) return limitedStream(next, request, tenant);
    if (tenant === undefined) return next(request);
    try {
      takeToken(tenant);
      checkBatchSize(request.message, "requests");
    } catch (error) {
      return Promise.reject(error);
    }
    return capped(next, request);
  };
}

function rateLimited(tenant: Scope, waitMs: number): ConnectError {
  const error = failureToConnectError({
    reason: "RATE_LIMITED",
    message: `tenant "${tenant}" is over its rate limit; retry in ${waitMs} ms`,
    fieldViolations: [],
  });
  error.details.push({
    desc: RetryInfoSchema,
    value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(waitMs / 1000)), nanos: (waitMs % 1000) * 1_000_000 } }),
  } as never);
  return error;
}
