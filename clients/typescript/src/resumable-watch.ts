import { type CallOptions, Code, ConnectError } from "@connectrpc/connect";
import { BillingError } from "./billing-error.js";
import { backoffDelayMs, isRetryable, type RetryOptions, serverRetryDelayMs } from "./retry-policy.js";

/** Options of watchUsage and watchAlerts. */
export interface WatchOptions {
  /** Ends the watch: the iteration then finishes without an error. Default none (break out of the loop instead). */
  signal?: AbortSignal;
}

/** What a resumable watch needs from the client. */
export interface ResumableWatchInit<Message, Item extends { cursor: string }> {
  /** The RPC, e.g. "WatchUsage", for errors and retry events. */
  method: string;
  /** Opens one stream after `afterCursor`. */
  open: (afterCursor: string, options: CallOptions) => AsyncIterable<Message>;
  /** The items of one streamed answer, in order. */
  itemsOf: (message: Message) => Item[];
  afterCursor: string;
  retry: RetryOptions;
  signal: AbortSignal | undefined;
  /** Told before each reconnection, with the failure and the delay. */
  onReconnect: (attempt: number, delayMs: number, serverDelay: boolean, error: ConnectError) => void;
}

/**
 * A server stream that a consumer follows for as long as it likes: its
 * items one by one, and after a disconnect (a reset, a server restarting or
 * shutting down, a stream lifetime reached, the stream ending) the stream is
 * opened again after the cursor of the last item handed out, with the
 * client's backoff between attempts. So every item is handed out once, in
 * order, whatever happens to connections. A refusal that retrying cannot
 * change (a malformed cursor, a missing permission) ends the iteration with
 * a BillingError. Failures in a row are bounded by retry.maxAttempts; an
 * answer received starts the count again.
 */
export async function* resumableWatch<Message, Item extends { cursor: string }>(init: ResumableWatchInit<Message, Item>): AsyncGenerator<Item> {
  let cursor = init.afterCursor;
  let failures = 0;
  for (;;) {
    if (init.signal?.aborted) return;
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    init.signal?.addEventListener("abort", stop, { once: true });
    let error: ConnectError;
    try {
      for await (const message of init.open(cursor, { signal: attempt.signal })) {
        failures = 0;
        for (const item of init.itemsOf(message)) {
          yield item;
          cursor = item.cursor;
        }
      }
      // A watch does not end by itself: the server ended this stream (a restart, a lifetime): resume.
      error = new ConnectError("the server ended the stream", Code.Unavailable);
    } catch (cause) {
      if (init.signal?.aborted) return;
      error = ConnectError.from(cause);
    } finally {
      init.signal?.removeEventListener("abort", stop);
      attempt.abort(); // the consumer stopped early (break), or the stream is over: end the call
    }
    failures++;
    const context = { method: init.method, attempts: failures, requestId: undefined };
    if (!isRetryable(error, { callerCancelled: false, overallDeadlinePassed: false }) || error.code === Code.DeadlineExceeded) {
      throw BillingError.fromCause(error, { ...context, outcome: "refused" });
    }
    if (failures >= init.retry.maxAttempts) {
      throw BillingError.fromCause(error, { ...context, outcome: "gave-up", gaveUpBecause: `${failures} attempts in a row failed` });
    }
    const serverDelay = serverRetryDelayMs(error);
    const delayMs = serverDelay ?? backoffDelayMs(failures, init.retry);
    init.onReconnect(failures, delayMs, serverDelay !== undefined, error);
    const waited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        init.signal?.removeEventListener("abort", cancel);
        resolve(true);
      }, delayMs);
      const cancel = () => {
        clearTimeout(timer);
        resolve(false);
      };
      init.signal?.addEventListener("abort", cancel, { once: true });
    });
    if (!waited) return;
  }
}
