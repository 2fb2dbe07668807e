import { type ChildProcess, fork, spawn, type SpawnOptions } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Every process the benchmark starts goes through here, so that one call can
 * end them all, each by its own pid, on success, failure or Ctrl-C.
 */
const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Starts one of the bench programs (a .ts file next to this one) in its own Node process, with an IPC channel. */
export function forkBenchProgram(fileName: string, args: string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(fileName, import.meta.url));
  return track(fork(path, args, { execArgv: ["--import", "tsx"], serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] }));
}

/** Starts any command, tracked like the bench programs. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return track(spawn(command, args, options));
}

/** SIGKILLs every tracked process still running. Synchronous, so it also works from an exit handler. */
export function killEveryStartedProcess(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  running.clear();
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Lets go of a bench child's channel (it then exits by itself) and waits for it; SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited(child);
  clearTimeout(timer);
}

/**
 * The first IPC message from `child` that `accept` turns into a value. Rejects
 * if the child exits first, sends `{ type: "error" }`, or `timeoutMs` passes
 * (and then kills it).
 */
export function nextMessage<T>(child: ChildProcess, accept: (message: unknown) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill("SIGKILL");
      reject(new Error(`no answer from process ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      if (isErrorMessage(message)) {
        cleanup();
        reject(new Error(`process ${child.pid} failed: ${message.message}`));
        return;
      }
      const value = accept(message);
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`process ${child.pid} exited (${signal ?? code}) before answering`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function isErrorMessage(message: unknown): message is { type: "error"; message: string } {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === "error";
}

/**
 * Sends `message` to the parent, then exits once the parent lets go of the
 * channel (or after 5 s): exiting straight away could let the parent see the
 * exit before the message.
 */
export function answerParentAndExit(message: unknown, exitCode = 0): void {
  if (process.send === undefined) {
    console.log(JSON.stringify(message));
    process.exit(exitCode);
  }
  process.once("disconnect", () => process.exit(exitCode));
  setTimeout(() => process.exit(exitCode), 5000);
  process.send(message);
}

/** Reports a fault to the parent as `{ type: "error" }` and exits: how every bench child fails. */
export function failChild(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  answerParentAndExit({ type: "error", message }, 1);
}

/** Called when a bench child starts and ends its measured window, so the caller can sample other processes. */
export interface WindowHooks {
  onWindowStart?(): void;
  onWindowEnd?(): void;
}

/**
 * Runs one bench program (load-generator.ts, storage-ceiling.ts) in a fresh
 * process: sends it `plan`, relays its window-start and window-end messages
 * to `hooks`, and returns its `{ type: "result" }` answer. The process is
 * gone when this settles, whatever happened.
 */
export async function runBenchChild<Result>(fileName: string, plan: unknown, timeoutMs: number, hooks: WindowHooks = {}): Promise<Result> {
  const child = forkBenchProgram(fileName);
  try {
    child.on("message", (message: unknown) => {
      const type = (message as { type?: unknown }).type;
      if (type === "window-start") hooks.onWindowStart?.();
      if (type === "window-end") hooks.onWindowEnd?.();
    });
    const answer = nextMessage(
      child,
      (message) => ((message as { type?: unknown }).type === "result" ? (message as { result: Result }).result : undefined),
      timeoutMs,
    );
    child.send(plan as object);
    return await answer;
  } finally {
    await stopChild(child);
  }
}
