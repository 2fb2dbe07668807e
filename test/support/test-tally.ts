import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { pino } from "pino";
import { defaultServeConfig, type ServeConfig } from "../../src/config.js";
import { type Clock, systemClock } from "../../src/domain/clock.js";
import { openStore, type RunningTally, startTally } from "../../src/main.js";
import type { Role } from "../../src/domain/api-key.js";
import { valueOrThrow } from "../../src/domain/failure.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { DEFAULT_SCOPE } from "../../src/domain/store.js";
import { clientsFor, type Protocol, TEST_ADMIN_KEY, type TallyClients, transportFor } from "./clients.js";
import { scratchDirectory } from "./tally-process.js";

/** A clock a test moves by hand. */
export class TestClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 15, 12)) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/** An in-process Tally on port 0 with its own database, over real sockets. */
export interface TestTally extends RunningTally {
  db: string;
  clock: TestClock;
  /** Clients of every service; with the test admin key unless `apiKey` is given ("" for none). */
  clients(protocol?: Protocol, apiKey?: string): TallyClients;
  /** A new stored API key, as `tally keys create` makes one. */
  createKey(role: Role, tenant?: string): Promise<string>;
}

/**
 * Starts Tally in this process. Without `overrides.db` it gets a scratch
 * database that `stop()` removes; a given database is kept. TEST_ADMIN_KEY is
 * its bootstrap key, and there is no rate limit unless `overrides` sets one.
 * TALLY_GRPC_FAST_PATH=0 in the environment turns the gRPC fast path off, as
 * it does for `tally serve`: `npm test` runs the e2e suite both ways.
 */
export async function startTestTally(
  overrides: Partial<ServeConfig> = {},
  clock = new TestClock(),
  interceptors: Interceptor[] = [],
): Promise<TestTally> {
  const scratch = overrides.db === undefined ? scratchDirectory() : undefined;
  const db = overrides.db ?? join(scratch!.path, "tally.db");
  const config: ServeConfig = {
    ...defaultServeConfig(),
    port: 0,
    logLevel: "silent",
    shutdownGrace: 2_000,
    bootstrapKey: TEST_ADMIN_KEY,
    rateLimit: 0,
    // Tests make a fresh client (so a fresh connection) per call, all from
    // 127.0.0.1, and their connections outlive the call.
    maxConnectionsPerPeer: 1_000,
    grpcFastPath: process.env.TALLY_GRPC_FAST_PATH !== "0",
    ...overrides,
    db,
  };
  const tally = await startTally(config, pino({ level: config.logLevel }), { clock, interceptors });
  return {
    ...tally,
    db,
    clock,
    clients: (protocol: Protocol = "grpc", apiKey = TEST_ADMIN_KEY) => clientsFor(transportFor(protocol, tally.url, apiKey)),
    createKey: (role: Role, tenant?: string) => createStoredKey(db, role, tenant),
    async stop() {
      await tally.stop();
      scratch?.cleanup();
    },
  };
}

/** A new key stored in the database at `db`, as `tally keys create` makes one; a server on that database accepts it at once. */
export async function createStoredKey(db: string, role: Role, tenant = DEFAULT_SCOPE): Promise<string> {
  const store = await openStore(db);
  try {
    return valueOrThrow(await createKeyring({ store, clock: systemClock }).createKey({ role, tenant, name: `test ${role}` })).key;
  } finally {
    await store.close();
  }
}
