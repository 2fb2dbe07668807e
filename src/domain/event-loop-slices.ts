/**
 * How long one piece of a big computation (a bill of thousands of lines)
 * may hold the event loop before it lets other calls run: well under the
 * 50 ms any call may take, so a tenant's big bill cannot stall another
 * tenant's calls or /healthz.
 */
export const SLICE_MS = 10;

/** Lets every callback that is waiting (I/O, timers, other calls) run before going on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Maps `items` in order, yielding to the event loop whenever a slice of the
 * work has taken SLICE_MS: a small input is mapped in one go, never waiting.
 */
export async function mapInSlices<T, R>(items: readonly T[], map: (item: T) => R, sliceMs = SLICE_MS): Promise<R[]> {
  const results = new Array<R>(items.length);
  let sliceStart = performance.now();
  for (let index = 0; index < items.length; index++) {
    results[index] = map(items[index]!);
    // Looking at the clock every 16 items keeps its cost out of small inputs.
    if ((index & 15) === 15 && performance.now() - sliceStart >= sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return results;
}
