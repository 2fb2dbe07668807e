import { parseArgs } from "node:util";

/** How much to measure. Every field can be set from the command line (`--runs 5`, `--duration-ms 8000`, ...). */
export interface BenchOptions {
  /** The ~1 minute run: shorter windows, one run per figure. Default false (the full ~5 minute run). */
  quick: boolean;
  /** Runs per figure; the table shows the median. Default 3 (1 with --quick). */
  runs: number;
  /** Load before each measured window, in ms. Default 1500 (1000 with --quick). */
  warmupMs: number;
  /** Each measured window, in ms. Default 4000 (2000 with --quick). */
  durationMs: number;
  /** HTTP/2 connections of the unary figures. Default 8. */
  connections: number;
  /** Concurrent streams per connection of the unary figures. Default 32. */
  streams: number;
  /** Events per BatchRecordUsage call and per StreamUsage message. Default 500. */
  batchSize: number;
  /** Concurrent BatchRecordUsage callers, one connection each. Default 4. */
  batchCallers: number;
  /** Concurrent StreamUsage streams, one connection each. Default 2. */
  ingestStreams: number;
  /** Messages unanswered per StreamUsage stream. Default 4. */
  streamWindow: number;
  /** Events in the current period of the GetCurrentBill customer. Default 1,000,000. */
  billEvents: number;
  /** Customers the ingest figures spread their events over. Default 16. */
  customers: number;
  /**
   * Before each measurement, wait up to this long for the machine to be
   * nearly idle (other people's work on a shared box). Default 3000 (1000
   * with --quick); each wait and the load it found go into the JSON.
   */
  quietWaitMs: number;
  /** All the quiet waits of a run together, at most this long. Default 30000 (5000 with --quick). */
  quietBudgetMs: number;
  /** Measurements taken again because other work disturbed their window, at most, per run. Default 5 (2 with --quick). */
  retakes: number;
  /** Also measure unary RecordUsage at the default log level (info, one JSON line per call). Default true; --no-info-log turns it off. */
  infoLog: boolean;
  /** Run the warn-level server under `node --cpu-prof` and summarise where its time went. Default false. */
  profile: boolean;
  /** Where the JSON goes. Default bench/results/latest.json. */
  output: string;
}

const USAGE = `usage: npm run bench [-- --quick] [--runs N] [--warmup-ms N] [--duration-ms N] [--connections N] [--streams N]
       [--batch-size N] [--batch-callers N] [--ingest-streams N] [--stream-window N] [--bill-events N]
       [--customers N] [--quiet-wait-ms N] [--quiet-budget-ms N] [--retakes N] [--no-info-log] [--profile] [--output FILE]`;

/** The options from `argv` (the arguments after the script), defaults filled in here and nowhere else. */
export function parseBenchOptions(argv: string[], defaultOutput: string): BenchOptions {
  const integer = { type: "string" } as const;
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      runs: integer,
      "warmup-ms": integer,
      "duration-ms": integer,
      connections: integer,
      streams: integer,
      "batch-size": integer,
      "batch-callers": integer,
      "ingest-streams": integer,
      "stream-window": integer,
      "bill-events": integer,
      customers: integer,
      "quiet-wait-ms": { type: "string" },
      "quiet-budget-ms": { type: "string" },
      retakes: { type: "string" },
      "no-info-log": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      output: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const parsed = Number(text);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive integer, not "${text}"\n${USAGE}`);
    return parsed;
  };
  return {
    quick,
    runs: number("runs", values.runs, quick ? 1 : 3),
    warmupMs: number("warmup-ms", values["warmup-ms"], quick ? 1000 : 1500),
    durationMs: number("duration-ms", values["duration-ms"], quick ? 2000 : 4000),
    connections: number("connections", values.connections, 8),
    streams: number("streams", values.streams, 32),
    batchSize: number("batch-size", values["batch-size"], 500),
    batchCallers: number("batch-callers", values["batch-callers"], 4),
    ingestStreams: number("ingest-streams", values["ingest-streams"], 2),
    streamWindow: number("stream-window", values["stream-window"], 4),
    billEvents: number("bill-events", values["bill-events"], 1_000_000),
    customers: number("customers", values.customers, 16),
    quietWaitMs: values["quiet-wait-ms"] === "0" ? 0 : number("quiet-wait-ms", values["quiet-wait-ms"], quick ? 1000 : 3000),
    quietBudgetMs: values["quiet-budget-ms"] === "0" ? 0 : number("quiet-budget-ms", values["quiet-budget-ms"], quick ? 5000 : 30_000),
    retakes: values.retakes === "0" ? 0 : number("retakes", values.retakes, quick ? 2 : 5),
    infoLog: values["no-info-log"] !== true,
    profile: values.profile === true,
    output: values.output ?? defaultOutput,
  };
}
