import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_MAX_DIMENSION_COMBINATIONS } from "./domain/dimensions.js";
import { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from "./domain/quotas.js";
import { MAX_EVENT_TIME_AHEAD_MS, type TimeRules } from "./domain/time-rules.js";
import type { SimulationOptions } from "./simulate/simulation-options.js";

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
  /**
   * How often the background finalizer stores the bills of periods that have become final (revision 1, consuming
   * credits), in ms; 0 turns it off (bills are then finalized when first read). Default 1m (TALLY_FINALIZE_INTERVAL).
   */
  finalizeInterval: number;
  /** Largest request message, in bytes. Default 4 MiB (TALLY_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /**
   * Largest response message, in bytes: a larger answer is RESOURCE_EXHAUSTED (list calls page well below it).
   * Default 16 MiB (TALLY_MAX_RESPONSE_BYTES).
   */
  maxResponseBytes: number;
  /** How long shutdown waits for in-flight calls before closing connections, in ms. Default 10s (TALLY_SHUTDOWN_GRACE). */
  shutdownGrace: number;
  /** Seed a demo catalog and customers when the database is empty. Default false (TALLY_DEMO=true). */
  demo: boolean;
  /** Origins whose pages may call the API cross-origin. Default none (TALLY_CORS_ORIGINS, comma-separated). */
  corsOrigins: string[];
  /** This exact key is an admin key of the default tenant while the server runs. Default none (TALLY_BOOTSTRAP_KEY). */
  bootstrapKey?: string;
  /** Serve gRPC reflection without a key. Default false (TALLY_PUBLIC_REFLECTION=true). */
  publicReflection: boolean;
  /** PEM certificate chain; with tlsKey, serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN). Default none (TALLY_TLS_CERT). */
  tlsCert?: string;
  /** PEM private key of tlsCert. Default none (TALLY_TLS_KEY). */
  tlsKey?: string;
  /** PEM CA bundle: when set, every client must present a certificate it signed. Default none (TALLY_TLS_CLIENT_CA). */
  tlsClientCa?: string;
  /** Most requests in one BatchRecordUsage call or one StreamUsage message. Default 1000 (TALLY_MAX_BATCH_SIZE). */
  maxBatchSize: number;
  /** Most messages one StreamUsage stream may send. Default 100000 (TALLY_MAX_STREAM_MESSAGES). */
  maxStreamMessages: number;
  /** Longest a unary call may run, whatever deadline the caller set, in ms. Default 30s (TALLY_MAX_DEADLINE). */
  maxDeadline: number;
  /** Longest a stream (StreamUsage, health Watch, reflection) may stay open, in ms. Default 30m (TALLY_MAX_STREAM_LIFETIME). */
  maxStreamLifetime: number;
  /** How often an open stream's API key is verified again, in ms: a revoked key's streams end within it. Default 1s (TALLY_KEY_RECHECK_INTERVAL). */
  keyRecheckInterval: number;
  /** Calls (and stream messages) per second each tenant may make; 0 for no limit. Default 2000 (TALLY_RATE_LIMIT). */
  rateLimit: number;
  /** Calls a tenant may make at once above its rate (the token bucket's size). Default 4000 (TALLY_RATE_BURST). */
  rateBurst: number;
  /** Largest request header block, in bytes (HTTP/1.1 and HTTP/2). Default 16384 (TALLY_MAX_HEADER_BYTES). */
  maxHeaderBytes: number;
  /**
   * Time to send a request's headers (HTTP/1.1), and for a new HTTP/2 connection to open its first stream
   * (its headers complete), in ms. Default 10s (TALLY_HEADERS_TIMEOUT).
   */
  headersTimeout: number;
  /** HTTP/1.1: time to send a whole request, in ms. Default 60s (TALLY_REQUEST_TIMEOUT). */
  requestTimeout: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open, in ms. Default 5s (TALLY_KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeout: number;
  /** HTTP/2: streams one connection may have open. Default 250 (TALLY_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** HTTP/2: megabytes one session may buffer. Default 10 (TALLY_MAX_SESSION_MEMORY). */
  maxSessionMemory: number;
  /**
   * HTTP/2: how long a session with no open stream is kept, in ms; also how long a session whose client sent
   * GOAWAY may take to finish its streams. Default 60s (TALLY_SESSION_IDLE_TIMEOUT).
   */
  sessionIdleTimeout: number;
  /** Connections open at once, all peers together; more are closed at once (and logged). Default 512 (TALLY_MAX_CONNECTIONS). */
  maxConnections: number;
  /** Connections open at once from one IP address; more are closed at once (and logged). Default 64 (TALLY_MAX_CONNECTIONS_PER_PEER). */
  maxConnectionsPerPeer: number;
  /**
   * Watch streams open at once (grpc.health.v1.Health/Watch, WatchUsage and WatchAlerts together), all connections
   * together. Default 1000 (TALLY_MAX_WATCH_STREAMS).
   */
  maxWatchStreams: number;
  /**
   * Answer bytes written but not yet taken by their clients, all connections together; over it, reads and
   * reflection are RESOURCE_EXHAUSTED / SERVER_BUSY. Default 64 MiB (TALLY_MAX_BUFFERED_RESPONSE_BYTES).
   */
  maxBufferedResponseBytes: number;
  /** How long a connection may hold unsent answer bytes without taking any before it is closed, in ms. Default 30s (TALLY_SLOW_READER_TIMEOUT). */
  slowReaderTimeout: number;
  /**
   * Serve uncompressed unary gRPC calls on the fast path (same interceptors and answers, less CPU).
   * Default true; `--no-grpc-fast-path` or TALLY_GRPC_FAST_PATH=0 sends them through connect-node's generic handler.
   */
  grpcFastPath: boolean;
  /** Most customers one tenant may create (QUOTA_EXCEEDED past it). Default 100000 (TALLY_MAX_CUSTOMERS_PER_TENANT). */
  maxCustomersPerTenant: number;
  /** Most meters one tenant may create. Default 1000 (TALLY_MAX_METERS_PER_TENANT). */
  maxMetersPerTenant: number;
  /** Most price versions one tenant may create. Default 10000 (TALLY_MAX_PRICES_PER_TENANT). */
  maxPricesPerTenant: number;
  /** Most API keys one tenant may have, revoked ones included (`tally keys create`). Default 1000 (TALLY_MAX_API_KEYS_PER_TENANT). */
  maxApiKeysPerTenant: number;
  /**
   * Most combinations of dimension values with usage one customer's meter may have in a period (each a
   * bill line); an event opening one more is RESOURCE_EXHAUSTED / DIMENSION_COMBINATIONS_EXCEEDED.
   * Default 1000 (TALLY_MAX_DIMENSION_COMBINATIONS).
   */
  maxDimensionCombinations: number;
  /**
   * Connect JSON requests may carry fields their message does not define (ignored), for clients built
   * against a newer contract. Default false: such a field is INVALID_ARGUMENT, reason UNKNOWN_FIELD
   * (TALLY_ALLOW_UNKNOWN_JSON_FIELDS=true).
   */
  allowUnknownJsonFields: boolean;
  /**
   * How often a WatchUsage or WatchAlerts stream with nothing to send reads again, in ms: writes of this process wake
   * it at once, writes of other replicas are seen within this. Default 1s (TALLY_FEED_POLL_INTERVAL).
   */
  feedPollInterval: number;
  /** Most changes (or alert events) one WatchUsage (WatchAlerts) answer carries. Default 500 (TALLY_FEED_BATCH_SIZE). */
  feedBatchSize: number;
  /** Most alerts one customer may have (each is checked in every write of its usage). Default 100 (TALLY_MAX_ALERTS_PER_CUSTOMER). */
  maxAlertsPerCustomer: number;
}

/**
 * The default of every setting of `tally serve`, and the only place each one
 * is written: the flags below show them in --help, and library modules whose
 * options mirror a setting (the listener's limits, the server's message size,
 * the time rules) fall back to the same values. Durations are in ms.
 */
export const SERVE_DEFAULTS: Readonly<Omit<ServeConfig, "bootstrapKey" | "tlsCert" | "tlsKey" | "tlsClientCa">> = {
  host: "127.0.0.1",
  port: 8080,
  db: "./data/tally.db",
  logLevel: "info",
  finalizeGrace: duration("72h"),
  finalizeInterval: duration("1m"),
  maxMessageBytes: 4 * 1024 * 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  shutdownGrace: duration("10s"),
  demo: false,
  corsOrigins: [],
  publicReflection: false,
  maxBatchSize: 1000,
  maxStreamMessages: 100_000,
  maxDeadline: duration("30s"),
  maxStreamLifetime: duration("30m"),
  keyRecheckInterval: duration("1s"),
  rateLimit: 2000,
  rateBurst: 4000,
  maxHeaderBytes: 16 * 1024,
  headersTimeout: duration("10s"),
  requestTimeout: duration("60s"),
  keepAliveTimeout: duration("5s"),
  maxConcurrentStreams: 250,
  maxSessionMemory: 10,
  sessionIdleTimeout: duration("60s"),
  maxConnections: 512,
  maxConnectionsPerPeer: 64,
  maxWatchStreams: 1000,
  maxBufferedResponseBytes: 64 * 1024 * 1024,
  slowReaderTimeout: duration("30s"),
  grpcFastPath: true,
  maxCustomersPerTenant: DEFAULT_TENANT_QUOTAS.customers,
  maxMetersPerTenant: DEFAULT_TENANT_QUOTAS.meters,
  maxPricesPerTenant: DEFAULT_TENANT_QUOTAS.prices,
  maxApiKeysPerTenant: DEFAULT_TENANT_QUOTAS.apiKeys,
  maxDimensionCombinations: DEFAULT_MAX_DIMENSION_COMBINATIONS,
  allowUnknownJsonFields: false,
  feedPollInterval: duration("1s"),
  feedBatchSize: 500,
  maxAlertsPerCustomer: 100,
};

/** The most requests one BatchRecordUsage call or StreamUsage message may carry, by contract: --max-batch-size may only lower it. */
export const MAX_BATCH_SIZE = 1000;

/**
 * Defaults of the one-port listener that are not settings: how often Node
 * checks HTTP/1.1 request timeouts, and how long a new connection may take to
 * show which HTTP version it speaks. In ms.
 */
export const LISTENER_DEFAULTS = {
  connectionsCheckingInterval: 1_000,
  protocolDetectionTimeout: 10_000,
} as const;

/** The time rules at their defaults: the finalize grace above, and the contract's five minutes of clock skew. */
export const DEFAULT_TIME_RULES: TimeRules = {
  finalizeGraceMs: SERVE_DEFAULTS.finalizeGrace,
  maxEventTimeAheadMs: MAX_EVENT_TIME_AHEAD_MS,
};

/** The defaults of SimulationOptions and of `tally simulate`'s flags (TALLY_SIMULATE_*). */
export const SIMULATION_DEFAULTS = {
  url: `http://${SERVE_DEFAULTS.host}:${SERVE_DEFAULTS.port}`,
  protocol: "grpc",
  customers: 20,
  meters: 4,
  total: 10_000,
  durationSeconds: 10,
  concurrency: 16,
  mode: "unary",
  batchSize: 100,
  scenario: "steady",
  burstMs: 1000,
  pauseMs: 1000,
  duplicatesPercent: 0,
  latePercent: 0,
  badInputPercent: 0,
  clientRetries: false,
  json: false,
  progressIntervalMs: 5000,
} as const satisfies Partial<SimulationOptions>;

/** The options of `tally serve`, flags and environment variables together. */
export function serveOptions(): Option[] {
  const defaults = SERVE_DEFAULTS;
  return [
    new Option("--host <address>", "address to listen on").env("TALLY_HOST").default(defaults.host),
    new Option("--port <port>", "port to listen on; 0 picks a free port").env("TALLY_PORT").default(defaults.port).argParser(port),
    databaseOption("SQLite database file, or a postgres:// URL (also TALLY_DATABASE_URL)"),
    new Option("--log-level <level>", "log level")
      .env("TALLY_LOG_LEVEL")
      .default(defaults.logLevel)
      .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    new Option("--finalize-grace <duration>", "how long a period stays open after it ends, e.g. 72h, 30m, 0s")
      .env("TALLY_FINALIZE_GRACE")
      .default(defaults.finalizeGrace, formatDuration(defaults.finalizeGrace))
      .argParser(duration),
    new Option("--finalize-interval <duration>", "how often finalized periods' bills are stored (and credits consumed) in the background; 0s for only when read")
      .env("TALLY_FINALIZE_INTERVAL")
      .default(defaults.finalizeInterval, formatDuration(defaults.finalizeInterval))
      .argParser(duration),
    new Option("--max-message-bytes <bytes>", "largest request message")
      .env("TALLY_MAX_MESSAGE_BYTES")
      .default(defaults.maxMessageBytes)
      .argParser(positiveInteger),
    new Option("--max-response-bytes <bytes>", "largest response message")
      .env("TALLY_MAX_RESPONSE_BYTES")
      .default(defaults.maxResponseBytes)
      .argParser(positiveInteger),
    new Option("--shutdown-grace <duration>", "how long shutdown waits for in-flight calls, e.g. 10s")
      .env("TALLY_SHUTDOWN_GRACE")
      .default(defaults.shutdownGrace, formatDuration(defaults.shutdownGrace))
      .argParser(duration),
    new Option("--demo", "seed a demo catalog and customers into an empty database").env("TALLY_DEMO").default(defaults.demo),
    new Option("--cors-origins <origins>", "comma-separated origins whose pages may call the API, e.g. https://billing.example.com")
      .env("TALLY_CORS_ORIGINS")
      .default(defaults.corsOrigins)
      .argParser(origins),
    new Option("--bootstrap-key <key>", "make this exact key an admin key of the default tenant (prefer the environment variable: flags show in ps)")
      .env("TALLY_BOOTSTRAP_KEY"),
    new Option("--public-reflection", "serve gRPC reflection without an API key").env("TALLY_PUBLIC_REFLECTION").default(defaults.publicReflection),
    new Option("--tls-cert <file>", "PEM certificate chain: serve TLS (HTTP/2 and HTTP/1.1 by ALPN) on the port").env("TALLY_TLS_CERT"),
    new Option("--tls-key <file>", "PEM private key of --tls-cert").env("TALLY_TLS_KEY"),
    new Option("--tls-client-ca <file>", "PEM CA bundle: require client certificates it signed").env("TALLY_TLS_CLIENT_CA"),
    new Option("--max-batch-size <n>", `most requests in one BatchRecordUsage call or StreamUsage message (at most the contract's ${MAX_BATCH_SIZE})`)
      .env("TALLY_MAX_BATCH_SIZE")
      .default(defaults.maxBatchSize)
      .argParser(batchSize),
    new Option("--max-stream-messages <n>", "most messages in one StreamUsage stream")
      .env("TALLY_MAX_STREAM_MESSAGES")
      .default(defaults.maxStreamMessages)
      .argParser(positiveInteger),
    new Option("--max-deadline <duration>", "longest a unary call may run, whatever deadline its caller set")
      .env("TALLY_MAX_DEADLINE")
      .default(defaults.maxDeadline, formatDuration(defaults.maxDeadline))
      .argParser(positiveDuration),
    new Option("--max-stream-lifetime <duration>", "longest a stream may stay open; then it ends UNAVAILABLE and clients open a new one")
      .env("TALLY_MAX_STREAM_LIFETIME")
      .default(defaults.maxStreamLifetime, formatDuration(defaults.maxStreamLifetime))
      .argParser(positiveDuration),
    new Option("--key-recheck-interval <duration>", "how often an open stream's API key is verified again (a revoked key's streams end within it)")
      .env("TALLY_KEY_RECHECK_INTERVAL")
      .default(defaults.keyRecheckInterval, formatDuration(defaults.keyRecheckInterval))
      .argParser(positiveDuration),
    new Option("--rate-limit <calls-per-second>", "calls (and stream messages) per second per tenant; 0 for no limit")
      .env("TALLY_RATE_LIMIT")
      .default(defaults.rateLimit)
      .argParser(nonNegativeInteger),
    new Option("--rate-burst <calls>", "calls a tenant may make at once above its rate")
      .env("TALLY_RATE_BURST")
      .default(defaults.rateBurst)
      .argParser(positiveInteger),
    new Option("--max-header-bytes <bytes>", "largest request header block").env("TALLY_MAX_HEADER_BYTES").default(defaults.maxHeaderBytes).argParser(positiveInteger),
    new Option("--headers-timeout <duration>", "time to send a request's headers (HTTP/1.1), or to open the first stream (HTTP/2)")
      .env("TALLY_HEADERS_TIMEOUT")
      .default(defaults.headersTimeout, formatDuration(defaults.headersTimeout))
      .argParser(positiveDuration),
    new Option("--request-timeout <duration>", "HTTP/1.1: time to send a whole request")
      .env("TALLY_REQUEST_TIMEOUT")
      .default(defaults.requestTimeout, formatDuration(defaults.requestTimeout))
      .argParser(positiveDuration),
    new Option("--keep-alive-timeout <duration>", "HTTP/1.1: how long an idle keep-alive connection stays open")
      .env("TALLY_KEEP_ALIVE_TIMEOUT")
      .default(defaults.keepAliveTimeout, formatDuration(defaults.keepAliveTimeout))
      .argParser(positiveDuration),
    new Option("--max-concurrent-streams <n>", "HTTP/2: streams one connection may have open")
      .env("TALLY_MAX_CONCURRENT_STREAMS")
      .default(defaults.maxConcurrentStreams)
      .argParser(positiveInteger),
    new Option("--max-session-memory <megabytes>", "HTTP/2: memory one session may buffer")
      .env("TALLY_MAX_SESSION_MEMORY")
      .default(defaults.maxSessionMemory)
      .argParser(positiveInteger),
    new Option("--session-idle-timeout <duration>", "HTTP/2: how long a session with no open stream is kept")
      .env("TALLY_SESSION_IDLE_TIMEOUT")
      .default(defaults.sessionIdleTimeout, formatDuration(defaults.sessionIdleTimeout))
      .argParser(positiveDuration),
    new Option("--max-connections <n>", "connections open at once, all peers together")
      .env("TALLY_MAX_CONNECTIONS")
      .default(defaults.maxConnections)
      .argParser(positiveInteger),
    new Option("--max-connections-per-peer <n>", "connections open at once from one IP address")
      .env("TALLY_MAX_CONNECTIONS_PER_PEER")
      .default(defaults.maxConnectionsPerPeer)
      .argParser(positiveInteger),
    new Option("--max-watch-streams <n>", "Watch streams (health Watch, WatchUsage, WatchAlerts) open at once, all connections together")
      .env("TALLY_MAX_WATCH_STREAMS")
      .default(defaults.maxWatchStreams)
      .argParser(positiveInteger),
    new Option("--feed-poll-interval <duration>", "how often an idle WatchUsage/WatchAlerts stream reads again (other replicas' writes)")
      .env("TALLY_FEED_POLL_INTERVAL")
      .default(defaults.feedPollInterval, formatDuration(defaults.feedPollInterval))
      .argParser(positiveDuration),
    new Option("--feed-batch-size <n>", "most changes (alert events) in one WatchUsage (WatchAlerts) answer")
      .env("TALLY_FEED_BATCH_SIZE")
      .default(defaults.feedBatchSize)
      .argParser(positiveInteger),
    new Option("--max-alerts-per-customer <n>", "most alerts one customer may have")
      .env("TALLY_MAX_ALERTS_PER_CUSTOMER")
      .default(defaults.maxAlertsPerCustomer)
      .argParser(positiveInteger),
    new Option("--max-buffered-response-bytes <bytes>", "answer bytes not yet taken by clients, all together; over it, reads are refused")
      .env("TALLY_MAX_BUFFERED_RESPONSE_BYTES")
      .default(defaults.maxBufferedResponseBytes)
      .argParser(positiveInteger),
    new Option("--slow-reader-timeout <duration>", "how long a connection may leave answer bytes unread before it is closed")
      .env("TALLY_SLOW_READER_TIMEOUT")
      .default(defaults.slowReaderTimeout, formatDuration(defaults.slowReaderTimeout))
      .argParser(positiveDuration),
    new Option("--no-grpc-fast-path", "serve unary gRPC calls through connect-node's generic handler instead of the fast path")
      .env("TALLY_GRPC_FAST_PATH")
      .default(defaults.grpcFastPath),
    new Option("--max-customers-per-tenant <n>", "most customers one tenant may create")
      .env("TALLY_MAX_CUSTOMERS_PER_TENANT")
      .default(defaults.maxCustomersPerTenant)
      .argParser(positiveInteger),
    new Option("--max-meters-per-tenant <n>", "most meters one tenant may create")
      .env("TALLY_MAX_METERS_PER_TENANT")
      .default(defaults.maxMetersPerTenant)
      .argParser(positiveInteger),
    new Option("--max-prices-per-tenant <n>", "most price versions one tenant may create")
      .env("TALLY_MAX_PRICES_PER_TENANT")
      .default(defaults.maxPricesPerTenant)
      .argParser(positiveInteger),
    maxApiKeysPerTenantOption(),
    new Option("--max-dimension-combinations <n>", "most combinations of dimension values with usage one customer's meter may have in a period (each a bill line)")
      .env("TALLY_MAX_DIMENSION_COMBINATIONS")
      .default(defaults.maxDimensionCombinations)
      .argParser(positiveInteger),
    new Option("--allow-unknown-json-fields", "ignore Connect JSON fields the request message does not define, instead of refusing them")
      .env("TALLY_ALLOW_UNKNOWN_JSON_FIELDS")
      .default(defaults.allowUnknownJsonFields),
  ];
}

/** `--max-api-keys-per-tenant` (TALLY_MAX_API_KEYS_PER_TENANT), shared by `tally serve` and `tally keys create`. */
export function maxApiKeysPerTenantOption(): Option {
  return new Option("--max-api-keys-per-tenant <n>", "most API keys one tenant may have, revoked ones included")
    .env("TALLY_MAX_API_KEYS_PER_TENANT")
    .default(SERVE_DEFAULTS.maxApiKeysPerTenant)
    .argParser(positiveInteger);
}

/** The tenant quotas of a configuration, as the store takes them. */
export function tenantQuotas(config: Pick<ServeConfig, "maxCustomersPerTenant" | "maxMetersPerTenant" | "maxPricesPerTenant" | "maxApiKeysPerTenant">): TenantQuotas {
  return {
    customers: config.maxCustomersPerTenant,
    meters: config.maxMetersPerTenant,
    prices: config.maxPricesPerTenant,
    apiKeys: config.maxApiKeysPerTenant,
  };
}

/**
 * A preAction hook that reads the TALLY_* variables of on/off settings by
 * their value. commander only asks whether such a variable is set, so
 * TALLY_DEMO=false would turn the demo on and TALLY_GRPC_FAST_PATH=0 could
 * not be told from =1. A flag on the command line still wins.
 */
export function booleanEnvironment(_: Command, action: Command): void {
  for (const option of action.options) {
    if (option.envVar === undefined || option.required || option.optional) continue;
    const key = option.attributeName();
    if (action.getOptionValueSource(key) !== "env") continue;
    action.setOptionValueWithSource(key, onOff(option.envVar, process.env[option.envVar] ?? ""), "env");
  }
}

function onOff(name: string, text: string): boolean {
  const value = text.trim().toLowerCase();
  if (["1", "true", "on", "yes"].includes(value)) return true;
  if (["0", "false", "off", "no"].includes(value)) return false;
  throw new InvalidArgumentError(`${name}="${text}" is neither on (1, true, on, yes) nor off (0, false, off, no)`);
}

/** `--db` (TALLY_DB), shared by every command that opens the database. */
export function databaseOption(description: string): Option {
  return new Option("--db <path-or-url>", description).env("TALLY_DB").default(SERVE_DEFAULTS.db);
}

/**
 * A preAction hook for commands with `--db`: TALLY_DATABASE_URL (the name
 * hosting platforms use) names the database when neither --db nor TALLY_DB does.
 */
export function databaseUrlFallback(_: Command, action: Command): void {
  const url = process.env.TALLY_DATABASE_URL;
  if (url !== undefined && url !== "" && action.getOptionValueSource("db") === "default") action.setOptionValueWithSource("db", url, "env");
}

/** Every setting at its default, as `tally serve` with no flags and no TALLY_* variables would have it. */
export function defaultServeConfig(): ServeConfig {
  const config: Record<string, unknown> = {};
  for (const option of serveOptions()) config[option.attributeName()] = option.defaultValue;
  return config as unknown as ServeConfig;
}

/** "72h", "30m", "10s", "250ms", "2d" → milliseconds. Small enough not to need a library. */
export function duration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) throw new InvalidArgumentError(`"${text}" is not a duration such as 72h, 30m, 10s or 250ms`);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * unitMs;
}

/** Milliseconds as the largest whole unit duration() reads: 259200000 → "72h". */
export function formatDuration(ms: number): string {
  for (const [unit, unitMs] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms !== 0 && ms % unitMs === 0) return `${ms / unitMs}${unit}`;
  }
  return `${ms}ms`;
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

function batchSize(text: string): number {
  const value = positiveInteger(text);
  if (value > MAX_BATCH_SIZE) throw new InvalidArgumentError(`"${text}" is more than the contract's ${MAX_BATCH_SIZE} requests per batch`);
  return value;
}

function positiveDuration(text: string): number {
  const value = duration(text);
  if (value <= 0) throw new InvalidArgumentError(`"${text}" must be longer than 0`);
  return value;
}

function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`"${text}" is not a whole number (0 or more)`);
  return value;
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
