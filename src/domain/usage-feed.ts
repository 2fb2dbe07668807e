import type { AlertEvent } from "./alerts.js";
import { customerNotFound } from "./customer-directory.js";
import type { Failure } from "./failure.js";
import type { Cursor, Scope, Store } from "./store.js";
import type { UsageRecord } from "./usage-record.js";

/** One change of the usage ledger, as the feed delivers it. */
export interface UsageChange {
  /** Where the change is in the feed, store-specific and opaque to callers. */
  cursor: Cursor;
  kind: "recorded" | "voided";
  /** The record as the change left it: not voided for "recorded", voided for "voided". */
  record: UsageRecord;
}

/**
 * Wakes the watchers of this process when a write commits, so they read at
 * once instead of at their next poll. Writes committed by other processes
 * (replicas on one PostgreSQL) are found by the poll.
 */
export interface CommitSignal {
  /** A usage write (and whatever alert events it made) committed. */
  notify(): void;
  /** How many commits were notified so far: taken before a read, handed to next() after it. */
  commits(): number;
  /**
   * Resolves at once if a commit was notified since `commits()` answered
   * `since`; else at the next notify(), after `timeoutMs`, or when `abort`
   * fires, whichever comes first.
   */
  next(since: number, timeoutMs: number, abort: AbortSignal): Promise<void>;
}

export function createCommitSignal(): CommitSignal {
  let commits = 0;
  let waiters = new Set<() => void>();
  return {
    notify() {
      commits++;
      if (waiters.size === 0) return;
      const woken = waiters;
      waiters = new Set();
      for (const wake of woken) wake();
    },
    commits: () => commits,
    next(since, timeoutMs, abort) {
      return new Promise<void>((resolve) => {
        if (abort.aborted || commits !== since) return resolve();
        const wake = () => {
          clearTimeout(timer);
          abort.removeEventListener("abort", wake);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        abort.addEventListener("abort", wake);
        waiters.add(wake);
      });
    },
  };
}

/** What the feeds need. */
export interface UsageFeedOptions {
  store: Store;
  signal: CommitSignal;
  /** How long a watcher with nothing to send waits before reading again (changes of other replicas), in ms. */
  pollIntervalMs: number;
  /** The most changes (or alert events) one streamed answer carries. */
  batchSize: number;
}

/** The use cases of the usage feed and the alert stream. */
export type UsageFeed = ReturnType<typeof createUsageFeed>;

/**
 * The usage feed and the alert stream: everything after a cursor in the
 * store's order, then live. Each step reads one bounded page from the store
 * and hands it over; the next page is read only when the consumer asks for
 * more (an async generator is pulled, and the server pulls only once the
 * previous answer was written), so a slow consumer is paced by its own
 * reading and a watcher holds at most one page in memory.
 */
export function createUsageFeed({ store, signal, pollIntervalMs, batchSize }: UsageFeedOptions) {
  /**
   * Pages of `read` after `after`, then live, until `abort` fires. A read
   * that moved the position on (changes, or a window of other customers'
   * changes) is followed by another at once; one that found nothing new
   * waits for a commit or the poll interval.
   */
  async function* follow<T>(read: (after: Cursor | null) => Promise<{ items: T[]; position: Cursor | null }>, after: Cursor | null, abort: AbortSignal): AsyncGenerator<T[]> {
    let position = after;
    while (!abort.aborted) {
      // Counted before the read, so a commit landing during it is not missed.
      const commits = signal.commits();
      const page = await read(position);
      if (page.items.length > 0) yield page.items;
      if (page.position !== null && page.position !== position) {
        position = page.position;
        continue; // more may be ready
      }
      await signal.next(commits, pollIntervalMs, abort);
    }
  }

  return {
    /** The tenant's usage changes (one customer's, with `customerRef` not ""), after `after`, then live. */
    async watchUsage(scope: Scope, customerRef: string, after: Cursor | null, abort: AbortSignal): Promise<AsyncGenerator<UsageChange[]> | Failure> {
      let customerId = "";
      if (customerRef !== "") {
        const customer = await store.findCustomer(scope, customerRef);
        if (customer === undefined) return customerNotFound(customerRef, "customer_id");
        customerId = customer.id;
      }
      const read = async (position: Cursor | null) => {
        const page = await store.readUsageChanges(scope, customerId, position, batchSize);
        return { items: page.changes, position: page.position };
      };
      // A malformed cursor is refused now, before the stream answers anything.
      const first = await read(after);
      return prepend(first.items, follow(read, first.position ?? after, abort));
    },

    /** The tenant's alert events after `after`, then live. */
    async watchAlerts(scope: Scope, after: Cursor | null, abort: AbortSignal): Promise<AsyncGenerator<AlertEvent[]>> {
      const read = async (position: Cursor | null) => {
        const events = await store.readAlertEvents(scope, position, batchSize);
        return { items: events, position: events.at(-1)?.cursor ?? null };
      };
      const first = await read(after);
      return prepend(first.items, follow(read, first.position ?? after, abort));
    },
  };
}

/** `first` (if not empty), then the rest. */
async function* prepend<T>(first: T[], rest: AsyncGenerator<T[]>): AsyncGenerator<T[]> {
  try {
    if (first.length > 0) yield first;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}
