import { type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { clientsFor, type Protocol, type TallyClients } from "../support/clients.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

/**
 * What every fault test shares: servers started as real `tally serve`
 * processes with an admin key, clients that send it, and seeded randomness
 * whose seed is printed so a failure can be replayed.
 */

/** The admin key every fault test's server is started with (TALLY_BOOTSTRAP_KEY) and every call sends. */
export const FAULT_API_KEY = `tally_kfa017500000000ff_${"faultSuiteReplayableKey0123456789abcdefghijk".slice(0, 43)}`;

/** The header every call carries. */
export const AUTHORIZATION = `Bearer ${FAULT_API_KEY}`;

const withKey: Interceptor = (next) => (request) => {
  request.header.set("authorization", AUTHORIZATION);
  return next(request);
};

/** Starts `tally serve` on `db` with the fault suite's key (on `port`, else a free one). */
export function startFaultServer(db: string, options: { port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<TallyProcess> {
  const args = options.port === undefined ? [] : ["--port", String(options.port)];
  return startTallyProcess(db, args, { TALLY_BOOTSTRAP_KEY: FAULT_API_KEY, ...options.env });
}

/** A transport of `protocol` that sends the key on every call. */
export function keyedTransport(protocol: Protocol, baseUrl: string): Transport {
  const interceptors = [withKey];
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl, interceptors });
    case "connect-json-h1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors });
    case "connect-binary-h1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors });
    case "connect-json-h2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, interceptors });
    case "connect-binary-h2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors });
    case "grpc-web-h1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
    case "grpc-web-h2":
      return createGrpcWebTransport({ baseUrl, httpVersion: "2", interceptors });
  }
}

/** Clients of every service over `protocol`, sending the key. */
export function keyedClients(protocol: Protocol, baseUrl: string): TallyClients {
  return clientsFor(keyedTransport(protocol, baseUrl));
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

/** A small seeded generator (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    /** One of `items`. */
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    /** `length` random bytes. */
    bytes: (length: number) => Uint8Array.from({ length }, () => Math.floor(next() * 256)),
  };
}
export type SeededRandom = ReturnType<typeof seededRandom>;

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
