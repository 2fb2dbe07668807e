import { type StoreCondition, StoreUnavailableError, type Store } from "../../domain/store.js";

/**
 * SQLite's result codes for faults of the machine rather than of the call,
 * by prefix (extended codes such as SQLITE_IOERR_FSYNC or SQLITE_BUSY_SNAPSHOT
 * share their primary code's). Anything else (a constraint, a bug) stays an
 * internal fault.
 */
const CONDITIONS: [prefix: string, condition: StoreCondition][] = [
  ["SQLITE_FULL", "full"],
  ["SQLITE_BUSY", "locked"],
  ["SQLITE_LOCKED", "locked"],
  ["SQLITE_PROTOCOL", "locked"],
  ["SQLITE_IOERR", "io"],
  ["SQLITE_CANTOPEN", "io"],
];

/** The error a store method rejects with: a StoreUnavailableError for a storage fault, else `error` itself. */
export function storageFault(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return error;
  const match = CONDITIONS.find(([prefix]) => code === prefix || code.startsWith(`${prefix}_`));
  return match === undefined ? error : new StoreUnavailableError(match[1], { cause: error });
}

/**
 * The store with every method's rejection passed through storageFault, so
 * SQLite's codes never travel past the adapter. Every Store method returns a
 * promise (one that throws synchronously is turned into a rejection too) or
 * an async iterable, whose pages are read through storageFault too.
 */
export function withStorageFaults(store: Store): Store {
  // One wrapper per method, made on its first call: a store call is on every RPC's path.
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const known = wrappers.get(property);
      if (known !== undefined) return known;
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      const wrapper = (...args: unknown[]) => {
        let result: unknown;
        try {
          result = method.apply(target, args);
        } catch (error) {
          return Promise.reject(storageFault(error));
        }
        // A method that reads in pages (liveUsageRecords) returns an async iterable, not a promise.
        if (isAsyncIterable(result)) return pagesWithStorageFaults(result);
        return Promise.resolve(result).catch((error: unknown) => {
          throw storageFault(error);
        });
      };
      wrappers.set(property, wrapper);
      return wrapper;
    },
  });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && !(value instanceof Promise) && Symbol.asyncIterator in value;
}

async function* pagesWithStorageFaults<T>(pages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* pages;
  } catch (error) {
    throw storageFault(error);
  }
}
