import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type BillingClient, createBillingClient } from "../../clients/typescript/src/node.js";
import { runBatchLoad } from "./batch-load.js";
import { checkBills } from "./bill-check.js";
import { createEventPlan, type ServerTime } from "./event-plan.js";
import { createEventSource } from "./event-source.js";
import type { LoadContext } from "./load-context.js";
import { createObservations } from "./observations.js";
import { createPacer } from "./pacer.js";
import { createProgressReporter } from "./progress-reporter.js";
import { createRandom } from "./random.js";
import { reconcileUnknownEvents } from "./reconcile.js";
import { startFeedCheck } from "./feed-check.js";

/** How long the feed check waits, after the bills are checked, for the feed to deliver every recorded event. */
const FEED_CATCH_UP_MS = 30_000;
import { planCatalog, type SimulatedCatalog, setUpCatalog } from "./simulated-catalog.js";
import { resolveSimulationOptions, type SimulationMode, type SimulationOptions } from "./simulation-options.js";
import { runStreamLoad } from "./stream-load.js";
import { formatSummary, type SimulationSummary } from "./summary.js";
import { runUnaryLoad } from "./unary-load.js";

/** Where a run writes: the summary to stdout, progress to stderr. */
export interface SimulationOutput {
  stdout: NodeJS.WritableStream;
  /** A bar when it is a terminal (`isTTY`), progress lines otherwise. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Points where a caller may step into a run. */
export interface SimulationHooks {
  /**
   * Runs after every send has settled and before the bill check, with the
   * run's catalog and a client: how a test changes the server's data behind
   * the simulator's back to prove that the check notices.
   */
  beforeCheck?: (run: { catalog: SimulatedCatalog; client: BillingClient }) => Promise<void>;
}

/** Calls at once for setup, re-sends and the bill check: quick, without crowding the server. */
const CONTROL_CONCURRENCY = 8;

const LOADS: Record<SimulationMode, (context: LoadContext) => Promise<void>> = {
  unary: runUnaryLoad,
  batch: runBatchLoad,
  stream: runStreamLoad,
};

/**
 * One simulation: creates the run's meters, prices and customers, sends the
 * planned events in the chosen mode and shape, sends again what went
 * unanswered, checks every customer's bill against what was sent, and writes
 * the summary. Resolves with the summary (its exitCode says whether it
 * passed); rejects only when the run could not happen (bad options, no
 * server, setup refused).
 */
export async function runSimulation(options: SimulationOptions, output: SimulationOutput, hooks: SimulationHooks = {}): Promise<SimulationSummary> {
  const resolved = resolveSimulationOptions(options);
  const catalog = planCatalog(resolved.runId, resolved.meters, resolved.customers);
  const observations = createObservations();
  const connection = { baseUrl: resolved.url, protocol: resolved.protocol, apiKey: resolved.apiKey };
  const control = createBillingClient(connection);
  const load = createBillingClient({
    ...connection,
    retry: resolved.clientRetries ? {} : { maxAttempts: 1 },
    onRetry: () => observations.retried(),
  });

  try {
    await setUpCatalog(control, catalog, CONTROL_CONCURRENCY);
  } catch (error) {
    throw new Error(`could not set up the simulation at ${resolved.url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const serverTime = await learnServerTime(control, catalog.customers[0]!);
  const feedCheck = startFeedCheck(control, catalog.customers);

  const planned = resolved.rate === undefined ? resolved.total : Math.floor(resolved.rate * resolved.durationSeconds);
  const source = createEventSource({
    plan: createEventPlan({
      catalog,
      random: createRandom(resolved.seed),
      serverTime,
      duplicatesPercent: resolved.duplicatesPercent,
      latePercent: resolved.latePercent,
      badInputPercent: resolved.badInputPercent,
    }),
    pacer: createPacer(resolved),
    limit: planned,
    stopAfterMs: resolved.rate === undefined ? undefined : resolved.durationSeconds * 1000,
    signal: resolved.signal,
  });
  const progress = createProgressReporter({
    stream: output.stderr,
    total: planned,
    snapshot: () => observations.progress(),
    lineIntervalMs: resolved.progressIntervalMs,
  });
  const started = performance.now();
  try {
    await LOADS[resolved.mode]({ source, observations, client: load, options: resolved });
  } finally {
    progress.stop();
  }
  const durationMs = performance.now() - started;

  await reconcileUnknownEvents(control, observations, CONTROL_CONCURRENCY);
  await hooks.beforeCheck?.({ catalog, client: control });
  const billCheck = await checkBills({ client: control, catalog, expected: observations.expectedUsage(), concurrency: CONTROL_CONCURRENCY });
  const feed = await feedCheck.finish(observations.recordedRequestIds(), FEED_CATCH_UP_MS);

  const report = observations.report();
  const failures: string[] = [];
  if (!billCheck.passed) failures.push(`${billCheck.mismatches.length} bill mismatches`);
  if (!feed.passed) failures.push(`usage feed: ${feed.missing} recorded events missing, ${feed.repeated} delivered twice, ${feed.unexpected} changes the run did not make`);
  if (report.badInput.misjudged.length > 0) failures.push(`${report.badInput.misjudged.length} bad-input events not refused with the expected reason`);
  if (report.anomalyCount > 0) failures.push(`${report.anomalyCount} anomalies in the answers`);
  if (report.reconciled.unresolved > 0) failures.push(`${report.reconciled.unresolved} events whose outcome stayed unknown`);
  const unacknowledged = observations.unacknowledgedValidEvents();
  if (unacknowledged > 0) failures.push(`${unacknowledged} valid events sent but never acknowledged`);
  if (report.sends.sent === 0) failures.push("no event was sent");
  else if (resolved.rate === undefined && report.sends.sent < planned) failures.push(`${planned - report.sends.sent} of the ${planned} planned events were not sent`);
  const seconds = Math.max(durationMs, 1) / 1000;
  const summary: SimulationSummary = {
    passed: failures.length === 0,
    exitCode: failures.length === 0 ? 0 : 1,
    failures,
    run: {
      runId: resolved.runId,
      seed: resolved.seed,
      url: resolved.url,
      protocol: resolved.protocol,
      mode: resolved.mode,
      scenario: resolved.scenario,
      customers: resolved.customers,
      meters: resolved.meters,
      concurrency: resolved.concurrency,
      batchSize: resolved.batchSize,
      clientRetries: resolved.clientRetries,
      rate: resolved.rate ?? null,
      period: serverTime.period,
    },
    planned,
    notSent: planned - source.handedOut(),
    stopped: resolved.signal?.aborted === true,
    durationMs: Math.round(durationMs),
    callsPerSecond: Math.round(report.calls / seconds),
    eventsPerSecond: Math.round(report.sends.sent / seconds),
    ...report,
    billCheck,
    feedCheck: feed,
  };
  output.stdout.write(resolved.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return summary;
}

/**
 * The server's period and clock, from a bill: event times are planned on the
 * server's clock, so late events land in its current period even when the
 * machine's clock (or a test's) says otherwise.
 */
async function learnServerTime(client: BillingClient, customerId: string): Promise<ServerTime> {
  const before = Date.now();
  const { bill } = await client.getCurrentBill({ customerId });
  const after = Date.now();
  if (bill?.asOfTime === undefined || bill.startTime === undefined || bill.endTime === undefined) {
    throw new Error("GetCurrentBill answered without the period's times");
  }
  const offsetMs = timestampMs(bill.asOfTime) - (before + after) / 2;
  return {
    period: bill.period,
    periodStartMs: timestampMs(bill.startTime),
    periodEndMs: timestampMs(bill.endTime),
    nowMs: () => Math.round(Date.now() + offsetMs),
  };
}
