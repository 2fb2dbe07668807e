/**
 * `node --import tsx bench/limit-check-cost.ts`: what the usage limit check
 * costs the SQLite store alone, without HTTP or a load generator in the way.
 * The same store takes the same writes from the same customers in alternating
 * rounds, with a limit on the meter for every one of them (never reached) and
 * without one (the limits removed): so the two sides differ by the check alone,
 * not by which rows they write. Each round's process CPU time (every thread:
 * the event loop and the writer thread) and wall time per event are printed,
 * with the medians and the same-round ratios. CPU time is the steadier figure
 * on a shared machine: other processes' work does not count in it.
 * `CONTROL=1` removes the limits on both sides: the ratio it prints is the
 * method's own bias and noise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Decimal } from "../src/domain/decimal.js";
import type { UsageWrite } from "../src/domain/store.js";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const CUSTOMERS = 16;
const UNARY_CALLS = 4_000;
const UNARY_CONCURRENCY = 256;
const BATCHES = 40;
const BATCH_SIZE = 500;

const scratch = mkdtempSync(join(os.tmpdir(), "tally-limit-cost-"));
const store = openSqliteStore({ path: join(scratch, "tally.db") });
let counter = 0;

const CONTROL = process.env.CONTROL === "1";

async function setUp(): Promise<string[]> {
  await store.createMeter("default", "meter", { key: "bench-requests", displayName: "b", unit: "r", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });
  const ids: string[] = [];
  for (let index = 0; index < CUSTOMERS; index++) {
    const id = `cus_bench${index}`;
    await store.createCustomer("default", `c-${id}`, { id, externalId: "", displayName: id, currencyCode: "USD", createTime: 1 });
    ids.push(id);
  }
  return ids;
}

/** Puts a limit (never reached) on every customer, or removes them. */
async function setLimits(customerIds: string[], on: boolean): Promise<void> {
  const limit = on && !CONTROL ? Decimal.parse("99999999999999999999")! : null;
  for (const id of customerIds) {
    await store.setUsageLimit("default", `l-${++counter}`, { customerId: id, meterKey: "bench-requests", limit, updateTime: 1 });
  }
}

function write(customerIds: string[]): UsageWrite {
  const now = Date.now();
  const id = ++counter;
  return {
    record: {
      id: `rec_${id}`,
      requestId: `req-${id}`,
      customerId: customerIds[id % customerIds.length]!,
      meterKey: "bench-requests",
      quantity: Decimal.parse("1.25")!,
      eventTime: now,
      requestedEventTime: null,
      createTime: now,
      period: new Date(now).toISOString().slice(0, 7),
      attributes: {},
    },
  };
}

async function unary(customerIds: string[]): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: UNARY_CONCURRENCY }, async () => {
      while (sent < UNARY_CALLS) {
        sent++;
        await store.recordUsage("default", [write(customerIds)], false);
      }
    }),
  );
}

async function batch(customerIds: string[]): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (sent < BATCHES) {
        sent++;
        await store.recordUsage("default", Array.from({ length: BATCH_SIZE }, () => write(customerIds)), false);
      }
    }),
  );
}

async function measure(run: () => Promise<void>, events: number): Promise<{ cpuUs: number; wallUs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / events, wallUs: ((performance.now() - started) * 1000) / events };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const customers = await setUp();
  const runWith = async (run: (ids: string[]) => Promise<void>, limited: boolean, events: number) => {
    await setLimits(customers, limited);
    return measure(() => run(customers), events);
  };
  for (const [name, run, events] of [
    ["unary (1 event per write, 256 at once)", unary, UNARY_CALLS],
    ["batch (500 events per write, 4 at once)", batch, BATCHES * BATCH_SIZE],
  ] as const) {
    await runWith(run, false, events); // warm-up
    await runWith(run, true, events);
    const ratios = { cpu: [] as number[], wall: [] as number[] };
    const figures = { plain: [] as { cpuUs: number; wallUs: number }[], limited: [] as { cpuUs: number; wallUs: number }[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (["plain", "limited"] as const) : (["limited", "plain"] as const);
      const taken: Record<string, { cpuUs: number; wallUs: number }> = {};
      for (const which of order) taken[which] = await runWith(run, which === "limited", events);
      figures.plain.push(taken.plain!);
      figures.limited.push(taken.limited!);
      ratios.cpu.push(taken.limited!.cpuUs / taken.plain!.cpuUs);
      ratios.wall.push(taken.limited!.wallUs / taken.plain!.wallUs);
    }
    const line = (which: "plain" | "limited") =>
      `${which.padEnd(8)} cpu µs/event ${figures[which].map((f) => f.cpuUs.toFixed(1)).join(" ")} (median ${median(figures[which].map((f) => f.cpuUs)).toFixed(1)}); wall µs/event median ${median(figures[which].map((f) => f.wallUs)).toFixed(1)}`;
    console.log(`${name}${CONTROL ? " (control: no limit on either side)" : ""}:\n  ${line("plain")}\n  ${line("limited")}`);
    console.log(`  limited / plain, same round: cpu ${ratios.cpu.map((r) => r.toFixed(2)).join(" ")} (median ${median(ratios.cpu).toFixed(3)}); wall median ${median(ratios.wall).toFixed(3)}`);
  }
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
}

await main();
