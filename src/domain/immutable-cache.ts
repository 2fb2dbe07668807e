/**
 * Remembers lookups of things that never change once they exist (customers
 * and meters are never edited or deleted), so the hot path does not ask the
 * store again. Misses are not remembered: the thing may be created later.
 * Bounded: past `maxEntries` it starts afresh.
 */
export function createImmutableCache<T>(maxEntries = 100_000) {
  // Keyed by scope, then key: no joined key string to build on every lookup.
  const scopes = new Map<string, Map<string, T>>();
  let size = 0;
  /** The remembered value, or undefined; synchronous, so a hit costs no await. */
  function peek(scope: string, key: string): T | undefined {
    return scopes.get(scope)?.get(key);
  }

  return {
    peek,

    /** The remembered value, or what `load` finds (remembered if found). */
    async get(scope: string, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
      const known = peek(scope, key);
      if (known !== undefined) return known;
      const loaded = await load();
      if (loaded !== undefined) {
        if (size >= maxEntries) {
          scopes.clear();
          size = 0;
        }
        let entries = scopes.get(scope);
        if (entries === undefined) scopes.set(scope, (entries = new Map()));
        if (!entries.has(key)) size++;
        entries.set(key, loaded);
      }
      return loaded;
    },
  };
}
