import Database from "better-sqlite3";

/**
 * Reads a Tally database file directly, behind the server's back, to judge
 * what a crash left: SQLite's own integrity check, the idempotency keys, and
 * whether the running totals still equal what the ledger rows add up to. The
 * arithmetic here is written independently of src/domain on purpose: a shared
 * bug must not be able to agree with itself.
 */

/** Fraction digits every decimal is compared at; more than any meter allows. */
const SCALE = 9;

/** A plain decimal string ("12.5", "0", "1500.125") as an integer of 10^-9 units. */
export function toNanoUnits(text: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (match === null) throw new Error(`not a plain non-negative decimal: "${text}"`);
  return BigInt(match[1]! + (match[2] ?? "").padEnd(SCALE, "0"));
}

/** 10^-9 units back to the shortest plain decimal string ("12.5", "0"). */
export function fromNanoUnits(units: bigint): string {
  const whole = units / 10n ** BigInt(SCALE);
  const fraction = (units % 10n ** BigInt(SCALE)).toString().padStart(SCALE, "0").replace(/0+$/, "");
  return fraction === "" ? whole.toString() : `${whole}.${fraction}`;
}

/** One ledger row as stored. */
export interface StoredUsage {
  id: string;
  requestId: string;
  customerId: string;
  meterKey: string;
  quantity: string;
  period: string;
  voided: boolean;
}

/** What the database file says after a crash. */
export interface DatabaseAudit {
  /** PRAGMA integrity_check's rows; ["ok"] when the file is sound. */
  integrity: string[];
  /** request_ids held by more than one usage row (must be empty). */
  duplicateRequestIds: string[];
  /** Every usage row, by request_id (the last one, should there be duplicates). */
  usage: Map<string, StoredUsage>;
  /** Running totals that differ from the ledger rows minus their voids (must be empty). */
  totalsMismatches: string[];
  /** How many usage_totals rows were compared. */
  totalsCompared: number;
}

interface Totals {
  sum: bigint;
  count: number;
  max: bigint;
}

/** Opens `path` (running WAL recovery, as the next server start would), audits it, and closes it. */
export function auditDatabase(path: string): DatabaseAudit {
  const db = new Database(path, { fileMustExist: true });
  try {
    const integrity = (db.pragma("integrity_check") as { integrity_check: string }[]).map((row) => row.integrity_check);
    const duplicateRequestIds = (
      db
        .prepare(`SELECT request_id FROM usage_records GROUP BY tenant_id, request_id HAVING count(*) > 1`)
        .all() as { request_id: string }[]
    ).map((row) => row.request_id);

    const rows = db
      .prepare(
        `SELECT r.tenant_id, r.id, r.request_id, r.customer_id, r.meter_key, r.quantity, r.period,
                v.record_id IS NOT NULL AS voided
         FROM usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id`,
      )
      .all() as {
      tenant_id: string;
      id: string;
      request_id: string;
      customer_id: string;
      meter_key: string;
      quantity: string;
      period: string;
      voided: number;
    }[];
    const usage = new Map<string, StoredUsage>();
    const recomputed = new Map<string, Totals>();
    for (const row of rows) {
      usage.set(row.request_id, {
        id: row.id,
        requestId: row.request_id,
        customerId: row.customer_id,
        meterKey: row.meter_key,
        quantity: row.quantity,
        period: row.period,
        voided: row.voided === 1,
      });
      if (row.voided === 1) continue;
      const key = [row.tenant_id, row.customer_id, row.period, row.meter_key].join("|");
      const totals = recomputed.get(key) ?? { sum: 0n, count: 0, max: 0n };
      const quantity = toNanoUnits(row.quantity);
      recomputed.set(key, { sum: totals.sum + quantity, count: totals.count + 1, max: quantity > totals.max ? quantity : totals.max });
    }

    const totalsRows = db.prepare(`SELECT * FROM usage_totals`).all() as {
      tenant_id: string;
      customer_id: string;
      period: string;
      meter_key: string;
      quantity_sum: string;
      event_count: number;
      quantity_max: string;
    }[];
    const totalsMismatches: string[] = [];
    const seen = new Set<string>();
    for (const row of totalsRows) {
      const key = [row.tenant_id, row.customer_id, row.period, row.meter_key].join("|");
      seen.add(key);
      const expected = recomputed.get(key) ?? { sum: 0n, count: 0, max: 0n };
      const stored = { sum: toNanoUnits(row.quantity_sum), count: Number(row.event_count), max: toNanoUnits(row.quantity_max) };
      if (stored.sum !== expected.sum || stored.count !== expected.count || stored.max !== expected.max) {
        totalsMismatches.push(
          `${key}: stored sum ${row.quantity_sum} count ${row.event_count} max ${row.quantity_max}; ` +
            `ledger sum ${fromNanoUnits(expected.sum)} count ${expected.count} max ${fromNanoUnits(expected.max)}`,
        );
      }
    }
    for (const key of recomputed.keys()) {
      if (!seen.has(key)) totalsMismatches.push(`${key}: ledger rows without a usage_totals row`);
    }
    return { integrity, duplicateRequestIds, usage, totalsMismatches, totalsCompared: totalsRows.length };
  } finally {
    db.close();
  }
}

/** Runs `task` over `items` with at most `limit` at a time. */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}
