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
 * committing.
 */
export function createGroupCommit(db: Database.Database, options: GroupCommitOptions = {}) {
  const maxGroupSize = options.maxGroupSize ?? 4000;
  let queue: PendingWrite[] = [];
  let scheduled = false;

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
        results = commitGroup.immediate(group);
        options.onCommitted?.(group.length, (performance.now() - started) / 1000);
      } catch (error) {
        for (const pending of group) pending.reject(error);
        continue;
      } finally {
        options.afterGroup?.();
      }
      group.forEach((pending, index) => {
        const result = results[index]!;
        if (result.ok) pending.resolve(result.value);
        else pending.reject(result.value);
      });
    }
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
