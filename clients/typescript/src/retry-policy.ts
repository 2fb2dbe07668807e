import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";

/**
 * How the client retries, after gRFC A6 (gRPC retries) and Stripe's client:
 * capped exponential backoff with full jitter, a per-attempt timeout inside an
 * overall deadline, and a token bucket that stops retries when most calls fail.
 */
export interface RetryOptions {
  /** Attempts per logical call, the first included. Default 5. */
  maxAttempts: number;
  /** Upper bound of the first backoff, in ms. Default 100. */
  initialBackoffMs: number;
  /** Upper bound of any backoff, in ms. Default 5000. */
  maxBackoffMs: number;
  /** Growth of the backoff bound per attempt. Default 2. */
  backoffMultiplier: number;
  /** Timeout of one attempt, in ms (never past the overall deadline). Default 10000. */
  attemptTimeoutMs: number;
  /**
   * The retry budget (gRFC A6 retry throttling): a bucket of `maxTokens`
   * tokens; a retryable failure takes one, a success returns `tokenRatio`.
   * Retries (not first attempts) are made only while more than half the
   * tokens are left, so an outage does not become a retry storm. Default
   * { maxTokens: 20, tokenRatio: 0.1 }.
   */
  budget: { maxTokens: number; tokenRatio: number };
}

/** The defaults of every retry option. */
export const DEFAULT_RETRY_OPTIONS: RetryOptions = {
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  backoffMultiplier: 2,
  attemptTimeoutMs: 10_000,
  budget: { maxTokens: 20, tokenRatio: 0.1 },
};

/** Retry options with every unset field defaulted. */
export function retryOptions(overrides: Partial<RetryOptions> = {}): RetryOptions {
  return { ...DEFAULT_RETRY_OPTIONS, ...overrides, budget: { ...DEFAULT_RETRY_OPTIONS.budget, ...overrides.budget } };
}

/** Codes that say the request never took effect or may be repeated safely. */
const ALWAYS_RETRYABLE = new Set([Code.Unavailable, Code.ResourceExhausted, Code.Aborted]);

/**
 * Codes that are safe to retry only because every Tally call is either
 * read-only or carries a request_id, so a repeat cannot double anything:
 * a fault that may have happened after the server acted, and a reset stream
 * (connect-node reports a reset HTTP/2 stream as CANCELED).
 */
const RETRYABLE_WITH_REQUEST_ID = new Set([Code.Internal, Code.Unknown, Code.Canceled]);

/**
 * Reasons that are a standing decision, not a passing overload, whatever the
 * code they come with: a tenant at its quota, or a customer at a usage limit,
 * stays there until someone raises something (or a new period starts), so
 * repeating the call only repeats the refusal.
 */
const STANDING_REFUSALS = new Set(["QUOTA_EXCEEDED", "USAGE_LIMIT_EXCEEDED"]);

/**
 * Whether a failed attempt may be retried. Never the caller's own mistakes or
 * the server's decisions (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
 * PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, OUT_OF_RANGE, a
 * tenant's quota, a usage limit, UNIMPLEMENTED, ...), never a cancellation the caller asked for, and a
 * DEADLINE_EXCEEDED only when it was the attempt's own timeout, not the
 * overall deadline.
 */
export function isRetryable(error: ConnectError, context: { callerCancelled: boolean; overallDeadlinePassed: boolean }): boolean {
  if (context.callerCancelled) return false;
  if (error.code === Code.DeadlineExceeded) return !context.overallDeadlinePassed;
  if (STANDING_REFUSALS.has(error.findDetails(ErrorInfoSchema)[0]?.reason ?? "")) return false;
  return ALWAYS_RETRYABLE.has(error.code) || RETRYABLE_WITH_REQUEST_ID.has(error.code);
}

/**
 * The delay before attempt `attempt + 1` (attempt counts from 1): full
 * jitter, uniformly between 0 and min(maxBackoff, initial × multiplier^(attempt-1)).
 */
export function backoffDelayMs(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const bound = Math.min(options.maxBackoffMs, options.initialBackoffMs * options.backoffMultiplier ** (attempt - 1));
  return Math.floor(random() * bound);
}

/**
 * The delay the server asked for: google.rpc.RetryInfo in the error details,
 * else a `retry-after` header in seconds; undefined when it asked for none.
 */
export function serverRetryDelayMs(error: ConnectError): number | undefined {
  const [retryInfo] = error.findDetails(RetryInfoSchema);
  if (retryInfo?.retryDelay !== undefined) {
    return Number(retryInfo.retryDelay.seconds) * 1000 + Math.ceil(retryInfo.retryDelay.nanos / 1_000_000);
  }
  const retryAfter = error.metadata.get("retry-after");
  if (retryAfter !== null && /^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
  return undefined;
}

/** The retry budget of one client: a token bucket shared by all its calls. */
export class RetryBudget {
  private tokens: number;

  constructor(private readonly options: RetryOptions["budget"]) {
    this.tokens = options.maxTokens;
  }

  /** A retryable failure spends a token. */
  recordFailure(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  /** A success earns back part of one. */
  recordSuccess(): void {
    this.tokens = Math.min(this.options.maxTokens, this.tokens + this.options.tokenRatio);
  }

  /** Whether a retry may be made now. */
  allowsRetry(): boolean {
    return this.tokens > this.options.maxTokens / 2;
  }
}
