import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  backoffDelayMs,
  DEFAULT_RETRY_OPTIONS,
  isRetryable,
  RetryBudget,
  retryOptions,
  serverRetryDelayMs,
} from "../../clients/typescript/src/retry-policy.js";

describe("retry policy", () => {
  it("backs off with full jitter inside capped exponential bounds", () => {
    const options = retryOptions({ initialBackoffMs: 100, maxBackoffMs: 1000, backoffMultiplier: 2 });
    const bounds = [100, 200, 400, 800, 1000, 1000];
    for (const [index, bound] of bounds.entries()) {
      const attempt = index + 1;
      assert.equal(backoffDelayMs(attempt, options, () => 0), 0);
      assert.equal(backoffDelayMs(attempt, options, () => 0.999999), bound - 1);
      assert.equal(backoffDelayMs(attempt, options, () => 0.5), bound / 2);
    }
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let attempt = 1; attempt <= 10; attempt++) {
      const delay = backoffDelayMs(attempt, options, random);
      assert.ok(delay >= 0 && delay < Math.min(1000, 100 * 2 ** (attempt - 1)), `attempt ${attempt}: ${delay}`);
    }
  });

  it("retries only what is safe to retry", () => {
    const context = { callerCancelled: false, overallDeadlinePassed: false };
    const retryable = [Code.Unavailable, Code.ResourceExhausted, Code.Aborted, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.Canceled];
    const final = [
      Code.InvalidArgument,
      Code.NotFound,
      Code.AlreadyExists,
      Code.PermissionDenied,
      Code.Unauthenticated,
      Code.FailedPrecondition,
      Code.OutOfRange,
      Code.Unimplemented,
      Code.DataLoss,
    ];
    for (const code of retryable) assert.equal(isRetryable(new ConnectError("x", code), context), true, Code[code]);
    for (const code of final) assert.equal(isRetryable(new ConnectError("x", code), context), false, Code[code]);
    assert.equal(isRetryable(new ConnectError("x", Code.Canceled), { ...context, callerCancelled: true }), false);
    assert.equal(isRetryable(new ConnectError("x", Code.Unavailable), { ...context, callerCancelled: true }), false);
    assert.equal(isRetryable(new ConnectError("x", Code.DeadlineExceeded), { ...context, overallDeadlinePassed: true }), false);
  });

  it("does not retry a tenant's quota: RESOURCE_EXHAUSTED that no wait will change", () => {
    const context = { callerCancelled: false, overallDeadlinePassed: false };
    const withReason = (reason: string) =>
      new ConnectError("x", Code.ResourceExhausted, undefined, [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: "tally" }) }]);
    assert.equal(isRetryable(withReason("QUOTA_EXCEEDED"), context), false);
    assert.equal(isRetryable(withReason("RATE_LIMITED"), context), true);
    assert.equal(isRetryable(withReason("SERVER_BUSY"), context), true);
  });

  it("never retries USAGE_LIMIT_EXCEEDED: a refusal, not a passing failure, whatever code carries it", () => {
    const context = { callerCancelled: false, overallDeadlinePassed: false };
    for (const code of [Code.FailedPrecondition, Code.Aborted, Code.Unavailable, Code.ResourceExhausted]) {
      const error = new ConnectError("over the limit", code, undefined, [
        { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "USAGE_LIMIT_EXCEEDED", domain: "tally" }) },
      ]);
      assert.equal(isRetryable(error, context), false, Code[code]);
    }
    assert.equal(isRetryable(new ConnectError("not yet", Code.Unimplemented), context), false);
  });

  it("reads the delay the server asked for", () => {
    const withRetryInfo = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 1n, nanos: 250_000_000 } }) },
    ]);
    assert.equal(serverRetryDelayMs(withRetryInfo), 1250);
    assert.equal(serverRetryDelayMs(new ConnectError("busy", Code.Unavailable, { "retry-after": "3" })), 3000);
    assert.equal(serverRetryDelayMs(new ConnectError("busy", Code.Unavailable)), undefined);
  });

  it("the budget stops retries once more than half its tokens are spent, and earns them back slowly", () => {
    const budget = new RetryBudget({ maxTokens: 10, tokenRatio: 0.5 });
    for (let failure = 0; failure < 4; failure++) budget.recordFailure();
    assert.equal(budget.allowsRetry(), true); // 6 left
    budget.recordFailure();
    assert.equal(budget.allowsRetry(), false); // 5 left: not more than half
    budget.recordSuccess();
    assert.equal(budget.allowsRetry(), true); // 5.5
  });

  it("documents its defaults", () => {
    assert.deepEqual(DEFAULT_RETRY_OPTIONS, {
      maxAttempts: 5,
      initialBackoffMs: 100,
      maxBackoffMs: 5000,
      backoffMultiplier: 2,
      attemptTimeoutMs: 10000,
      budget: { maxTokens: 20, tokenRatio: 0.1 },
    });
  });
});
