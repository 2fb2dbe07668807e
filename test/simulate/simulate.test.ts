import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Writable } from "node:stream";
import { Code } from "@connectrpc/connect";
import { Command, CommanderError } from "commander";
import { Decimal } from "../../src/domain/decimal.js";
import { registerSimulateCommand } from "../../src/cli/simulate.js";
import { runSimulation, type SimulationOutput } from "../../src/simulate/simulation.js";
import type { SimulationMode, SimulationOptions, SimulationProtocol } from "../../src/simulate/simulation-options.js";
import type { SimulationSummary } from "../../src/simulate/summary.js";
import { createFaultInjector } from "../support/fault-injector.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTestTally, TestClock, type TestTally } from "../support/test-tally.js";

/** A summary's stdout and stderr, as text. */
function captureOutput(): { output: SimulationOutput; stdout: () => string; stderr: () => string } {
  const text = { stdout: "", stderr: "" };
  const sink = (stream: "stdout" | "stderr") =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        text[stream] += chunk.toString();
        done();
      },
    });
  return { output: { stdout: sink("stdout"), stderr: sink("stderr") }, stdout: () => text.stdout, stderr: () => text.stderr };
}

const MIX: SimulationOptions = {
  customers: 5,
  meters: 3,
  duplicatesPercent: 10,
  latePercent: 10,
  badInputPercent: 10,
  concurrency: 8,
  batchSize: 50,
  seed: "simulate-test",
};

/** Every count of a clean run adds up: each valid send acknowledged, each duplicate replayed, each bad input refused for its reason. */
function assertCleanRun(summary: SimulationSummary, total: number): void {
  const { sends } = summary;
  const badInput = sends.badInput["bad-quantity"] + sends.badInput["unknown-meter"] + sends.badInput["future-time"];
  assert.deepEqual(summary.failures, []);
  assert.equal(summary.passed, true);
  assert.equal(summary.exitCode, 0);
  assert.equal(sends.sent, total);
  assert.equal(summary.notSent, 0);
  assert.equal(sends.fresh + sends.late + sends.duplicates + badInput, total);
  assert.ok(sends.late > 0 && sends.duplicates > 0 && badInput > 0, "the mix has late events, duplicates and bad input");
  assert.equal(summary.acknowledged, total - badInput);
  assert.equal(summary.replayed, sends.duplicates);
  assert.deepEqual(summary.failedByCode, {});
  assert.deepEqual(summary.refusedByReason, {
    EVENT_TIME_OUT_OF_RANGE: sends.badInput["future-time"],
    INVALID_QUANTITY: sends.badInput["bad-quantity"],
    METER_NOT_FOUND: sends.badInput["unknown-meter"],
  });
  assert.deepEqual(summary.badInput, { events: badInput, refusedAsExpected: badInput, misjudged: [] });
  assert.equal(summary.retries, 0);
  assert.equal(summary.anomalyCount, 0);
  assert.deepEqual(summary.anomalies, []);
  assert.equal(summary.reconciled.events, 0);
  assert.ok(summary.calls > 0 && summary.latency.calls === summary.calls);
  assert.ok(summary.latency.p50Ms <= summary.latency.p99Ms && summary.latency.p99Ms <= summary.latency.p999Ms);
  assert.ok(summary.latency.p999Ms <= summary.latency.maxMs);
  assert.equal(summary.billCheck.passed, true);
  assert.deepEqual(summary.billCheck.mismatches, []);
  assert.equal(summary.billCheck.customers, 5);
  assert.ok(summary.billCheck.lines >= 10, "most (customer, meter) pairs have a line to check");
  // The usage feed delivered each recorded event once, on one WatchUsage stream per customer.
  assert.deepEqual(summary.feedCheck, { passed: true, customers: 5, changes: summary.acknowledged - summary.replayed, missing: 0, repeated: 0, unexpected: 0 });
}

describe("tally simulate", () => {
  let tally: TestTally;
  // The test clock stands still at the real time, so late event times come from the server's own period.
  before(async () => {
    tally = await startTestTally({}, new TestClock(Date.now()));
  });
  after(() => tally.stop());

  const cases: [SimulationMode, SimulationProtocol, number][] = [
    ["unary", "connect", 400],
    ["batch", "grpc-web", 2000],
    ["stream", "grpc", 2000],
  ];
  for (const [mode, protocol, total] of cases) {
    it(`${mode} mode over ${protocol}: every count adds up and every bill matches`, async () => {
      const { output, stdout, stderr } = captureOutput();
      const summary = await runSimulation({ ...MIX, url: tally.url, apiKey: TEST_ADMIN_KEY, protocol, mode, total, runId: `test-${mode}`, progressIntervalMs: 50 }, output);
      assertCleanRun(summary, total);
      if (mode === "unary") assert.equal(summary.calls, total);
      else assert.ok(summary.calls >= total / 50 && summary.calls < total / 10, `${summary.calls} calls of up to 50 events`);
      assert.match(stdout(), /^tally simulate: run test-\w+, seed simulate-test/);
      assert.match(stdout(), /bills\s+match/);
      assert.match(stdout(), /result: PASS\n$/);
      assert.match(stderr(), /^simulate: \d+\/\d+ answered/m, "without a terminal, progress comes as lines");
    });
  }

  it("the same seed sends the same mix of events", async () => {
    const runs = [];
    for (const runId of ["test-seed-a", "test-seed-b"]) {
      const { output } = captureOutput();
      runs.push(await runSimulation({ ...MIX, url: tally.url, apiKey: TEST_ADMIN_KEY, protocol: "connect", mode: "batch", total: 300, runId, json: true }, output));
    }
    assert.deepEqual(runs[0]!.sends, runs[1]!.sends);
    assert.deepEqual(runs[0]!.refusedByReason, runs[1]!.refusedByReason);
  });

  it("a run that sent nothing, or less than it planned, fails: PASS means every planned event was sent and settled", async () => {
    const { output } = captureOutput();
    const stopped = new AbortController();
    stopped.abort();
    const summary = await runSimulation({ ...MIX, url: tally.url, apiKey: TEST_ADMIN_KEY, protocol: "connect", mode: "batch", total: 200, runId: "test-stopped", json: true, signal: stopped.signal }, output);
    assert.equal(summary.passed, false);
    assert.equal(summary.exitCode, 1);
    assert.ok(summary.failures.includes("no event was sent"), summary.failures.join("; "));
  });

  it("the check fails when the server's data disagrees with what was sent", async () => {
    const { output, stdout } = captureOutput();
    let voided: { customerId: string; meterKey: string } | undefined;
    const summary = await runSimulation({ ...MIX, url: tally.url, apiKey: TEST_ADMIN_KEY, protocol: "connect", mode: "batch", total: 400, runId: "test-tampered", json: true }, output, {
      async beforeCheck({ catalog, client }) {
        const customerId = catalog.customers[0]!;
        const { records } = await client.listUsageRecords({ customerId, pageSize: 100 });
        // A SUM or COUNT meter's event (m0, m1, ...): voiding one of a UNIQUE_COUNT or LATEST meter may change no line.
        const record = records.find((candidate) => !Decimal.parse(candidate.quantity)!.isZero() && /-m\d+$/.test(candidate.meterKey));
        assert.ok(record !== undefined, "the customer has usage to void");
        await client.voidUsage({ requestId: record.requestId, reason: "voided behind the simulator's back" });
        voided = { customerId, meterKey: record.meterKey };
      },
    });
    assert.equal(summary.passed, false);
    assert.equal(summary.exitCode, 1);
    assert.equal(summary.billCheck.passed, false);
    const fields = summary.billCheck.mismatches.map(({ customerId, meterKey, field }) => `${customerId} ${meterKey ?? "-"} ${field}`);
    assert.ok(fields.includes(`${voided!.customerId} ${voided!.meterKey} quantity`), fields.join(", "));
    assert.ok(summary.billCheck.mismatches.every((mismatch) => mismatch.customerId === voided!.customerId));
    // The usage feed shows the void the run did not make, too.
    assert.deepEqual(summary.failures, [
      `${summary.billCheck.mismatches.length} bill mismatches`,
      "usage feed: 0 recorded events missing, 0 delivered twice, 1 changes the run did not make",
    ]);
    assert.deepEqual(JSON.parse(stdout()), summary, "--json prints the summary itself");
  });

  it("registerSimulateCommand: flags and TALLY_SIMULATE_* variables reach the run, and the exit code says whether it passed", async () => {
    const program = new Command("tally").exitOverride();
    const { output, stdout } = captureOutput();
    registerSimulateCommand(program, output);
    process.env.TALLY_SIMULATE_URL = tally.url;
    process.env.TALLY_SIMULATE_API_KEY = TEST_ADMIN_KEY;
    try {
      await program.parseAsync(
        ["simulate", "--protocol", "connect", "--mode", "stream", "--total", "120", "--customers", "2", "--meters", "2", "--bad-input", "20", "--run-id", "test-command", "--seed", "7", "--json"],
        { from: "user" },
      );
    } finally {
      delete process.env.TALLY_SIMULATE_URL;
      delete process.env.TALLY_SIMULATE_API_KEY;
    }
    const summary = JSON.parse(stdout()) as SimulationSummary;
    assert.equal(process.exitCode, 0);
    process.exitCode = undefined;
    assert.equal(summary.passed, true);
    assert.deepEqual(
      [summary.run.url, summary.run.protocol, summary.run.mode, summary.run.runId, summary.run.seed, summary.run.customers, summary.run.meters],
      [tally.url, "connect", "stream", "test-command", "7", 2, 2],
    );
    assert.equal(summary.sends.sent, 120);
    assert.ok(summary.badInput.events > 0);

    const again = captureOutput();
    const rerun = new Command("tally").exitOverride();
    registerSimulateCommand(rerun, again.output);
    await rerun.parseAsync(["simulate", "--url", tally.url, "--api-key", TEST_ADMIN_KEY, "--total", "10", "--customers", "2", "--meters", "2", "--run-id", "test-command"], { from: "user" });
    assert.equal(process.exitCode, 1, "a run id used before is refused: its bills hold the earlier run's usage too");
    process.exitCode = undefined;
    assert.match(again.stderr(), /run id "test-command" was used before/);
    assert.equal(again.stdout(), "");
  });

  it("registerSimulateCommand refuses flags that cannot run together", async () => {
    const attempt = async (...args: string[]) => {
      const program = new Command("tally").exitOverride().configureOutput({ writeErr: () => undefined });
      registerSimulateCommand(program);
      program.commands[0]!.exitOverride();
      await program.parseAsync(["simulate", ...args], { from: "user" });
    };
    await assert.rejects(attempt("--total", "10", "--rate", "5"), (error: CommanderError) => /cannot be used with option '--rate/.test(error.message));
    await assert.rejects(attempt("--duration", "5"), (error: CommanderError) => /--duration needs --rate/.test(error.message));
    await assert.rejects(attempt("--late", "101"), (error: CommanderError) => /percentage/.test(error.message));
    await assert.rejects(attempt("--run-id", "Not_Valid"), (error: CommanderError) => /lower-case/.test(error.message));
    await assert.rejects(attempt("--mode", "carrier-pigeon"), (error: CommanderError) => /Allowed choices are unary, batch, stream/.test(error.message));
  });
});

describe("tally simulate when calls go unanswered", () => {
  const faults = createFaultInjector(["BatchRecordUsage"]);
  let tally: TestTally;
  before(async () => {
    tally = await startTestTally({}, new TestClock(Date.now()), [faults.interceptor]);
  });
  after(() => tally.stop());

  const options: SimulationOptions = { ...MIX, protocol: "connect", mode: "batch", total: 300, json: true };
  /** The first two batches go unanswered: one never reaches the handler, one is recorded but its answer is lost. */
  const lostAnswers = () => {
    faults.reset();
    faults.queue({ kind: "fail-before", code: Code.Unavailable }, { kind: "fail-after", code: Code.Unavailable });
  };

  it("with --client-retries the client retries the lost calls, and the summary counts the retries", async () => {
    lostAnswers();
    const summary = await runSimulation({ ...options, url: tally.url, apiKey: TEST_ADMIN_KEY, runId: "test-retries", clientRetries: true }, captureOutput().output);
    assert.equal(summary.retries, 2);
    assert.deepEqual(summary.failedByCode, {});
    assert.equal(summary.reconciled.events, 0);
    assert.equal(summary.passed, true, summary.failures.join("; "));
  });

  it("without retries the unanswered events are reported failed, sent again, and the bills still match", async () => {
    lostAnswers();
    const summary = await runSimulation({ ...options, url: tally.url, apiKey: TEST_ADMIN_KEY, runId: "test-no-retries" }, captureOutput().output);
    const failed = summary.failedByCode.UNAVAILABLE ?? 0;
    const lostItems = faults.seen.slice(0, 2).reduce((sum, call) => sum + call.itemRequestIds.length, 0);
    assert.equal(summary.retries, 0);
    assert.equal(failed, lostItems, "every send of the two unanswered batches is reported failed");
    assert.ok(summary.reconciled.events > 0 && summary.reconciled.events <= failed, "each of their events is sent again once, unless a duplicate was answered");
    assert.equal(summary.reconciled.unresolved, 0);
    assert.equal(summary.reconciled.acknowledged + summary.reconciled.refused, summary.reconciled.events);
    assert.equal(summary.passed, true, summary.failures.join("; "));
    assert.deepEqual(summary.billCheck.mismatches, []);
  });
});
