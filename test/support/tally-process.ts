import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TEST_ADMIN_KEY } from "./clients.js";

/** A `tally serve` child process on a free port. */
export interface TallyProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A scratch directory removed by `cleanup`. */
export function scratchDirectory(prefix = "tally-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Starts the real `tally serve` command (bin/tally.js, which runs the build in
 * dist/) on port 0 and waits for its "listening" log line. Its bootstrap key
 * is TEST_ADMIN_KEY unless `env` sets another. `cwd` is the package directory
 * to run it in; default the repository's.
 */
export async function startTallyProcess(db: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<TallyProcess> {
  const child = spawn(process.execPath, ["--max-semi-space-size=64", "bin/tally.js", "serve", "--port", "0", "--db", db, ...extraArgs], {
    cwd,
    env: { ...process.env, TALLY_BOOTSTRAP_KEY: TEST_ADMIN_KEY, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<{ url: string; port: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === "listening") resolve({ url: String(entry.url), port: Number(entry.port) });
    });
    void exited.then(({ code, signal }) => reject(new Error(`tally exited (${code ?? signal}) before listening: ${stderr}`)));
  });
  const { url, port } = await listening;
  return { url, port, child, logs, exited };
}
