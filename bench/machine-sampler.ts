import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/**
 * What /proc says about processes and the machine: CPU time, resident
 * memory, listening ports. Linux only, like the rest of the benchmark.
 */

/** Clock ticks per second of /proc CPU times (USER_HZ, 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in seconds; NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** CPU time every core of the machine has spent busy so far (everything but idle and iowait), in seconds. */
export function machineBusyCpuSeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SECOND;
}

/** A process's resident set (VmRSS), in KiB; NaN once it is gone. */
export function residentKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

/** The TCP ports a process listens on (IPv4 and IPv6), found through its socket inodes. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null) inodes.add(match[1]!);
    } catch {
      // the descriptor closed while we looked
    }
  }
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let lines: string[];
    try {
      lines = readFileSync(table, "utf8").split("\n").slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const columns = line.trim().split(/\s+/);
      // columns: sl local_address rem_address st ... inode (10th)
      if (columns[3] === "0A" && inodes.has(columns[9] ?? "")) {
        ports.push(Number.parseInt(columns[1]!.split(":")[1]!, 16));
      }
    }
  }
  return ports;
}

/** CPU use over one measured window, in % of one core (on 2 cores the machine's total is at most 200). */
export interface CpuWindow {
  /** Per watched pid. */
  processPercent: Map<number, number>;
  /** Every process on the machine together. */
  machinePercent: number;
}

/** Samples CPU at start() and end() of a window, for the watched processes and the whole machine. */
export function createCpuWindow(pids: number[]) {
  let startedAt = 0;
  let machineAtStart = 0;
  const processAtStart = new Map<number, number>();
  return {
    start(): void {
      startedAt = performance.now();
      machineAtStart = machineBusyCpuSeconds();
      for (const pid of pids) processAtStart.set(pid, processCpuSeconds(pid));
    },
    end(): CpuWindow {
      const seconds = (performance.now() - startedAt) / 1000;
      const processPercent = new Map<number, number>();
      for (const pid of pids) processPercent.set(pid, ((processCpuSeconds(pid) - processAtStart.get(pid)!) / seconds) * 100);
      return { processPercent, machinePercent: ((machineBusyCpuSeconds() - machineAtStart) / seconds) * 100 };
    },
  };
}

/** How long a measurement waited for the machine to calm down, and how busy it was when it went ahead. */
export interface QuietWait {
  waitedMs: number;
  /** Whole-machine CPU use over the last sample before going ahead, % of one core. */
  busyPercent: number;
}

/**
 * Waits until the whole machine uses at most `busyLimitPercent` of one core
 * over a 250 ms sample (our own idle servers included), or `maxWaitMs` has
 * passed. On a shared box this keeps a burst of someone else's work (a
 * compiler, a test run) out of the measured window when it can.
 */
async function waitForQuiet(maxWaitMs: number, busyLimitPercent: number): Promise<QuietWait> {
  const startedAt = performance.now();
  for (;;) {
    const before = machineBusyCpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, 250));
    const busyPercent = ((machineBusyCpuSeconds() - before) / 0.25) * 100;
    const waitedMs = performance.now() - startedAt;
    if (busyPercent <= busyLimitPercent || waitedMs >= maxWaitMs) return { waitedMs, busyPercent };
  }
}

/**
 * Quiet waits with a budget: each wait lasts at most `perWaitMs`, and all of
 * them together at most `totalMs`, so a machine that never calms down costs
 * the run a bounded amount of time.
 */
export function createQuietGate(perWaitMs: number, totalMs: number, busyLimitPercent = 30) {
  let left = totalMs;
  return async (): Promise<QuietWait> => {
    const wait = await waitForQuiet(Math.min(perWaitMs, Math.max(0, left)), busyLimitPercent);
    left -= wait.waitedMs;
    return wait;
  };
}
