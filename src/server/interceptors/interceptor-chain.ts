import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Keyring } from "../../domain/keyring.js";
import { createAuthentication } from "./authentication.js";
import { type CallLimitsOptions, createCallLimits } from "./call-limits.js";
import { createCallLogging } from "./call-logging.js";
import { createErrorBoundary } from "./error-boundary.js";
import { createResponseBudget, type ResponseBudgetOptions } from "./response-budget.js";
import type { TallyMetrics } from "./metrics.js";
import { createTextRules } from "./text-rules.js";

/** What the chain's interceptors need. */
export interface InterceptorChainOptions {
  logger: Logger;
  keyring: Keyring;
  metrics: TallyMetrics;
  /** The draining interceptor, whose owner also drains it at shutdown. */
  draining: Interceptor;
  callLimits: CallLimitsOptions;
  /** The bytes of answers clients have not read yet, and their limit. */
  responseBudget: ResponseBudgetOptions;
  /** Serve reflection without a key. */
  publicReflection: boolean;
  /** How often an open stream's API key is verified again, in ms. */
  keyRecheckIntervalMs: number;
  /** Type names of services served without a key (the conformance runner's). */
  publicServices: string[];
  /** More interceptors, inside the limits and outside the error boundary (tests). */
  extra: Interceptor[];
}

/**
 * The one per-call interceptor chain, outermost first. connect-node runs it
 * for Connect, gRPC-Web and every gRPC call it serves, and the gRPC unary
 * fast path runs the very same array per call, so no protocol skips or
 * reorders a step:
 *
 * 1. metrics, and 2. the call log: outermost, so they count and log the
 *    status the call really ended with (the error boundary's, or a refusal);
 * 3. draining: during shutdown new calls are refused, calls in flight are awaited;
 * 4. authentication: the API key, its role, and the call's tenant;
 * 5. call limits: the tenant's rate, batch and stream sizes, the deadline
 *    cap and the caller's own deadline, a stream's lifetime;
 * 6. the response budget: reads are refused while slow readers hold too
 *    many answer bytes;
 * 7. text rules: no NUL character in any request text;
 * 8. any extra interceptors (tests);
 * 9. the error boundary: a domain failure becomes its status, anything
 *    else INTERNAL with the cause logged, never sent.
 */
export function createInterceptorChain(options: InterceptorChainOptions): Interceptor[] {
  return [
    options.metrics.interceptor,
    createCallLogging(options.logger),
    options.draining,
    createAuthentication({
      keyring: options.keyring,
      publicReflection: options.publicReflection,
      publicServices: options.publicServices,
      keyRecheckIntervalMs: options.keyRecheckIntervalMs,
    }),
    createCallLimits(options.callLimits),
    createResponseBudget(options.responseBudget),
    createTextRules(),
    ...options.extra,
    createErrorBoundary(options.logger),
  ];
}
