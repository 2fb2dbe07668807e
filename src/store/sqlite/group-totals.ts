import type { UsageTotals } from "../../domain/usage-record.js";

type TotalsKey = string;

/** Changes to running totals made by one write, kept apart until the write succeeds. */
export interface TotalsOverlay {
  get(scope: string, customerId: string, period: string, meterKey: string): UsageTotals | undefined;
  set(scope: string, totals: UsageTotals): void;
  /** The write succeeded: its changes join the group's. */
  commit(): void;
}

/**
 * The running totals touched by one group commit, read from the database once
 * and written back once per group (just before COMMIT) instead of once per
 * event. Each write sees the group's totals through an overlay that is merged
 * only when the write succeeds, so a write rolled back to its savepoint leaves
 * no trace here either.
 */
export function createGroupTotals(
  load: (scope: string, customerId: string, period: string, meterKey: string) => UsageTotals | undefined,
  save: (scope: string, totals: UsageTotals) => void,
) {
  const group = new Map<TotalsKey, { scope: string; totals: UsageTotals | undefined }>();
  const dirty = new Set<TotalsKey>();
  const keyOf = (scope: string, customerId: string, period: string, meterKey: string) =>
    `${scope}\u0000${customerId}\u0000${period}\u0000${meterKey}`;

  return {
    overlay(): TotalsOverlay {
      const changes = new Map<TotalsKey, { scope: string; totals: UsageTotals }>();
      return {
        get(scope, customerId, period, meterKey) {
          const key = keyOf(scope, customerId, period, meterKey);
          const changed = changes.get(key);
          if (changed !== undefined) return changed.totals;
          if (!group.has(key)) group.set(key, { scope, totals: load(scope, customerId, period, meterKey) });
          return group.get(key)!.totals;
        },
        set(scope, totals) {
          changes.set(keyOf(scope, totals.customerId, totals.period, totals.meterKey), { scope, totals });
        },
        commit() {
          for (const [key, change] of changes) {
            group.set(key, change);
            dirty.add(key);
          }
          changes.clear();
        },
      };
    },
    /** Writes every changed total; runs inside the group's transaction, before COMMIT. */
    flush(): void {
      for (const key of dirty) {
        const entry = group.get(key)!;
        save(entry.scope, entry.totals!);
      }
      dirty.clear();
    },
    /** Forgets the group: the next one reads afresh. */
    clear(): void {
      group.clear();
      dirty.clear();
    },
  };
}
