/**
 * The writer thread's start, shared by the store and the thread: the store
 * waits (blocking, like the rest of opening a database) until the thread has
 * opened its connection, so a store that opens can write at once and a
 * thread that cannot open the database fails the open with its reason.
 * The buffer holds a state (Int32 at 0) and the failure's text (from byte 4).
 */
export const STARTING = 0;
export const STARTED = 1;
export const FAILED = 2;

/** How long opening waits for the thread, in ms. */
const START_TIMEOUT_MS = 60_000;

/** A buffer for the thread to report its start in. */
export function startSignal(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 + 1024);
}

/** Blocks until the thread reports; throws its reason if it could not start. */
export function awaitStart(signal: SharedArrayBuffer): void {
  const state = new Int32Array(signal, 0, 1);
  Atomics.wait(state, 0, STARTING, START_TIMEOUT_MS);
  const outcome = Atomics.load(state, 0);
  if (outcome === STARTED) return;
  if (outcome === STARTING) throw new Error(`the SQLite writer thread did not start within ${START_TIMEOUT_MS / 1000} s`);
  const text = new TextDecoder().decode(new Uint8Array(signal, 4)).replace(/\0+$/, "");
  throw new Error(`the SQLite writer thread could not open the database: ${text}`);
}
