/**
 * Remembers lookups of things that never change once they exist (customers
 * and meters are never edited or deleted), so the hot path does not ask the
 * store again. Misses are not remembered: the thing may be created later.
 * Bounded: past `maxEntries` it starts afresh.
 */
export function createImmutableCache<T>(maxEntries = 100_000) {
  const entries = new Map<string, T>();
  return {
    async get(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
      const known = entries.get(key);
      if (known !== undefined) return known;
      const loaded = await load();
      if (loaded !== undefined) {
        if (entries.size >= maxEntries) entries.clear();
        entries.set(key, loaded);
      }
      return loaded;
    },
  };
}
