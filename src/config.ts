import { InvalidArgumentError, Option } from "commander";

/**
 * Every setting of `tally serve`, in one place. Each comes from its flag, else
 * its TALLY_* environment variable, else the default below (commander applies
 * that order). The README's configuration table lists the same settings.
 */
export interface ServeConfig {
  /** Address to listen on. Default "127.0.0.1" (TALLY_HOST); "0.0.0.0" or "::" for every interface. */
  host: string;
  /** Port to listen on; 0 picks a free one (the log line "listening" says which). Default 8080 (TALLY_PORT). */
  port: number;
  /**
   * The SQLite database file (its directory is created), or a postgres:// URL for the PostgreSQL store.
   * Default "./data/tally.db" (TALLY_DB, else TALLY_DATABASE_URL).
   */
  db: string;
  /** pino log level. Default "info" (TALLY_LOG_LEVEL). */
  logLevel: string;
  /** How long after a period ends its bill still accepts late usage, in ms. Default 72h (TALLY_FINALIZE_GRACE). */
  finalizeGrace: number;
  /** Largest request or response message, in bytes. Default 4 MiB (TALLY_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** How long shutdown waits for in-flight calls before closing connections, in ms. Default 10s (TALLY_SHUTDOWN_GRACE). */
  shutdownGrace: number;
  /** Seed a demo catalog and customers when the database is empty. Default false (TALLY_DEMO=true). */
  demo: boolean;
  /** Origins whose pages may call the API cross-origin. Default none (TALLY_CORS_ORIGINS, comma-separated). */
  corsOrigins: string[];
}

/** The options of `tally serve`, flags and environment variables together. */
export function serveOptions(): Option[] {
  return [
    new Option("--host <address>", "address to listen on").env("TALLY_HOST").default("127.0.0.1"),
    new Option("--port <port>", "port to listen on; 0 picks a free port").env("TALLY_PORT").default(8080).argParser(port),
    new Option("--db <path-or-url>", "SQLite database file, or a postgres:// URL (also TALLY_DATABASE_URL)").env("TALLY_DB").default("./data/tally.db"),
    new Option("--log-level <level>", "log level")
      .env("TALLY_LOG_LEVEL")
      .default("info")
      .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    new Option("--finalize-grace <duration>", "how long a period stays open after it ends, e.g. 72h, 30m, 0s")
      .env("TALLY_FINALIZE_GRACE")
      .default(duration("72h"))
      .argParser(duration),
    new Option("--max-message-bytes <bytes>", "largest request or response message")
      .env("TALLY_MAX_MESSAGE_BYTES")
      .default(4 * 1024 * 1024)
      .argParser(positiveInteger),
    new Option("--shutdown-grace <duration>", "how long shutdown waits for in-flight calls, e.g. 10s")
      .env("TALLY_SHUTDOWN_GRACE")
      .default(duration("10s"))
      .argParser(duration),
    new Option("--demo", "seed a demo catalog and customers into an empty database").env("TALLY_DEMO").default(false),
    new Option("--cors-origins <origins>", "comma-separated origins whose pages may call the API, e.g. https://billing.example.com")
      .env("TALLY_CORS_ORIGINS")
      .default([])
      .argParser(origins),
  ];
}

/** "72h", "30m", "10s", "250ms", "2d" → milliseconds. Small enough not to need a library. */
export function duration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) throw new InvalidArgumentError(`"${text}" is not a duration such as 72h, 30m, 10s or 250ms`);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * unitMs;
}

function origins(text: string): string[] {
  const list = text.split(",").map((origin) => origin.trim()).filter((origin) => origin !== "");
  for (const origin of list) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin !== origin.replace(/\/$/, "")) {
      throw new InvalidArgumentError(`"${origin}" is not an origin such as https://billing.example.com`);
    }
  }
  return list;
}

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError(`"${text}" is not a port (0 to 65535)`);
  return value;
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`"${text}" is not a positive whole number`);
  return value;
}
