import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { pino } from "pino";
import type { ServeConfig } from "../../src/config.js";
import type { Clock } from "../../src/domain/clock.js";
import { type RunningTally, startTally } from "../../src/main.js";
import { clientsFor, type Protocol, type TallyClients, transportFor } from "./clients.js";
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
  clients(protocol?: Protocol): TallyClients;
}

/**
 * Starts Tally in this process. Without `overrides.db` it gets a scratch
 * database that `stop()` removes; a given database is kept.
 */
export async function startTestTally(
  overrides: Partial<ServeConfig> = {},
  clock = new TestClock(),
  interceptors: Interceptor[] = [],
): Promise<TestTally> {
  const scratch = overrides.db === undefined ? scratchDirectory() : undefined;
  const db = overrides.db ?? join(scratch!.path, "tally.db");
  const config: ServeConfig = {
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    finalizeGrace: 72 * 3_600_000,
    maxMessageBytes: 4 * 1024 * 1024,
    shutdownGrace: 2_000,
    demo: false,
    corsOrigins: [],
    ...overrides,
    db,
  };
  const tally = await startTally(config, pino({ level: config.logLevel }), { clock, interceptors });
  return {
    ...tally,
    db,
    clock,
    clients: (protocol: Protocol = "grpc") => clientsFor(transportFor(protocol, tally.url)),
    async stop() {
      await tally.stop();
      scratch?.cleanup();
    },
  };
}
