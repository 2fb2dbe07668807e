import type Database from "better-sqlite3";

/** Options of the group commit. */
export interface GroupCommitOptions {
  /** Most writes in one transaction; more wait for the next one. Default 4000. */
  maxGroupSize?: number;
  /** Runs inside each group's transaction after its writes, before COMMIT (e.g. to write deferred totals). Default none. */
  beforeCommit?: () => void;
  /** Runs after each group, committed or not (e.g. to drop per-group state). Default none. */
  afterGroup?: () => void;
  /** Told the size of each committed group and how long its transaction took, fsync included (for metrics). Default none. */
  onCommitted?: (writes: number, seconds: number) => void;
  /**
   * How long a group waits for another process's write lock before its
   * writes fail with SQLITE_BUSY, in ms. The wait is asynchronous: the event
   * loop keeps serving reads, health and everything else meanwhile. Default 5000.
   */
  lockWaitMs?: number;
}

interface PendingWrite {
  write: () => unknown;
  /** Run inside a savepoint of its own (a write that may throw after changing rows). */
  savepoint: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: writes that arrive together are committed together. Each
 * write is queued; on the next turn of the event loop every queued write runs
 * in ONE `BEGIN IMMEDIATE` transaction, then a single COMMIT (one fsync with
 * synchronous=FULL) makes them all durable, and only then is each one's
 * promise settled. A write submitted with a savepoint that throws rolls back
 * its own savepoint and fails alone. A write without one must throw only
 * before it changes anything (its checks come first; its one INSERT is
 * atomic by itself); if it throws anyway, the whole group is rolled back and
 * fails, so nothing half-done is ever committed. A failed COMMIT fails every
 * write of the group. At low load a write waits one event-loop turn; under
 * load a group holds everything that arrived while the previous group was
 * committing. When another process holds the database's write lock, the
 * group waits for it without blocking the event loop, up to lockWaitMs.
 */
export function createGroupCommit(db: Database.Database, options: GroupCommitOptions = {}) {
  const maxGroupSize = options.maxGroupSize ?? 4000;
  let queue: PendingWrite[] = [];
  let scheduled = false;
  const lockWaitMs = options.lockWaitMs ?? 5000;
  // The connection's own busy timeout blocks the thread while it waits; the
  // group's BEGIN runs without it and waits below instead. Other writes on
  // the connection (outside the group commit) keep it.
  const connectionBusyTimeout = db.pragma("busy_timeout", { simple: true }) as number;
  let lockWait: { since: number; attempts: number } | undefined;

  const commitGroup = db.transaction((group: PendingWrite[]) => {
    const results: { ok: boolean; value: unknown }[] = [];
    for (const pending of group) {
      if (!pending.savepoint) {
        results.push({ ok: true, value: pending.write() });
        continue;
      }
      try {
        results.push({ ok: true, value: db.transaction(pending.write)() });
      } catch (error) {
        // A full disk or an I/O error can make SQLite roll back the whole
        // transaction, not just the savepoint: the writes after this one
        // would then run (and commit) outside it. The group fails instead.
        if (!db.inTransaction) throw error;
        results.push({ ok: false, value: error });
      }
    }
    options.beforeCommit?.();
    return results;
  });

  function flush(): void {
    scheduled = false;
    while (queue.length > 0) {
      const group = queue.length <= maxGroupSize ? queue : queue.slice(0, maxGroupSize);
      queue = queue.length <= maxGroupSize ? [] : queue.slice(maxGroupSize);
      let results: { ok: boolean; value: unknown }[];
      const started = performance.now();
      try {
        db.pragma("busy_timeout = 0");
        results = commitGroup.immediate(group);
        options.onCommitted?.(group.length, (performance.now() - started) / 1000);
      } catch (error) {
        if (waitingForLock(error)) {
          queue = group.concat(queue);
          return;
        }
        lockWait = undefined;
        for (const pending of group) pending.reject(error);
        continue;
      } finally {
        db.pragma(`busy_timeout = ${connectionBusyTimeout}`);
        options.afterGroup?.();
      }
      lockWait = undefined;
      group.forEach((pending, index) => {
        const result = results[index]!;
        if (result.ok) pending.resolve(result.value);
        else pending.reject(result.value);
      });
    }
  }

  /**
   * Whether a group that failed with `error` should try again later: another
   * process holds the write lock (nothing of the group ran) and the group has
   * waited less than lockWaitMs. Schedules the next attempt, backing off from
   * 5 to 100 ms.
   */
  function waitingForLock(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || db.inTransaction) return false;
    lockWait ??= { since: Date.now(), attempts: 0 };
    if (Date.now() - lockWait.since >= lockWaitMs) return false;
    scheduled = true;
    setTimeout(flush, Math.min(100, 5 * 2 ** lockWait.attempts++));
    return true;
  }

  return {
    /**
     * Runs `write` (synchronous SQL) in the next group's transaction; resolves
     * with its result once the group is durable, or rejects with what it threw.
     * `savepoint`: the write may throw after changing rows (it then fails
     * alone); without it, it must throw only before changing anything.
     */
    submit<T>(write: () => T, options: { savepoint: boolean } = { savepoint: false }): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ write, savepoint: options.savepoint, resolve: resolve as (value: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Resolves once every write submitted so far has been committed (or failed). */
    async drain(): Promise<void> {
      while (scheduled || queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
