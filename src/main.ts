import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Interceptor } from "@connectrpc/connect";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino, type Logger } from "pino";
import { booleanEnvironment, type ServeConfig, serveOptions } from "./config.js";
import { seedDemo } from "./demo-seed.js";
import { createBilling } from "./domain/billing.js";
import { createCatalog } from "./domain/catalog.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { createCustomerDirectory } from "./domain/customer-directory.js";
import { type ConfiguredKey, createKeyring } from "./domain/keyring.js";
import { ROLES, type Role, TENANT_PATTERN } from "./domain/api-key.js";
import { isFailure } from "./domain/failure.js";
import type { Store } from "./domain/store.js";
import { DEFAULT_TIME_RULES } from "./domain/time-rules.js";
import { createUsageLedger } from "./domain/usage-ledger.js";
import { createMetrics } from "./server/interceptors/metrics.js";
import { createTallyServer, type PublicService } from "./server/server.js";
import { registerSimulateCommand } from "./simulate/simulate-command.js";
import { openPostgresStore } from "./store/postgres/postgres-store.js";
import { openSqliteStore } from "./store/sqlite/sqlite-store.js";

/** The store behind `--db`: a postgres:// (or postgresql://) URL opens the PostgreSQL store; anything else is a SQLite file. */
export async function openStore(db: string, options: { onGroupCommitted?: (writes: number, seconds: number) => void } = {}): Promise<Store> {
  return isPostgresUrl(db) ? openPostgresStore({ url: db, ...options }) : openSqliteStore({ path: db, ...options });
}

function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** The database as it may be logged: a URL's password replaced. */
function withoutPassword(db: string): string {
  if (!isPostgresUrl(db)) return db;
  const url = new URL(db);
  if (url.password !== "") url.password = "***";
  return url.toString();
}

/**
 * A preAction hook for commands with `--db`: TALLY_DATABASE_URL (the name
 * hosting platforms use) names the database when neither --db nor TALLY_DB does.
 */
function databaseUrlFallback(_: Command, action: Command): void {
  const url = process.env.TALLY_DATABASE_URL;
  if (url !== undefined && url !== "" && action.getOptionValueSource("db") === "default") action.setOptionValueWithSource("db", url, "env");
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
  const store = await openStore(config.db, { onGroupCommitted: metrics.groupCommitted });
  const timeRules = { ...DEFAULT_TIME_RULES, finalizeGraceMs: config.finalizeGrace };
  const services = {
    directory: createCustomerDirectory({ store, clock }),
    catalog: createCatalog({ store, clock, timeRules }),
    ledger: createUsageLedger({ store, clock, timeRules }),
    billing: createBilling({ store, clock, timeRules }),
  };
  const configuredKeys: ConfiguredKey[] = [];
  if (config.bootstrapKey !== undefined && config.bootstrapKey !== "") {
    configuredKeys.push({ key: config.bootstrapKey, role: "admin", name: "bootstrap" });
  }
  // The demo's keys live in memory for this run only: a fresh pair each start.
  const demoKeys = config.demo ? { admin: demoKey(), read: demoKey() } : undefined;
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
    interceptors: dependencies.interceptors,
    publicServices: dependencies.publicServices,
    grpcFastPath: config.grpcFastPath,
    corsOrigins: config.corsOrigins,
    callLimits: {
      maxBatchSize: config.maxBatchSize,
      maxStreamMessages: config.maxStreamMessages,
      maxDeadlineMs: config.maxDeadline,
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
    },
  });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (error) {
    await store.close();
    throw error;
  }
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
    if (config.tlsClientCa !== undefined) throw new Error("--tls-client-ca needs --tls-cert and --tls-key");
    return undefined;
  }
  if (config.tlsCert === undefined || config.tlsKey === undefined) throw new Error("TLS needs both --tls-cert and --tls-key");
  return {
    cert: readFileSync(config.tlsCert),
    key: readFileSync(config.tlsKey),
    clientCa: config.tlsClientCa === undefined ? undefined : readFileSync(config.tlsClientCa),
  };
}

/** A random key for the demo (held in memory for this run, never stored). */
function demoKey(): string {
  return `tally_demo_${randomBytes(24).toString("base64url")}`;
}

function demoBanner(url: string, port: number, customer: string, seeded: boolean, keys: { admin: string; read: string }): string {
  const authority = `localhost:${port}`;
  return `
Tally is serving ${url} (gRPC, gRPC-Web and Connect on one port)${seeded ? "; demo data seeded" : ""}.

Demo keys for this run only (every call but health needs one):
  admin: ${keys.admin}
  read:  ${keys.read}
Dashboard (read key in the link): ${url}/#key=${keys.read}

  export TALLY_API_KEY=${keys.admin}
  curl -s ${url}/billing.v1.BillingService/GetCurrentBill -H "authorization: Bearer $TALLY_API_KEY" -H 'content-type: application/json' -d '{"customerId":"${customer}"}'
  curl -s ${url}/billing.v1.UsageService/RecordUsage -H "authorization: Bearer $TALLY_API_KEY" -H 'content-type: application/json' -d '{"requestId":"try-1","customerId":"${customer}","meterKey":"database-hosting","quantity":"12.5"}'
  grpcurl -plaintext -H "authorization: Bearer $TALLY_API_KEY" ${authority} list
  grpcurl -plaintext -H "authorization: Bearer $TALLY_API_KEY" -d '{"customer_id":"${customer}"}' ${authority} billing.v1.BillingService/GetCurrentBill

`;
}

/** `tally keys create|list|revoke`: API keys, straight in the database (a running server sees a new key at once). */
function registerKeysCommand(program: Command): void {
  const keys = program.command("keys").description("create, list and revoke API keys");
  const dbOption = () =>
    new Option("--db <path-or-url>", "the database of the server (also TALLY_DATABASE_URL)").env("TALLY_DB").default("./data/tally.db");
  keys.hook("preAction", databaseUrlFallback);
  const withKeyring = async <T>(db: string, use: (keyring: ReturnType<typeof createKeyring>) => Promise<T>): Promise<T> => {
    const store = await openStore(db);
    try {
      return await use(createKeyring({ store, clock: systemClock }));
    } finally {
      await store.close();
    }
  };

  keys
    .command("create")
    .description("create a key and print it (its last line is the key alone; it is never shown again)")
    .addOption(dbOption())
    .addOption(new Option("--role <role>", "what the key may do").choices(ROLES).makeOptionMandatory())
    .addOption(new Option("--tenant <tenant>", "the tenant the key acts in").default("default").argParser(tenant))
    .option("--name <name>", "a label for people", "")
    .action(async (options: { db: string; role: Role; tenant: string; name: string }) => {
      const { key, apiKey } = await withKeyring(options.db, (keyring) =>
        keyring.createKey({ role: options.role, tenant: options.tenant, name: options.name }),
      );
      process.stdout.write(
        `Created API key ${apiKey.id}: role ${apiKey.role}, tenant ${apiKey.tenant}${apiKey.name === "" ? "" : `, name "${apiKey.name}"`}.\n` +
          `Send it as "authorization: Bearer <key>". It is shown only this once:\n${key}\n`,
      );
    });

  keys
    .command("list")
    .description("list every key (never the keys themselves)")
    .addOption(dbOption())
    .action(async (options: { db: string }) => {
      const all = await withKeyring(options.db, (keyring) => keyring.listKeys());
      const rows = [["ID", "ROLE", "TENANT", "CREATED", "REVOKED", "NAME"]];
      for (const key of all) {
        rows.push([
          key.id,
          key.role,
          key.tenant,
          new Date(key.createTime).toISOString(),
          key.revokeTime === null ? "-" : new Date(key.revokeTime).toISOString(),
          key.name,
        ]);
      }
      const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
      for (const row of rows) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()}\n`);
    });

  keys
    .command("revoke")
    .description("revoke a key by its id; a running server refuses it within 5 seconds")
    .argument("<id>", "the key's id, as `tally keys list` shows it")
    .addOption(dbOption())
    .action(async (id: string, options: { db: string }) => {
      const revoked = await withKeyring(options.db, (keyring) => keyring.revokeKey(id));
      if (isFailure(revoked)) {
        process.stderr.write(`${revoked.message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`Revoked API key ${revoked.id} (role ${revoked.role}, tenant ${revoked.tenant}).\n`);
    });
}

function tenant(text: string): string {
  if (!TENANT_PATTERN.test(text)) throw new InvalidArgumentError(`"${text}" is not a tenant: 1 to 64 letters, digits, ".", "_" or "-"`);
  return text;
}

/** The `tally` command line. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command("tally").description("Tally: usage metering and billing").showHelpAfterError();
  const serve = program.command("serve").description("serve the Tally API (gRPC, gRPC-Web and Connect on one port)");
  for (const option of serveOptions()) serve.addOption(option);
  registerSimulateCommand(program);
  registerKeysCommand(program);
  serve.hook("preAction", databaseUrlFallback);
  serve.hook("preAction", booleanEnvironment);
  serve.action(async (config: ServeConfig) => {
    // Asynchronous, coalesced writes: a synchronous write per call line costs
    // more than the rest of a call. Flushed before the process exits.
    // Credentials never reach the log: handlers log no headers, and these paths are redacted if anything ever does.
    const logger = pino(
      { level: config.logLevel, redact: { paths: ["authorization", "*.authorization", "*.headers.authorization", "bootstrapKey", "*.bootstrapKey"], censor: "[redacted]" } },
      pino.destination({ sync: false }),
    );
    const tally = await startTally(config, logger);
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down");
      tally.stop().then(
        () => {
          logger.info("stopped");
          logger.flush(() => process.exit(0));
        },
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          logger.flush(() => process.exit(1));
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await program.parseAsync(argv);
}
