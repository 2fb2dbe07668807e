import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { configureConnection } from "./sqlite-connection.js";
import { createSqliteWriter } from "./sqlite-writer.js";
import { FAILED, STARTED } from "./writer-start.js";
import type { FromWriter, ToWriter, WriteOp } from "./write-messages.js";

/**
 * The writer thread: the only connection that writes. Writes that arrive
 * while a group is committing wait in the thread's message queue, so the next
 * group holds all of them; each group is answered once its COMMIT returned.
 */
const { path, busyTimeoutMs, maxDimensionCombinations, started } = workerData as {
  path: string;
  busyTimeoutMs: number;
  maxDimensionCombinations: number | undefined;
  started: SharedArrayBuffer;
};
const port = parentPort!;
let groups: [number, number][] = [];
const { db, writer } = openWriter();

/** Opens the connection and prepares the writes, then tells the waiting store whether that worked. */
function openWriter() {
  const state = new Int32Array(started, 0, 1);
  try {
    const connection = new Database(path);
    configureConnection(connection, busyTimeoutMs);
    const opened = { db: connection, writer: createSqliteWriter(connection, { onCommitted: (writes, seconds) => groups.push([writes, seconds]), maxDimensionCombinations }) };
    Atomics.store(state, 0, STARTED);
    return opened;
  } catch (error) {
    const text = new TextEncoder().encode(error instanceof Error ? error.message : String(error));
    new Uint8Array(started, 4).set(text.subarray(0, started.byteLength - 4));
    Atomics.store(state, 0, FAILED);
    throw error;
  } finally {
    Atomics.notify(state, 0);
  }
}

let ids: number[] = [];
let ops: WriteOp[] = [];
let scheduled = false;

function commitQueued(): void {
  scheduled = false;
  if (ops.length === 0) return;
  const groupIds = ids;
  const replies = writer.commit(ops);
  ids = [];
  ops = [];
  port.postMessage({ type: "replies", ids: groupIds, replies: JSON.stringify(replies), groups } satisfies FromWriter);
  groups = [];
}

port.on("message", (message: ToWriter) => {
  if (message.type === "writes") {
    const arrived = JSON.parse(message.ops) as WriteOp[];
    for (let index = 0; index < message.ids.length; index++) {
      ids.push(message.ids[index]!);
      ops.push(arrived[index]!);
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(commitQueued);
    }
    return;
  }
  // close: every write sent before it has arrived; commit them, then stop.
  commitQueued();
  db.close();
  port.close();
});
