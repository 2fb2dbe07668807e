import pg from "pg";
import { FailureError, failure } from "../../domain/failure.js";
import { type StoreCondition, StoreUnavailableError } from "../../domain/store.js";

/**
 * PostgreSQL errors after which the whole transaction was rolled back by the
 * server and may simply run again: serialization failures and deadlocks
 * (SQLSTATE 40001, 40P01).
 */
export function isRetryableConflict(error: unknown): boolean {
  const code = sqlState(error);
  return code === "40001" || code === "40P01";
}

/**
 * Whether the database was unreachable or the connection broke (refused,
 * reset, terminated, admin shutdown, too many connections, a pool timeout).
 * Whatever was in flight is of unknown outcome to us: the caller is told
 * UNAVAILABLE, and its retry with the same request_id replays or records.
 */
export function isConnectionFailure(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined) return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
  if (!(error instanceof Error)) return false;
  const systemCode = (error as { code?: unknown }).code;
  if (typeof systemCode === "string" && /^E[A-Z]+$/.test(systemCode)) return true; // ECONNREFUSED, ECONNRESET, EPIPE, ...
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(error.message);
}

/**
 * Whether PostgreSQL refused a text value for holding U+0000, which its TEXT
 * type cannot store (SQLSTATE 22021); SQLite can. No stored value can contain
 * it, so a lookup with one finds nothing, and a write with one is refused.
 */
export function isNulCharacter(error: unknown): boolean {
  return sqlState(error) === "22021";
}

/** The refusal of a write holding U+0000 in a text field. */
export function nulCharacterRefused(): FailureError {
  return new FailureError(failure("INVALID_FIELD", "text fields must not contain the NUL character (U+0000) with the PostgreSQL store"));
}

/**
 * The error of a call the database could not confirm: unreachable or broken
 * by default, "locked" for a transaction that kept losing its race.
 */
export function storeUnavailable(cause: unknown, condition: StoreCondition = "unreachable"): StoreUnavailableError {
  return new StoreUnavailableError(condition, { cause });
}

/** The SQLSTATE of an error the server sent; undefined for any other error. */
function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/** Thrown inside a transaction that lost a race it cannot settle itself; the transaction runs again. */
export class LostRace extends Error {
  constructor(what: string) {
    super(`lost a race: ${what}`);
  }
}
