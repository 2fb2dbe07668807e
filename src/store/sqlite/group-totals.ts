/** Changes to running state made by one write, kept apart until the write succeeds. */
export interface StateOverlay<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /** The write succeeded: its changes join the group's. */
  commit(): void;
}

/**
 * Running state touched by one group commit (totals rows, distinct-value
 * counts), each entry read once (from the database, or from what recent
 * groups committed) and written back once per group (just before COMMIT)
 * instead of once per event. Each write sees the group's state through an
 * overlay that is merged only when the write succeeds, so a write rolled back
 * to its savepoint leaves no trace here either. Keys are the entries' keys of
 * src/store/running-state.ts (TotalsKey, ValueKey).
 */
export function createGroupState<V>(load: (key: string) => V | undefined, save: (key: string, value: V) => void, maxRemembered = 0) {
  const group = new Map<string, V | undefined>();
  /**
   * Up to `maxRemembered` entries as the last committed groups left them (the database's values), most
   * recently committed last: a group reads these instead of the database. Only the writer that keeps them
   * changes these tables, so they stay true until a group fails or another connection writes the file (the
   * writer then calls forget()).
   */
  const remembered = new Map<string, V | undefined>();
  const dirty = new Set<string>();
  /** Each entry as the group found it in the database, for the alerts (what changed from what). */
  const initial = new Map<string, V | undefined>();

  return {
    overlay(): StateOverlay<V> {
      const changes = new Map<string, V>();
      return {
        get(key) {
          const changed = changes.get(key);
          if (changed !== undefined) return changed;
          if (group.has(key)) return group.get(key);
          const value = remembered.has(key) ? remembered.get(key) : load(key);
          group.set(key, value);
          initial.set(key, value);
          return value;
        },
        set(key, value) {
          changes.set(key, value);
        },
        commit() {
          for (const [key, value] of changes) {
            group.set(key, value);
            dirty.add(key);
          }
          changes.clear();
        },
      };
    },
    /** Every entry the group changed so far: its key, as the database held it, and as the group leaves it. */
    changes(): { key: string; before: V | undefined; after: V }[] {
      return [...dirty].map((key) => ({ key, before: initial.get(key), after: group.get(key)! }));
    },
    /** Writes every changed entry; runs inside the group's transaction, before COMMIT. */
    flush(): void {
      for (const key of dirty) save(key, group.get(key)!);
      dirty.clear();
    },
    /** The group committed: what it read and wrote is what the database holds now. */
    committed(): void {
      if (maxRemembered === 0) return;
      for (const [key, value] of group) {
        remembered.delete(key); // re-inserted last: the least recently committed go first
        remembered.set(key, value);
      }
      for (const key of remembered.keys()) {
        if (remembered.size <= maxRemembered) break;
        remembered.delete(key);
      }
    },
    /** Trusts nothing remembered: a group failed, or another connection wrote the file. */
    forget(): void {
      remembered.clear();
    },
    /** Forgets the group (committed or not): the next one starts from what is remembered or the database. */
    clear(): void {
      group.clear();
      dirty.clear();
      initial.clear();
    },
  };
}
