import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listeningPorts, residentKiB } from "./machine-sampler.js";
import { BENCH_KEY } from "./load-plan.js";
import { exited, spawnTracked } from "./processes.js";

/** The repository root, where `bin/tally.js` lives. */
export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

/** How to start the real server. */
export interface TallyServerOptions {
  /** The SQLite file (created if missing). */
  db: string;
  /** `--log-level`; "warn" keeps the per-call log lines out, "info" is the default. */
  logLevel: string;
  /** Where the server's stdout and stderr go (its JSON log). */
  logFile: string;
  /** Extra flags for node, e.g. ["--cpu-prof", "--cpu-prof-dir=..."]. Default none. */
  nodeFlags?: string[];
  /** How long to wait for the server to listen, in ms. Default 60000. */
  startTimeoutMs?: number;
}

/** A running `tally serve`. */
export interface TallyServer {
  pid: number;
  port: number;
  url: string;
  /** From spawning the process to its port accepting connections. */
  startupMs: number;
  /** Its resident set now, in KiB (/proc/<pid>/status VmRSS). */
  residentKiB(): number;
  /** SIGTERM (graceful shutdown), SIGKILL if it takes over 20 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * The Node flags the server runs with, as `npm start`, the `tally` command
 * and the Dockerfile run it: a 64 MiB young generation (README,
 * "Configuration"), so a call's garbage dies young instead of being promoted.
 * BENCH_SERVER_NODE_FLAGS replaces them, to measure what they are worth.
 */
export const SERVER_NODE_FLAGS = (process.env.BENCH_SERVER_NODE_FLAGS ?? "--max-semi-space-size=64").split(" ").filter((flag) => flag !== "");

/**
 * Starts `node <SERVER_NODE_FLAGS> bin/tally.js serve --port 0 ...` and finds its port: from the
 * JSON "listening" log line when the log level lets it through, otherwise
 * (at warn) from the listening socket the process owns.
 */
export async function startTallyServer(options: TallyServerOptions): Promise<TallyServer> {
  const log = openSync(options.logFile, "a");
  const logOffset = fstatSync(log).size;
  const startedAt = performance.now();
  const child = spawnTracked(
    process.execPath,
    // No rate limit: the benchmark measures how fast one tenant can go.
    [...SERVER_NODE_FLAGS, ...(options.nodeFlags ?? []), "bin/tally.js", "serve", "--port", "0", "--host", "127.0.0.1", "--db", options.db, "--log-level", options.logLevel, "--rate-limit", "0"],
    { cwd: REPO_ROOT, stdio: ["ignore", log, log], env: { ...process.env, TALLY_BOOTSTRAP_KEY: BENCH_KEY } },
  );
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start tally serve");
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited(child);
    clearTimeout(timer);
  };
  const deadline = startedAt + (options.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`tally serve exited (${child.signalCode ?? child.exitCode}) before listening:\n${tail(options.logFile)}`);
      }
      const port = portFromLog(options.logFile, logOffset) ?? listeningPorts(pid)[0];
      if (port !== undefined) {
        return { pid, port, url: `http://127.0.0.1:${port}`, startupMs: performance.now() - startedAt, residentKiB: () => residentKiB(pid), stop };
      }
      if (performance.now() > deadline) throw new Error(`tally serve did not listen within ${options.startTimeoutMs ?? 60_000} ms:\n${tail(options.logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The port of the "listening" line written after `offset` (earlier lines belong to earlier runs). */
function portFromLog(logFile: string, offset: number): number | undefined {
  for (const line of readFileSync(logFile).subarray(offset).toString("utf8").split("\n")) {
    if (!line.includes('"listening"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
      if (entry.msg === "listening" && typeof entry.port === "number") return entry.port;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

function tail(logFile: string): string {
  return readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
}
