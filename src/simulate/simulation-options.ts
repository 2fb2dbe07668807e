import { randomBytes } from "node:crypto";
import { MAX_BATCH_SIZE, SIMULATION_DEFAULTS } from "../config.js";

/** How events travel: one RecordUsage each, BatchRecordUsage through the client's producer, or StreamUsage. */
export type SimulationMode = "unary" | "batch" | "stream";

/** The shape of the load over time. */
export type SimulationScenario = "steady" | "burst";

/** The wire protocols the simulator can speak (the client library's). */
export type SimulationProtocol = "grpc" | "connect" | "grpc-web";

/**
 * What one simulation does. Every field is optional; resolveSimulationOptions
 * fills the defaults stated here (SIMULATION_DEFAULTS in src/config.ts), and `tally simulate` maps its flags (and
 * TALLY_SIMULATE_* variables) onto the same fields.
 */
export interface SimulationOptions {
  /** The Tally server. Default "http://127.0.0.1:8080". */
  url?: string;
  /** Wire protocol of every call. Default "grpc". */
  protocol?: SimulationProtocol;
  /** Sent as `authorization: Bearer <apiKey>`. Default none. */
  apiKey?: string;
  /** Simulated customers, created at setup. Default 20. */
  customers?: number;
  /**
   * Simulated meters, created at setup (even: SUM with 3 decimals, odd: COUNT; the first four priced by each
   * model). Default 4. Three more always come beside them: a meter split by region (with a region price and
   * the first customer's own price), a UNIQUE_COUNT meter and a LATEST gauge.
   */
  meters?: number;
  /** Events to send, duplicates and bad input included, as fast as the concurrency allows. Default 10000; ignored when `rate` is set. */
  total?: number;
  /** Events per second; with it the run lasts `durationSeconds` instead of sending `total`. Default none. */
  rate?: number;
  /** How long a rate-driven run sends, in seconds. Default 10. */
  durationSeconds?: number;
  /** Calls in flight at once: unary calls, producer batches, or open streams. Default 16. */
  concurrency?: number;
  /** How events are sent. Default "unary". */
  mode?: SimulationMode;
  /** Events per BatchRecordUsage call or StreamUsage message (at most 1000). Default 100. */
  batchSize?: number;
  /** "steady", or "burst": sending for `burstMs`, then pausing for `pauseMs`, over and over. Default "steady". */
  scenario?: SimulationScenario;
  /** Length of one burst, in ms. Default 1000. */
  burstMs?: number;
  /** Length of the pause after a burst, in ms. Default 1000. */
  pauseMs?: number;
  /** Percent of events that re-send an earlier event with its request_id. Default 0. */
  duplicatesPercent?: number;
  /** Percent of events with an event_time earlier in the current period. Default 0. */
  latePercent?: number;
  /** Percent of deliberately invalid events, each of which must be refused with its reason. Default 0. */
  badInputPercent?: number;
  /** Let the client library retry failed calls (and count the retries). Default false: one attempt per call. */
  clientRetries?: boolean;
  /** Seeds the choice of customers, meters, quantities and event kinds. Default a random seed, reported in the summary. */
  seed?: string;
  /** Namespaces customers, meters and request ids, so that runs never collide; one already used on the server is refused. Default a random short id. */
  runId?: string;
  /** Print the summary as JSON instead of text. Default false. */
  json?: boolean;
  /** Without a terminal on stderr, how often a progress line is printed, in ms. Default 5000. */
  progressIntervalMs?: number;
  /** Stops sending new events when aborted; what was sent is still settled and checked. Default none. */
  signal?: AbortSignal;
}

/** SimulationOptions with every default filled in. */
export type ResolvedSimulationOptions = Required<Omit<SimulationOptions, "apiKey" | "rate" | "signal">> & {
  apiKey: string | undefined;
  rate: number | undefined;
  signal: AbortSignal | undefined;
};

/** The longest run id: meter keys `sim-<runId>-m<i>` must stay within 63 characters. */
export const MAX_RUN_ID_LENGTH = 40;

/** The one place defaults are filled in; refuses combinations that cannot run. */
export function resolveSimulationOptions(options: SimulationOptions = {}): ResolvedSimulationOptions {
  const resolved: ResolvedSimulationOptions = {
    ...SIMULATION_DEFAULTS,
    ...withoutUndefined(options),
    apiKey: options.apiKey,
    rate: options.rate,
    signal: options.signal,
    seed: options.seed ?? randomBytes(4).toString("hex"),
    runId: options.runId ?? newRunId(),
  };
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9-]*$/.test(resolved.runId) || resolved.runId.length > MAX_RUN_ID_LENGTH) {
    problems.push(`run id "${resolved.runId}" must be lower-case letters, digits and '-', at most ${MAX_RUN_ID_LENGTH} characters`);
  }
  for (const field of ["customers", "meters", "concurrency", "batchSize"] as const) {
    if (!Number.isSafeInteger(resolved[field]) || resolved[field] < 1) problems.push(`${field} must be a positive integer`);
  }
  if (!Number.isSafeInteger(resolved.total) || resolved.total < 0) problems.push("total must be a non-negative integer");
  if (resolved.batchSize > MAX_BATCH_SIZE) problems.push(`batchSize is at most ${MAX_BATCH_SIZE} (the server's limit per batch)`);
  if (resolved.rate !== undefined && !(resolved.rate > 0)) problems.push("rate must be positive");
  if (!(resolved.durationSeconds > 0)) problems.push("durationSeconds must be positive");
  if (!(resolved.burstMs > 0) || !(resolved.pauseMs >= 0)) problems.push("burstMs must be positive and pauseMs not negative");
  const percents = [resolved.duplicatesPercent, resolved.latePercent, resolved.badInputPercent];
  if (percents.some((percent) => !(percent >= 0 && percent <= 100))) problems.push("percentages must be between 0 and 100");
  if (percents.reduce((sum, percent) => sum + percent, 0) > 100) {
    problems.push("duplicates, late and bad-input percentages together must not exceed 100");
  }
  if (problems.length > 0) throw new RangeError(`cannot simulate: ${problems.join("; ")}`);
  return resolved;
}

/** Six lower-case letters and digits: short enough to read, enough not to collide between runs. */
export function newRunId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(6)].map((byte) => alphabet[byte % alphabet.length]).join("");
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
