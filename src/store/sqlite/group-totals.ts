/** Changes to running state made by one write, kept apart until the write succeeds. */
export interface StateOverlay<V> {
  get(key: readonly string[]): V | undefined;
  set(key: readonly string[], value: V): void;
  /** The write succeeded: its changes join the group's. */
  commit(): void;
}

/**
 * Running state touched by one group commit (totals rows, distinct-value
 * counts), each entry read once (from the database, or from what recent
 * groups committed) and written back once per group (just before COMMIT)
 * instead of once per event. Each write sees the
 * group's state through an overlay that is merged only when the write
 * succeeds, so a write rolled back to its savepoint leaves no trace here
 * either. Keys are the entry's primary key columns after the tenant's.
 */
export function createGroupState<V>(load: (key: readonly string[]) => V | undefined, save: (key: readonly string[], value: V) => void, maxRemembered = 0) {
  const group = new Map<string, { key: readonly string[]; value: V | undefined }>();
  /**
   * Up to `maxRemembered` entries as the last committed groups left them (the database's values), most
   * recently committed last: a group reads these instead of the database. Only the writer that keeps them
   * changes these tables, so they stay true until a group fails or another connection writes the file (the
   * writer then calls forget()).
   */
  const remembered = new Map<string, { key: readonly string[]; value: V | undefined }>();
  const dirty = new Set<string>();
  /** Each entry as the group found it in the database, for the alerts (what changed from what). */
  const initial = new Map<string, V | undefined>();
  const textOf = (key: readonly string[]) => key.join("\u0000");

  return {
    overlay(): StateOverlay<V> {
      const changes = new Map<string, { key: readonly string[]; value: V }>();
      return {
        get(key) {
          const text = textOf(key);
          const changed = changes.get(text);
          if (changed !== undefined) return changed.value;
          let entry = group.get(text);
          if (entry === undefined) {
            group.set(text, (entry = remembered.get(text) ?? { key, value: load(key) }));
            initial.set(text, entry.value);
          }
          return entry.value;
        },
        set(key, value) {
          changes.set(textOf(key), { key, value });
        },
        commit() {
          for (const [text, change] of changes) {
            group.set(text, change);
            dirty.add(text);
          }
          changes.clear();
        },
      };
    },
    /** Every entry the group changed so far: its key, as the database held it, and as the group leaves it. */
    changes(): { key: readonly string[]; before: V | undefined; after: V }[] {
      return [...dirty].map((text) => ({ key: group.get(text)!.key, before: initial.get(text), after: group.get(text)!.value! }));
    },
    /** Writes every changed entry; runs inside the group's transaction, before COMMIT. */
    flush(): void {
      for (const text of dirty) {
        const entry = group.get(text)!;
        save(entry.key, entry.value!);
      }
      dirty.clear();
    },
    /** The group committed: what it read and wrote is what the database holds now. */
    committed(): void {
      if (maxRemembered === 0) return;
      for (const [text, entry] of group) {
        remembered.delete(text); // re-inserted last: the least recently committed go first
        remembered.set(text, entry);
      }
      for (const text of remembered.keys()) {
        if (remembered.size <= maxRemembered) break;
        remembered.delete(text);
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
