import { failureToConnectError } from "./failure-status.js";

/**
 * The watch streams a server holds open (health Watch, WatchUsage,
 * WatchAlerts): each holds a stream, so their number is bounded (one more is
 * RESOURCE_EXHAUSTED / WATCH_LIMIT_REACHED), and a shutdown ends them all at
 * once instead of waiting out its grace time for calls that never end.
 */
export interface WatchStreams {
  /**
   * Takes a slot for one watch, or throws WATCH_LIMIT_REACHED. The watch
   * follows `signal` (which aborts when the call ends, or the server closes)
   * and calls `release` when it is over, however it ended.
   */
  open(callSignal: AbortSignal, what: string): { signal: AbortSignal; release(): void };
  /** Whether close() was called: a watch that ended for it ends UNAVAILABLE / SHUTTING_DOWN, so clients resume elsewhere. */
  readonly closed: boolean;
  /** Ends every open watch; later ones end at once. */
  close(): void;
}

export function createWatchStreams(maxOpen: number): WatchStreams {
  let open = 0;
  const closing = new AbortController();
  return {
    open(callSignal, what) {
      if (open >= maxOpen) {
        throw failureToConnectError({
          reason: "WATCH_LIMIT_REACHED",
          message: `the server has ${maxOpen} watch streams open, its most; ${what}`,
          fieldViolations: [],
        });
      }
      open++;
      let released = false;
      return {
        signal: AbortSignal.any([callSignal, closing.signal]),
        release() {
          if (released) return;
          released = true;
          open--;
        },
      };
    },
    get closed() {
      return closing.signal.aborted;
    },
    close() {
      closing.abort();
    },
  };
}
