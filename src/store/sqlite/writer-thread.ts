import { Worker } from "node:worker_threads";
import { awaitStart, startSignal } from "./writer-start.js";
import type { FromWriter, ToWriter, WriteOp, WriteReply, WriteReplyValue } from "./write-messages.js";

/** How to start the writer thread. */
export interface WriterThreadOptions {
  /** The database file (already created and migrated). */
  path: string;
  /** How long a write waits for another connection's lock before failing, in ms. */
  busyTimeoutMs: number;
  /** Told the size and duration of each group commit (for metrics). Default none. */
  onGroupCommitted?: (writes: number, seconds: number) => void;
  /** Most combinations of dimension values with usage per customer, meter and period. Default DEFAULT_MAX_DIMENSION_COMBINATIONS. */
  maxDimensionCombinations?: number;
}

/**
 * The thread's module. Compiled (dist/, what `tally` runs), it is the thread's
 * compiled module itself. From the TypeScript sources (tests and scripts run
 * through tsx), it is an entry that registers tsx first, because a worker does
 * not inherit the main thread's loader hooks on Node 20.
 */
const WRITER_THREAD_ENTRY = import.meta.url.endsWith(".ts")
  ? new URL("./writer-thread-entry.mjs", import.meta.url)
  : new URL("./writer-thread-main.js", import.meta.url);

interface Pending {
  resolve: (value: WriteReplyValue) => void;
  reject: (error: Error) => void;
}

/**
 * The store's side of the writer thread. Writes submitted during one turn of
 * the event loop are posted together; each promise settles when the thread
 * answers, which it does only after the write's transaction is durable. SQL
 * and fsync run on the thread, so the event loop keeps serving calls while a
 * group commits. If the thread dies, every write it had been sent and not
 * answered fails (whether it was committed is then unknown, which a retry
 * with the same request_id settles); writes not yet sent go to a new thread.
 */
export function createWriterThread(options: WriterThreadOptions) {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | undefined;
  let queuedIds: number[] = [];
  let queuedOps: WriteOp[] = [];
  let scheduled = false;
  let closing: Promise<void> | undefined;

  /** Starts a thread and waits until it has opened the database. */
  function start(): Worker {
    const started = startSignal();
    const thread = new Worker(WRITER_THREAD_ENTRY, {
      workerData: { path: options.path, busyTimeoutMs: options.busyTimeoutMs, maxDimensionCombinations: options.maxDimensionCombinations, started },
      // Not the process's flags (--input-type, --cpu-prof, ...): from the sources, the entry registers its own loader.
      execArgv: [],
    });
    thread.on("message", (message: FromWriter) => {
      const replies = JSON.parse(message.replies) as WriteReply[];
      for (const [writes, seconds] of message.groups) options.onGroupCommitted?.(writes, seconds);
      message.ids.forEach((id, index) => {
        const waiting = pending.get(id);
        if (waiting === undefined) return;
        pending.delete(id);
        if (pending.size === 0 && closing === undefined) thread.unref(); // an idle writer does not keep the process alive
        const reply = replies[index]!;
        if (reply.ok) waiting.resolve(reply.value);
        else waiting.reject(Object.assign(new Error(reply.error.message), reply.error));
      });
    });
    let failure: Error | undefined;
    thread.on("error", (error) => (failure = error));
    thread.on("exit", (code) => {
      if (worker === thread) worker = undefined;
      const cause = failure ?? new Error(`the SQLite writer thread exited (code ${code}) before answering`);
      // Only what the thread was sent is in doubt; writes still queued here go to the next thread.
      for (const [id, waiting] of pending) {
        if (id >= firstQueuedId()) continue;
        pending.delete(id);
        waiting.reject(new Error(`the write's outcome is unknown: ${cause.message}`, { cause }));
      }
    });
    try {
      awaitStart(started);
    } catch (error) {
      void thread.terminate();
      throw error;
    }
    return thread;
  }

  /** Ids grow in submission order: every id below the first queued one has been sent. */
  function firstQueuedId(): number {
    return queuedIds[0] ?? nextId;
  }

  function post(): void {
    scheduled = false;
    if (queuedIds.length === 0) return;
    try {
      worker ??= start();
    } catch (error) {
      // No thread to write with: these writes were never sent.
      for (const id of queuedIds) {
        pending.get(id)?.reject(error as Error);
        pending.delete(id);
      }
      queuedIds = [];
      queuedOps = [];
      return;
    }
    worker.ref(); // answers are owed: stay alive for them
    worker.postMessage({ type: "writes", ids: queuedIds, ops: JSON.stringify(queuedOps) } satisfies ToWriter);
    queuedIds = [];
    queuedOps = [];
  }

  worker = start();
  worker.unref();

  return {
    /** Runs `op` on the writer thread; resolves once its transaction is durable. */
    submit(op: WriteOp): Promise<WriteReplyValue> {
      if (closing !== undefined) return Promise.reject(new Error("the store is closed"));
      return new Promise<WriteReplyValue>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        queuedIds.push(id);
        queuedOps.push(op);
        if (!scheduled) {
          scheduled = true;
          setImmediate(post);
        }
      });
    },
    /** Commits every write submitted so far, then stops the thread. */
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        post();
        const thread = worker;
        if (thread === undefined) return resolve();
        thread.ref();
        thread.once("exit", () => resolve());
        thread.postMessage({ type: "close" } satisfies ToWriter);
      });
      return closing;
    },
  };
}
