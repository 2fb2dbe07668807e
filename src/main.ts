import { readFileSync } from "node:fs";
import { databaseStartupError, fileStartupError, listenStartupError, StartupError } from "./startup-error.js";
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { DEFAULT_TIME_RULES, type ServeConfig, tenantQuotas } from "./config.js";
import { demoBanner, demoKeysFor } from "./demo-banner.js";
import { seedDemo } from "./demo-seed.js";
import { startBillFinalizer } from "./domain/bill-finalizer.js";
import { createBilling } from "./domain/billing.js";
import { createCatalog } from "./domain/catalog.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { createCustomerDirectory } from "./domain/customer-directory.js";
import { type ConfiguredKey, createKeyring } from "./domain/keyring.js";
import type { TenantQuotas } from "./domain/quotas.js";
import type { Store } from "./domain/store.js";
import { createUsageLedger } from "./domain/usage-ledger.js";
import { createAlerts } from "./domain/alerts.js";
import { createCommitSignal, createUsageFeed } from "./domain/usage-feed.js";
import { createUsageLimits } from "./domain/usage-limits.js";
import { createMetrics } from "./server/interceptors/metrics.js";
import { createTallyServer, type PublicService } from "./server/server.js";
import { openPostgresStore } from "./store/postgres/postgres-store.js";
import { openSqliteStore } from "./store/sqlite/sqlite-store.js";

/** The store behind `--db`: a postgres:// (or postgresql://) URL opens the PostgreSQL store; anything else is a SQLite file. */
export async function openStore(
  db: string,
  options: {
    onGroupCommitted?: (writes: number, seconds: number) => void;
    quotas?: TenantQuotas;
    maxDimensionCombinations?: number;
    onUsageCommitted?: () => void;
  } = {},
): Promise<Store> {
  return isPostgresUrl(db) ? openPostgresStore({ url: db, ...options }) : openSqliteStore({ path: db, ...options });
}

/** Whether `--db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** The database as it may be logged: a URL's password replaced. */
export function withoutPassword(db: string): string {
  if (!isPostgresUrl(db)) return db;
  const url = new URL(db);
  if (url.password !== "") url.password = "***";
  return url.toString();
}

/** A running Tally. */
export interface RunningTally {
  /** The base URL callers use, e.g. "http://127.0.0.1:8080". */
  url: string;
  port: number;
  /** Graceful shutdown, then the database is closed. */
  stop(): Promise<void>;
}

/** What a caller of startTally may swap in; the defaults are production's. */
export interface TallyDependencies {
  /** Default: the system clock. */
  clock?: Clock;
  /** Extra server interceptors (see TallyServerOptions.interceptors). Default none. */
  interceptors?: Interceptor[];
  /** Services served without a key (see TallyServerOptions.publicServices): the conformance runner's. Default none. */
  publicServices?: PublicService[];
}

/**
 * The one place that wires the concrete store into the use cases and the use
 * cases into the server, then listens.
 */
export async function startTally(config: ServeConfig, logger: Logger, dependencies: TallyDependencies = {}): Promise<RunningTally> {
  const clock = dependencies.clock ?? systemClock;
  const metrics = createMetrics({ databaseBytes: () => store.storageBytes() });
  const commitSignal = createCommitSignal();
  let store: Store;
  try {
    store = await openStore(config.db, {
      onGroupCommitted: metrics.groupCommitted,
      quotas: tenantQuotas(config),
      maxDimensionCombinations: config.maxDimensionCombinations,
      onUsageCommitted: commitSignal.notify,
    });
  } catch (error) {
    throw databaseStartupError(withoutPassword(config.db), error);
  }
  const timeRules = { ...DEFAULT_TIME_RULES, finalizeGraceMs: config.finalizeGrace };
  const billing = createBilling({ store, clock, timeRules });
  const services = {
    directory: createCustomerDirectory({ store, clock }),
    catalog: createCatalog({ store, clock, timeRules }),
    ledger: createUsageLedger({ store, clock, timeRules, revisions: billing.revisions }),
    billing,
    feed: createUsageFeed({ store, signal: commitSignal, pollIntervalMs: config.feedPollInterval, batchSize: config.feedBatchSize }),
    alerts: createAlerts({ store, clock, maxAlertsPerCustomer: config.maxAlertsPerCustomer }),
    limits: createUsageLimits({ store, clock }),
  };
  const configuredKeys: ConfiguredKey[] = [];
  if (config.bootstrapKey !== undefined && config.bootstrapKey !== "") {
    configuredKeys.push({ key: config.bootstrapKey, role: "admin", name: "bootstrap" });
  }
  // The demo's keys are in memory only (never in the database), kept beside a SQLite file across restarts.
  const demoKeys = config.demo ? demoKeysFor(config.db, !isPostgresUrl(config.db)) : undefined;
  if (demoKeys !== undefined) {
    configuredKeys.push({ key: demoKeys.admin, role: "admin", name: "demo admin" }, { key: demoKeys.read, role: "read", name: "demo dashboard" });
  }
  const keyring = createKeyring({ store, clock, configuredKeys });
  let tlsFiles: TlsFiles | undefined;
  let seededDemo: Awaited<ReturnType<typeof seedDemo>> | undefined;
  try {
    tlsFiles = tlsOf(config);
    seededDemo = config.demo ? await seedDemo(services, clock) : undefined;
  } catch (error) {
    await store.close();
    throw error;
  }
  const server = createTallyServer({
    services,
    logger,
    keyring,
    metrics,
    publicReflection: config.publicReflection,
    maxMessageBytes: config.maxMessageBytes,
    maxResponseBytes: config.maxResponseBytes,
    maxWatchStreams: config.maxWatchStreams,
    maxBufferedResponseBytes: config.maxBufferedResponseBytes,
    interceptors: dependencies.interceptors,
    publicServices: dependencies.publicServices,
    grpcFastPath: config.grpcFastPath,
    keyRecheckIntervalMs: config.keyRecheckInterval,
    allowUnknownJsonFields: config.allowUnknownJsonFields,
    corsOrigins: config.corsOrigins,
    callLimits: {
      maxBatchSize: config.maxBatchSize,
      maxStreamMessages: config.maxStreamMessages,
      maxDeadlineMs: config.maxDeadline,
      maxStreamLifetimeMs: config.maxStreamLifetime,
      rateLimit: config.rateLimit,
      rateBurst: config.rateBurst,
    },
    listener: {
      tls: tlsFiles,
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: config.headersTimeout,
      requestTimeout: config.requestTimeout,
      keepAliveTimeout: config.keepAliveTimeout,
      maxConcurrentStreams: config.maxConcurrentStreams,
      maxSessionMemory: config.maxSessionMemory,
      sessionIdleTimeout: config.sessionIdleTimeout,
      maxConnections: config.maxConnections,
      maxConnectionsPerPeer: config.maxConnectionsPerPeer,
      slowReaderTimeout: config.slowReaderTimeout,
    },
  });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (error) {
    await store.close();
    throw listenStartupError(config.host, config.port, error);
  }
  const finalizer = startBillFinalizer({
    revisions: billing.revisions,
    intervalMs: config.finalizeInterval,
    onError: (error, due) => logger.error({ err: error, ...due }, "the background finalizer could not store a finalized bill; it tries again at the next sweep"),
  });
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${tlsFiles === undefined ? "http" : "https"}://${host}:${address.port}`;
  logger.info({ url, db: withoutPassword(config.db), port: address.port, tls: tlsFiles !== undefined, clientCertificates: config.tlsClientCa !== undefined }, "listening");
  if (seededDemo !== undefined && demoKeys !== undefined) {
    process.stdout.write(demoBanner(url, address.port, seededDemo.customerIds[0] ?? "acme", seededDemo.seeded, demoKeys));
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    stop() {
      stopping ??= (async () => {
        await finalizer.stop();
        await server.shutdown(config.shutdownGrace);
        await store.close();
      })();
      return stopping;
    },
  };
}

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** The TLS files of the configuration, read; undefined when serving cleartext. */
function tlsOf(config: ServeConfig): TlsFiles | undefined {
  if (config.tlsCert === undefined && config.tlsKey === undefined) {
    if (config.tlsClientCa !== undefined) throw new StartupError("--tls-client-ca needs --tls-cert and --tls-key (TALLY_TLS_CERT, TALLY_TLS_KEY)");
    return undefined;
  }
  if (config.tlsCert === undefined || config.tlsKey === undefined) throw new StartupError("TLS needs both --tls-cert and --tls-key (TALLY_TLS_CERT, TALLY_TLS_KEY)");
  return {
    cert: readSettingFile("--tls-cert", config.tlsCert),
    key: readSettingFile("--tls-key", config.tlsKey),
    clientCa: config.tlsClientCa === undefined ? undefined : readSettingFile("--tls-client-ca", config.tlsClientCa),
  };
}

/** A file a setting names, read; a file that cannot be read stops the start with one line. */
function readSettingFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw fileStartupError(setting, file, error);
  }
}
