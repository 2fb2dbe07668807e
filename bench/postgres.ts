/**
 * `npm run bench:postgres`: the same load as `npm run bench` against Tally on
 * PostgreSQL, with 1 replica and with 3 replicas behind a round-robin TCP
 * balancer, beside Tally on SQLite measured in the same run, round after
 * round. Needs a PostgreSQL server: the npm script runs it under
 * scripts/with-postgres.sh (a throwaway cluster on 127.0.0.1), which sets
 * TALLY_TEST_POSTGRES_URL. Prints one table (progress on stderr) and writes
 * the JSON to bench/results/postgres.json. See bench/README.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { createBenchCatalog, type BenchCatalog } from "./bench-catalog.js";
import { type BenchOptions, parseBenchOptions } from "./bench-options.js";
import { createLoadGenerator, type LoadPlan } from "./load-plan.js";
import { createCpuWindow, createQuietGate, type CpuWindow } from "./machine-sampler.js";
import { killEveryStartedProcess } from "./processes.js";
import { type FigureRow, median, notesOf, renderTable, type Sample } from "./report.js";
import { startTallyServer, type TallyServer } from "./tally-server.js";
import { startTcpBalancer } from "./tcp-balancer.js";

const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));

/** The stores and replica counts compared; SQLite first, as the reference of the ratios. */
const SETUPS = [
  { id: "sqlite", label: "SQLite, 1 replica", store: "sqlite", replicas: 1 },
  { id: "pg1", label: "PostgreSQL, 1 replica", store: "postgres", replicas: 1 },
  { id: "pg3", label: "PostgreSQL, 3 replicas", store: "postgres", replicas: 3 },
] as const;
type Setup = (typeof SETUPS)[number];

/** The figures measured on each setup. */
const FIGURES = [
  { id: "unary", figure: "RecordUsage unary gRPC", unit: "calls/s" },
  // The same load right after, against customers that each have a usage limit (never reached): the check's cost,
  // as a ratio to the figure above on the same setup and round.
  { id: "unary-limited", figure: "  the same, every customer with a usage limit", unit: "calls/s", without: "unary" },
  { id: "batch", figure: "BatchRecordUsage", unit: "events/s" },
  { id: "batch-limited", figure: "  the same, every customer with a usage limit", unit: "events/s", without: "batch" },
  { id: "bill", figure: "GetCurrentBill p99", unit: "ms" },
] as const;

const benchStart = performance.now();
function progress(text: string): void {
  process.stderr.write(`[${((performance.now() - benchStart) / 1000).toFixed(0).padStart(3)}s] ${text}\n`);
}

const samples = new Map<string, Sample[]>();
function record(id: string, sample: Sample): void {
  samples.set(id, [...(samples.get(id) ?? []), sample]);
}
const checks: { name: string; ok: boolean; detail: string }[] = [];
const generator = createLoadGenerator();

function adminUrl(): string {
  const url = process.env.TALLY_TEST_POSTGRES_URL;
  if (url === undefined || url === "") throw new Error("TALLY_TEST_POSTGRES_URL is not set: run `npm run bench:postgres`");
  return url;
}

async function onPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one setup and round: a SQLite file, or a new PostgreSQL database. */
async function freshDatabase(setup: Setup, scratch: string, tag: string): Promise<string> {
  if (setup.store === "sqlite") return join(scratch, `${tag}.db`);
  await onPostgres(adminUrl(), (client) => client.query(`CREATE DATABASE ${tag}`));
  const url = new URL(adminUrl());
  url.pathname = `/${tag}`;
  return url.toString();
}

async function usageRecordCount(setup: Setup, db: string): Promise<number> {
  if (setup.store === "postgres") {
    return onPostgres(db, async (client) => Number((await client.query(`SELECT count(*) AS rows FROM usage_records`)).rows[0].rows));
  }
  const sqlite = new Database(db, { readonly: true });
  try {
    return (sqlite.prepare("SELECT count(*) AS rows FROM usage_records").get() as { rows: number }).rows;
  } finally {
    sqlite.close();
  }
}

function plans(options: BenchOptions, catalog: BenchCatalog, port: number, tag: string): Record<(typeof FIGURES)[number]["id"], LoadPlan> {
  const base = { port, protocol: "grpc", mode: "unary", warmupMs: options.warmupMs, durationMs: options.durationMs, drainMs: 15_000, messagesInFlight: 1 } as const;
  const usage = (kind: "record-usage" | "batch-record-usage", batchSize: number, limited = false) =>
    ({
      kind,
      idPrefix: `${tag}-${kind}${limited ? "-limited" : ""}-`,
      customerIds: limited ? catalog.limitedCustomerIds : catalog.customerIds,
      meterKey: catalog.meterKey,
      quantity: "1.25",
      batchSize,
    }) as const;
  const unary = (limited: boolean): LoadPlan => ({
    ...base,
    path: "/billing.v1.UsageService/RecordUsage",
    body: usage("record-usage", 1, limited),
    connections: options.connections,
    streamsPerConnection: options.streams,
    resultsField: 0,
  });
  const batch = (limited: boolean): LoadPlan => ({
    ...base,
    path: "/billing.v1.UsageService/BatchRecordUsage",
    body: usage("batch-record-usage", options.batchSize, limited),
    connections: options.batchCallers,
    streamsPerConnection: 1,
    resultsField: 1,
  });
  return {
    unary: unary(false),
    "unary-limited": unary(true),
    batch: batch(false),
    "batch-limited": batch(true),
    // A bill of a customer the ingest figures just wrote to, one call at a time: its latency, not queueing.
    bill: { ...base, path: "/billing.v1.BillingService/GetCurrentBill", body: { kind: "get-current-bill", customerId: catalog.customerIds[0]! }, connections: 1, streamsPerConnection: 1, resultsField: 0 },
  };
}

/** One round of one setup: fresh database, servers, catalog, the three figures, then the ledger checked against what was acknowledged. */
async function measureSetup(setup: Setup, options: BenchOptions, scratch: string, round: number, waitForQuiet: () => Promise<unknown>): Promise<void> {
  const tag = `bench_${setup.id}_${Date.now().toString(36)}_${round}`;
  const db = await freshDatabase(setup, scratch, tag);
  const servers: TallyServer[] = await Promise.all(
    Array.from({ length: setup.replicas }, (_, index) => startTallyServer({ db, logLevel: "warn", logFile: join(scratch, `${tag}-${index}.log`) })),
  );
  const balancer = setup.replicas > 1 ? await startTcpBalancer(servers.map((server) => server.port)) : undefined;
  let acknowledged = 0;
  try {
    const port = balancer?.port ?? servers[0]!.port;
    const catalog = await createBenchCatalog(`http://127.0.0.1:${port}`, options.customers);
    const setupPlans = plans(options, catalog, port, tag);
    for (const figure of FIGURES) {
      await waitForQuiet();
      const window = createCpuWindow(servers.map((server) => server.pid));
      let cpuWindow: CpuWindow | undefined;
      const load = await generator.run(setupPlans[figure.id], { onWindowStart: () => window.start(), onWindowEnd: () => (cpuWindow = window.end()) });
      acknowledged += load.acknowledgedEvents;
      const server = [...(cpuWindow?.processPercent.values() ?? [])].reduce((sum, percent) => sum + percent, 0);
      const cpu = { server, generator: load.generatorCpuPercent, other: (cpuWindow?.machinePercent ?? Number.NaN) - server - load.generatorCpuPercent };
      const value = figure.id === "bill" ? load.latencyMs.p99 : figure.unit === "calls/s" ? load.callsPerSecond : load.eventsPerSecond;
      const failures = load.failures + load.refusedEvents;
      record(`${setup.id}.${figure.id}`, { value, failures, failureSamples: load.failureSamples, cpu, extras: { p50: load.latencyMs.p50, p99: load.latencyMs.p99 }, raw: load });
      progress(`  ${setup.label}, ${figure.figure}: ${Math.round(value * 100) / 100} ${figure.unit}, p50 ${load.latencyMs.p50.toFixed(2)} ms, p99 ${load.latencyMs.p99.toFixed(2)} ms${failures > 0 ? `, ${failures} FAILURES` : ""}`);
    }
  } finally {
    await balancer?.close();
    await Promise.all(servers.map((server) => server.stop()));
  }
  const rows = await usageRecordCount(setup, db);
  checks.push({ name: `${setup.label}, round ${round}: every acknowledged event is in the ledger once`, ok: rows === acknowledged, detail: `${rows} usage_records rows, ${acknowledged} events acknowledged` });
  if (rows !== acknowledged) progress(`  CHECK FAILED: ${rows} usage_records rows, ${acknowledged} events acknowledged`);
}

function buildRows(): FigureRow[] {
  const rows: FigureRow[] = [];
  for (const figure of FIGURES) {
    for (const setup of SETUPS) {
      const id = `${setup.id}.${figure.id}`;
      const runs = samples.get(id) ?? [];
      // A limited figure's reference is the same load without limits on the same setup; the others', SQLite.
      const referenceId = "without" in figure ? `${setup.id}.${figure.without}` : setup.id === "sqlite" ? undefined : `sqlite.${figure.id}`;
      const reference = referenceId === undefined ? [] : (samples.get(referenceId) ?? []);
      // Paired per round: a burst of someone else's work hurts both sides of a ratio alike.
      const ratio = referenceId === undefined ? undefined : median(runs.map((sample, index) => sample.value / (reference[index]?.value ?? Number.NaN)));
      rows.push({
        id,
        figure: `${figure.figure}, ${setup.label}`,
        unit: figure.unit,
        value: median(runs.map((sample) => sample.value)),
        runs: runs.map((sample) => sample.value),
        ceilingId: referenceId,
        ceilingValue: referenceId === undefined ? undefined : median(reference.map((sample) => sample.value)),
        ratio,
        failures: runs.reduce((sum, sample) => sum + sample.failures, 0),
        failureSamples: runs.flatMap((sample) => sample.failureSamples ?? []).slice(0, 5),
        notes: notesOf(runs, figure.id === "bill" ? { p50: "ms" } : { p50: "ms", p99: "ms" }),
        samples: runs,
      });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2), join(RESULTS_DIR, "postgres.json"));
  adminUrl();
  const scratch = mkdtempSync(join(os.tmpdir(), "tally-bench-pg-"));
  const cleanUp = () => {
    killEveryStartedProcess();
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once("exit", cleanUp);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
  const waitForQuiet = createQuietGate(options.quietWaitMs, options.quietBudgetMs);
  const postgresVersion = await onPostgres(adminUrl(), async (client) => String((await client.query("SHOW server_version")).rows[0].server_version));
  progress(`PostgreSQL ${postgresVersion}; ${options.runs} round(s), ${options.warmupMs} ms warm-up + ${options.durationMs} ms window; scratch ${scratch}`);
  let error: unknown;
  try {
    for (let round = 1; round <= options.runs; round++) {
      for (const setup of SETUPS) {
        progress(`round ${round}: ${setup.label}`);
        await measureSetup(setup, options, scratch, round, waitForQuiet);
      }
    }
  } catch (caught) {
    error = caught;
  } finally {
    await generator.close();
  }
  const rows = buildRows();
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(
    options.output,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        complete: error === undefined,
        error: error === undefined ? undefined : String(error instanceof Error ? (error.stack ?? error.message) : error),
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "", node: process.version, postgres: postgresVersion },
        options,
        method:
          "per round and setup: a fresh database (SQLite file or PostgreSQL database on a throwaway local cluster, fsync and synchronous_commit on), " +
          "the replicas started on it, the bench catalog created through the API; unary RecordUsage (connections × streams, every call a new request_id), " +
          "BatchRecordUsage (callers × batch size, non-atomic), each followed by the same load against customers that each have a usage limit (never reached; its ratio is to the load just before it), then GetCurrentBill one call at a time; 3 replicas are reached through a round-robin TCP balancer " +
          "in the benchmark process (per connection); ratios are paired per round against SQLite; afterwards usage_records must hold exactly the acknowledged events",
        figures: rows,
        checks,
      },
      null,
      2,
    )}\n`,
  );
  console.log(renderTable(rows));
  console.log("");
  for (const check of checks) console.log(`${check.ok ? "check ok" : "CHECK FAILED"}: ${check.name} (${check.detail})`);
  console.log(`JSON: ${options.output}`);
  if (error !== undefined) {
    progress(`the run stopped early: ${String(error instanceof Error ? error.message : error)}`);
    process.exitCode = 1;
  }
  if (checks.some((check) => !check.ok)) process.exitCode = 1;
}

await main();
