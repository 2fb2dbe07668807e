import type { Interceptor } from "@connectrpc/connect";
import { Command } from "commander";
import { pino, type Logger } from "pino";
import { type ServeConfig, serveOptions } from "./config.js";
import { seedDemo } from "./demo-seed.js";
import { createBilling } from "./domain/billing.js";
import { createCatalog } from "./domain/catalog.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { createCustomerDirectory } from "./domain/customer-directory.js";
import { DEFAULT_TIME_RULES } from "./domain/time-rules.js";
import { createUsageLedger } from "./domain/usage-ledger.js";
import { createTallyServer } from "./server/server.js";
import { registerSimulateCommand } from "./simulate/simulate-command.js";
import type { Store } from "./domain/store.js";
import { openPostgresStore } from "./store/postgres/postgres-store.js";
import { openSqliteStore } from "./store/sqlite/sqlite-store.js";

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
}

/**
 * The one place that wires the concrete store into the use cases and the use
 * cases into the server, then listens.
 */
export async function startTally(config: ServeConfig, logger: Logger, dependencies: TallyDependencies = {}): Promise<RunningTally> {
  const clock = dependencies.clock ?? systemClock;
  const store = await openStore(config.db);
  const timeRules = { ...DEFAULT_TIME_RULES, finalizeGraceMs: config.finalizeGrace };
  const services = {
    directory: createCustomerDirectory({ store, clock }),
    catalog: createCatalog({ store, clock, timeRules }),
    ledger: createUsageLedger({ store, clock, timeRules }),
    billing: createBilling({ store, clock, timeRules }),
  };
  const demo = config.demo ? await seedDemo(services, clock) : undefined;
  const server = createTallyServer({
    services,
    logger,
    maxMessageBytes: config.maxMessageBytes,
    interceptors: dependencies.interceptors,
    corsOrigins: config.corsOrigins,
  });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (error) {
    await store.close();
    throw error;
  }
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, db: withoutPassword(config.db), port: address.port }, "listening");
  if (demo !== undefined) process.stdout.write(demoBanner(url, address.port, demo.customerIds[0] ?? "acme", demo.seeded));

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

/** `--db`: a postgres:// (or postgresql://) URL opens the PostgreSQL store; anything else is a SQLite file. */
async function openStore(db: string): Promise<Store> {
  return /^postgres(ql)?:\/\//.test(db) ? openPostgresStore({ url: db }) : openSqliteStore({ path: db });
}

/** The database as it may be logged: a URL's password replaced. */
function withoutPassword(db: string): string {
  if (!/^postgres(ql)?:\/\//.test(db)) return db;
  const url = new URL(db);
  if (url.password !== "") url.password = "***";
  return url.toString();
}

function demoBanner(url: string, port: number, customer: string, seeded: boolean): string {
  const authority = `localhost:${port}`;
  return `
Tally is serving ${url} (gRPC, gRPC-Web and Connect on one port)${seeded ? "; demo data seeded" : ""}.

  curl -s ${url}/billing.v1.BillingService/GetCurrentBill -H 'content-type: application/json' -d '{"customerId":"${customer}"}'
  curl -s ${url}/billing.v1.UsageService/RecordUsage -H 'content-type: application/json' \\
    -d '{"requestId":"try-1","customerId":"${customer}","meterKey":"database-hosting","quantity":"12.5"}'
  grpcurl -plaintext ${authority} list
  grpcurl -plaintext -d '{"customer_id":"${customer}"}' ${authority} billing.v1.BillingService/GetCurrentBill

`;
}

/** The `tally` command line. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command("tally").description("Tally: usage metering and billing").showHelpAfterError();
  const serve = program.command("serve").description("serve the Tally API (gRPC, gRPC-Web and Connect on one port)");
  for (const option of serveOptions()) serve.addOption(option);
  registerSimulateCommand(program);
  serve.action(async (config: ServeConfig) => {
    // TALLY_DATABASE_URL (the name hosting platforms use) names the database when neither --db nor TALLY_DB does.
    if (serve.getOptionValueSource("db") === "default" && process.env.TALLY_DATABASE_URL) {
      config = { ...config, db: process.env.TALLY_DATABASE_URL };
    }
    // Asynchronous, coalesced writes: a synchronous write per call line costs
    // more than the rest of a call. Flushed before the process exits.
    const logger = pino({ level: config.logLevel }, pino.destination({ sync: false }));
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
