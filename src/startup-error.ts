/**
 * A failure to start, told in one line with its cause and what to do: the
 * `tally` command prints the message alone (no stack) and exits 1.
 */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** Node's and the databases' error fields that say what went wrong. */
interface SystemErrorFields {
  code?: string;
  path?: string;
  address?: string;
  port?: number;
  message?: string;
}

function fieldsOf(error: unknown): SystemErrorFields {
  return typeof error === "object" && error !== null ? (error as SystemErrorFields) : { message: String(error) };
}

/** Why the database `db` (a SQLite file or a PostgreSQL URL, password already hidden) could not be opened. */
export function databaseStartupError(db: string, error: unknown): StartupError {
  const { code, path, message } = fieldsOf(error);
  const reasons: Record<string, string> = {
    SQLITE_CANTOPEN: "SQLite cannot open it (is it a folder, or is its folder not writable?)",
    SQLITE_NOTADB: "it is not a SQLite database",
    SQLITE_CORRUPT: "the file is corrupt",
    SQLITE_READONLY: "it is read-only",
    EEXIST: `"${path}" is a file where a folder is needed`,
    ENOTDIR: `"${path}" is a file where a folder is needed`,
    EACCES: `permission denied${path === undefined ? "" : ` on "${path}"`}`,
    EROFS: "the file system is read-only",
    ENOSPC: "the disk is full",
    ECONNREFUSED: "nothing accepts connections at that address",
    ENOTFOUND: "its host name does not resolve",
    ETIMEDOUT: "the connection timed out",
    "28P01": "the password was refused",
    "28000": "the server refused the user",
    "3D000": "that database does not exist",
  };
  const reason = (code !== undefined ? reasons[code] : undefined) ?? message ?? "unknown error";
  return new StartupError(`cannot open the database ${db}: ${reason}; check --db (TALLY_DB or TALLY_DATABASE_URL)`, { cause: error });
}

/** Why a file a setting names (`--tls-cert`, ...) could not be read. */
export function fileStartupError(setting: string, file: string, error: unknown): StartupError {
  const { code, message } = fieldsOf(error);
  const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a folder" : (message ?? "unknown error");
  return new StartupError(`cannot read ${setting} "${file}": ${reason}`, { cause: error });
}

/** Why the server could not listen on host:port. */
export function listenStartupError(host: string, port: number, error: unknown): StartupError {
  const { code, message } = fieldsOf(error);
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: "it is already in use; stop what listens there or choose another port with --port (TALLY_PORT), or 0 for any free one",
    EACCES: "permission denied (ports below 1024 need privileges); choose another with --port (TALLY_PORT)",
    EADDRNOTAVAIL: `${host} is not an address of this machine; use --host (TALLY_HOST) 127.0.0.1, 0.0.0.0 or ::`,
    ENOTFOUND: `${host} does not resolve; use --host (TALLY_HOST) 127.0.0.1, 0.0.0.0 or ::`,
  };
  return new StartupError(`cannot listen on ${where}: ${(code !== undefined ? reasons[code] : undefined) ?? message ?? "unknown error"}`, { cause: error });
}
