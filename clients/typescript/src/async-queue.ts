/**
 * An async iterable fed by push(): the request side of a client stream, which
 * connect reads as a producer (the client library, the simulator) hands it
 * batches. Ends after close().
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  close(): void;
}

/** A new, empty AsyncQueue; it holds what was pushed until the reader takes it. */
export function createAsyncQueue<T>(): AsyncQueue<T> {
  const values: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  return {
    push(value) {
      if (closed) throw new Error("push after close");
      values.push(value);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (values.length > 0) yield values.shift()!;
        else if (closed) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
