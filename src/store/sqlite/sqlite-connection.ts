import type Database from "better-sqlite3";

/**
 * Sets up one connection: busy timeout, WAL, synchronous=FULL (asserted, so
 * an acknowledged write survives a crash or power loss). Both the readers'
 * connection and the writer thread's open the file this way.
 */
export function configureConnection(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const journalMode = db.pragma("journal_mode = WAL", { simple: true });
  if (journalMode !== "wal") throw new Error(`SQLite refused WAL mode (journal_mode is ${String(journalMode)})`);
  db.pragma("synchronous = FULL");
  const synchronous = db.pragma("synchronous", { simple: true });
  if (synchronous !== 2) throw new Error(`SQLite synchronous is ${String(synchronous)}, not FULL (2)`);
}
