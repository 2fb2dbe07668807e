import { type Command, InvalidArgumentError, Option } from "commander";
import { runSimulation, type SimulationOutput } from "../simulate/simulation.js";
import { MAX_BATCH_SIZE, SIMULATION_DEFAULTS } from "../config.js";
import { MAX_RUN_ID_LENGTH, type SimulationOptions } from "../simulate/simulation-options.js";

/** The flags of `tally simulate` as commander hands them to the action. */
interface SimulateFlags {
  url: string;
  protocol: SimulationOptions["protocol"];
  apiKey?: string;
  customers: number;
  meters: number;
  total: number;
  rate?: number;
  duration: number;
  concurrency: number;
  mode: SimulationOptions["mode"];
  batchSize: number;
  scenario: SimulationOptions["scenario"];
  burstMs: number;
  pauseMs: number;
  duplicates: number;
  late: number;
  badInput: number;
  clientRetries: boolean;
  seed?: string;
  runId?: string;
  json: boolean;
}

/**
 * Adds `tally simulate` to the `tally` program: load and scenario generation
 * against a running server, ending with a check of every simulated bill.
 * Each flag also reads a TALLY_SIMULATE_* variable; the exit code is 0 when
 * every bill matches and every bad input was refused for its reason, else 1.
 * `output` is where the summary and progress go (tests pass their own).
 */
export function registerSimulateCommand(program: Command, output: SimulationOutput = { stdout: process.stdout, stderr: process.stderr }): void {
  const simulate = program
    .command("simulate")
    .description("send simulated usage to a running Tally, then check every simulated bill against what was sent");
  for (const option of simulateOptions()) simulate.addOption(option);
  simulate.action(async (flags: SimulateFlags, command: Command) => {
    if (flags.rate === undefined && command.getOptionValueSource("duration") !== "default") {
      command.error("error: --duration needs --rate (without a rate, --total says how many events to send)");
    }
    const stop = new AbortController();
    const onInterrupt = () => {
      output.stderr.write("\ntally simulate: stopping; settling what was sent, then checking bills (Ctrl-C again to quit)\n");
      stop.abort();
    };
    process.once("SIGINT", onInterrupt);
    try {
      const summary = await runSimulation(simulationOptions(flags, stop.signal), output);
      process.exitCode = summary.exitCode;
    } catch (error) {
      output.stderr.write(`tally simulate: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    } finally {
      process.off("SIGINT", onInterrupt);
    }
  });
}

function simulationOptions(flags: SimulateFlags, signal: AbortSignal): SimulationOptions {
  return {
    url: flags.url,
    protocol: flags.protocol,
    apiKey: flags.apiKey,
    customers: flags.customers,
    meters: flags.meters,
    total: flags.total,
    rate: flags.rate,
    durationSeconds: flags.duration,
    concurrency: flags.concurrency,
    mode: flags.mode,
    batchSize: flags.batchSize,
    scenario: flags.scenario,
    burstMs: flags.burstMs,
    pauseMs: flags.pauseMs,
    duplicatesPercent: flags.duplicates,
    latePercent: flags.late,
    badInputPercent: flags.badInput,
    clientRetries: flags.clientRetries,
    seed: flags.seed,
    runId: flags.runId,
    json: flags.json,
    signal,
  };
}

/** The flags, with their TALLY_SIMULATE_* variables and the defaults of SimulationOptions. */
function simulateOptions(): Option[] {
  const defaults = SIMULATION_DEFAULTS;
  const env = (name: string) => `TALLY_SIMULATE_${name}`;
  return [
    new Option("--url <url>", "the Tally server").env(env("URL")).default(defaults.url),
    new Option("--protocol <protocol>", "wire protocol").env(env("PROTOCOL")).choices(["grpc", "connect", "grpc-web"]).default(defaults.protocol),
    new Option("--api-key <key>", "sent as a bearer token on every call").env(env("API_KEY")),
    new Option("--customers <n>", "simulated customers").env(env("CUSTOMERS")).default(defaults.customers).argParser(positiveInteger),
    new Option("--meters <n>", "simulated meters (even: SUM, 3 decimals; odd: COUNT; the first four priced graduated, by package, by volume, graduated with flat fees)")
      .env(env("METERS"))
      .default(defaults.meters)
      .argParser(positiveInteger),
    new Option("--total <n>", "events to send, duplicates and bad input included")
      .env(env("TOTAL"))
      .default(defaults.total)
      .argParser(nonNegativeInteger)
      .conflicts("rate"),
    new Option("--rate <events-per-second>", "send at this rate for --duration seconds instead of a total").env(env("RATE")).argParser(positiveNumber),
    new Option("--duration <seconds>", "how long a --rate run sends").env(env("DURATION")).default(defaults.durationSeconds).argParser(positiveNumber),
    new Option("--concurrency <n>", "calls in flight: unary calls, producer batches, or open streams")
      .env(env("CONCURRENCY"))
      .default(defaults.concurrency)
      .argParser(positiveInteger),
    new Option("--mode <mode>", "unary: RecordUsage per event; batch: BatchRecordUsage via the client's producer; stream: StreamUsage")
      .env(env("MODE"))
      .choices(["unary", "batch", "stream"])
      .default(defaults.mode),
    new Option("--batch-size <n>", `events per batch or stream message (at most ${MAX_BATCH_SIZE})`)
      .env(env("BATCH_SIZE"))
      .default(defaults.batchSize)
      .argParser(positiveInteger),
    new Option("--scenario <scenario>", "steady, or burst: alternating bursts and pauses")
      .env(env("SCENARIO"))
      .choices(["steady", "burst"])
      .default(defaults.scenario),
    new Option("--burst-ms <ms>", "length of a burst").env(env("BURST_MS")).default(defaults.burstMs).argParser(positiveInteger),
    new Option("--pause-ms <ms>", "length of the pause after a burst").env(env("PAUSE_MS")).default(defaults.pauseMs).argParser(nonNegativeInteger),
    new Option("--duplicates <percent>", "percent of events re-sent with the same request_id")
      .env(env("DUPLICATES"))
      .default(defaults.duplicatesPercent)
      .argParser(percent),
    new Option("--late <percent>", "percent of events with an event_time earlier in the current period")
      .env(env("LATE"))
      .default(defaults.latePercent)
      .argParser(percent),
    new Option("--bad-input <percent>", "percent of invalid events (bad quantity, unknown meter, future event_time), each to be refused for its reason")
      .env(env("BAD_INPUT"))
      .default(defaults.badInputPercent)
      .argParser(percent),
    new Option("--client-retries", "let the client library retry failed calls, and count the retries")
      .env(env("CLIENT_RETRIES"))
      .default(defaults.clientRetries),
    new Option("--seed <seed>", "seed of the event mix (default: random, printed in the summary)").env(env("SEED")),
    new Option("--run-id <id>", "namespace of the run's customers, meters and request ids (default: random)")
      .env(env("RUN_ID"))
      .argParser(runId),
    new Option("--json", "print the summary as JSON").env(env("JSON")).default(defaults.json),
  ];
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError("expected a positive integer");
  return value;
}

function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) throw new InvalidArgumentError("expected a non-negative integer");
  return value;
}

function positiveNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError("expected a positive number");
  return value;
}

function percent(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > 100) throw new InvalidArgumentError("expected a percentage from 0 to 100");
  return value;
}

function runId(text: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(text) || text.length > MAX_RUN_ID_LENGTH) {
    throw new InvalidArgumentError(`expected lower-case letters, digits and '-', at most ${MAX_RUN_ID_LENGTH} characters`);
  }
  return text;
}
