import { clientsFor, type Protocol, type TallyClients, TEST_ADMIN_KEY, transportFor } from "../support/clients.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

/**
 * What every fault test shares: servers started as real `tally serve`
 * processes with the test admin key as their bootstrap key, clients that send
 * it, and seeded randomness whose seed is printed so a failure can be replayed.
 */

/** The header every hand-made request carries. */
export const AUTHORIZATION = `Bearer ${TEST_ADMIN_KEY}`;

/**
 * Starts `tally serve` on `db` (on `port`, else a free one) with no rate
 * limit (the suite's loads are bounded by their own counts, and a refusal
 * for rate would blur what each fault test checks) and any extra flags.
 */
export function startFaultServer(db: string, options: { port?: number; args?: string[] } = {}): Promise<TallyProcess> {
  const args = [...(options.port === undefined ? [] : ["--port", String(options.port)]), "--rate-limit", "0", ...(options.args ?? [])];
  return startTallyProcess(db, args);
}

/** Clients of every service over `protocol`, sending the admin key. */
export function keyedClients(protocol: Protocol, baseUrl: string): TallyClients {
  return clientsFor(transportFor(protocol, baseUrl));
}

/**
 * The seed of this run: TALLY_FAULT_SEED when set (to replay a failure),
 * else a fresh one. Tests print it with t.diagnostic and in failure messages.
 */
export function faultSeed(): number {
  const given = process.env.TALLY_FAULT_SEED;
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`TALLY_FAULT_SEED must be a non-negative integer, not "${given}"`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}


/** Stops a server process that may already be dead, with SIGKILL. */
export async function killIfRunning(tally: TallyProcess | undefined): Promise<void> {
  if (tally === undefined || tally.child.exitCode !== null || tally.child.signalCode !== null) return;
  tally.child.kill("SIGKILL");
  await tally.exited;
}

/** GET /healthz: the HTTP status (0 when the server does not answer). */
export async function healthz(baseUrl: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** The server's worst event-loop delay, in ms, since the previous call (it resets the figure on every /metrics scrape). */
export async function worstEventLoopDelayMs(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Math.round(Number(/^tally_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)![1]) * 1000);
}
