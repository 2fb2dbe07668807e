import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The status of a call that aborted (with `abortReason`, its signal's
 * reason): DEADLINE_EXCEEDED when the
 * caller's deadline passed, else the reason connect-node or the fast path
 * gave, else CANCELED: the caller went away. gRPC and Connect clients reset
 * the call the same way whether their deadline passed or they gave up, and
 * they count the deadline from before sending (connecting, queueing), so
 * the server sees a deadline's reset early, by however long the request
 * took to arrive and be read, which a loaded machine stretches to hundreds
 * of milliseconds. A reset in the second half of the caller's timeout
 * (`deadline`, from `callDeadline`) is told as its deadline passing.
 */
export function abortStatus(abortReason: unknown, deadline?: CallDeadline): ConnectError {
  const reason = abortReason instanceof ConnectError ? abortReason : new ConnectError("the client cancelled the call", Code.Canceled);
  if (reason.code === Code.Canceled && deadline !== undefined && performance.now() >= deadline.at - deadline.toleranceMs) {
    return new ConnectError("the operation timed out", Code.DeadlineExceeded);
  }
  return reason;
}

/**
 * Where a request may carry a cheaper way to hear of its abort than its
 * AbortSignal: the gRPC unary fast path's requests do (grpc-unary-fast-path.ts),
 * whose signal is made only when something asks for it, because a signal
 * with a listener cost each unary call more than the rest of its interceptors.
 */
export const ABORT_LISTENER = Symbol("tally.abortListener");

/** Calls `listener` once, with the abort's reason, when the call aborts; returns a function that stops listening. */
export type AbortListener = (listener: (reason: unknown) => void) => () => void;

/**
 * Tells `listener` when the call aborts (its caller went away, or its
 * deadline passed), with the abort's reason, at once if it already has;
 * returns a function that stops listening. Through ABORT_LISTENER when the
 * request has one, else through its signal.
 */
export function listenForAbort(request: { readonly signal: AbortSignal }, listener: (reason: unknown) => void): () => void {
  const cheaper = (request as { [ABORT_LISTENER]?: AbortListener })[ABORT_LISTENER];
  if (cheaper !== undefined) return cheaper(listener);
  const { signal } = request;
  if (signal.aborted) {
    listener(signal.reason);
    return () => {};
  }
  const onAbort = () => listener(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** When a caller's deadline passes, on performance.now()'s clock. */
export interface CallDeadline {
  at: number;
  toleranceMs: number;
}

/**
 * The deadline a call's headers set (gRPC and gRPC-Web: grpc-timeout;
 * Connect: connect-timeout-ms), counted from now; undefined without one or
 * with a malformed one (the protocol handler refuses those).
 */
export function callDeadline(header: Headers): CallDeadline | undefined {
  const grpcTimeout = header.get("grpc-timeout");
  const connectTimeout = grpcTimeout === null ? header.get("connect-timeout-ms") : null;
  if (grpcTimeout === null && connectTimeout === null) return undefined;
  let timeoutMs: number | undefined;
  if (grpcTimeout !== null) timeoutMs = grpcTimeoutMs(grpcTimeout);
  else if (/^\d{1,10}$/.test(connectTimeout!)) timeoutMs = Number(connectTimeout);
  if (timeoutMs === undefined) return undefined;
  return { at: performance.now() + timeoutMs, toleranceMs: Math.max(25, timeoutMs * 0.5) };
}

/**
 * The milliseconds of a `grpc-timeout` value (gRPC over HTTP/2:
 * "TimeoutValue TimeoutUnit", at most 8 digits, units H M S m u n);
 * undefined when it is malformed.
 */
export function grpcTimeoutMs(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  return match === null ? undefined : Number(match[1]) * TIMEOUT_UNIT_MS[match[2] as keyof typeof TIMEOUT_UNIT_MS];
}

/** grpc-timeout's units, in ms. */
const TIMEOUT_UNIT_MS = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * A promise that rejects with the first reason given to `end` and never
 * resolves: a stream is raced against it to be ended from outside (a revoked
 * key, the lifetime cap, the caller's deadline). It never rejects unhandled.
 */
export function createStreamEnd(): { ended: Promise<never>; end(reason: ConnectError): void } {
  let end!: (reason: ConnectError) => void;
  const ended = new Promise<never>((_, reject) => {
    end = reject;
  });
  ended.catch(() => undefined);
  return { ended, end };
}

/**
 * A stream's messages until `ended` rejects: the stream then fails with that
 * status, at once, even while its handler waits for the caller's next
 * message. `onFinish` runs when the stream is over, however it ended.
 */
export async function* untilEnded<T>(messages: AsyncIterable<T>, ended: Promise<never>, onFinish: () => void): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), ended]);
      if (next.done === true) {
        exhausted = true;
        return;
      }
      yield next.value;
    }
  } finally {
    onFinish();
    // Not awaited: a handler suspended on the caller's next message finishes its step first.
    if (!exhausted) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
