import type { BillRevisions } from "./bill-revisions.js";
import type { BillingPeriod } from "./billing-period.js";
import type { Scope } from "./store.js";

/** How many customer periods one sweep of the finalizer stores at most; the rest wait for the next sweep. */
export const FINALIZER_SWEEP_LIMIT = 100;

/** How to run the background finalizer. */
export interface BillFinalizerOptions {
  revisions: BillRevisions;
  /** Time between the end of one sweep and the start of the next, in ms (the --finalize-interval setting); 0 = never. */
  intervalMs: number;
  /** Told of each customer period that could not be finalized (it is tried again at the next sweep). */
  onError: (error: unknown, due: { scope: Scope; customerId: string; period: BillingPeriod } | undefined) => void;
}

/**
 * Stores the bills of periods that have become final, in the background, so
 * that credits are consumed when a period closes rather than when someone
 * first reads its bill. Several replicas may sweep at once: finalization is
 * exactly once whoever gets there first (src/domain/bill-revisions.ts). A
 * sweep runs after the previous one ended, never two at a time in one process.
 */
export function startBillFinalizer({ revisions, intervalMs, onError }: BillFinalizerOptions): { stop(): Promise<void> } {
  if (intervalMs <= 0) return { stop: async () => undefined };
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let stopped = false;

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      sweeping = revisions
        .finalizeDue(FINALIZER_SWEEP_LIMIT, onError)
        .then(
          () => undefined,
          (error: unknown) => onError(error, undefined),
        )
        .finally(() => {
          sweeping = undefined;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  }

  schedule();
  return {
    /** Stops sweeping; resolves once a sweep under way has ended. */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await sweeping;
    },
  };
}
