import type { BillCheckReport } from "./bill-check.js";
import type { FeedCheckReport } from "./feed-check.js";
import type { ObservationReport } from "./observations.js";
import type { SimulationMode, SimulationProtocol, SimulationScenario } from "./simulation-options.js";

/** What a run was, so that its summary says how to repeat it. */
export interface RunDescription {
  runId: string;
  seed: string;
  url: string;
  protocol: SimulationProtocol;
  mode: SimulationMode;
  scenario: SimulationScenario;
  customers: number;
  meters: number;
  concurrency: number;
  batchSize: number;
  clientRetries: boolean;
  /** Events per second asked for; null when the run sent a total. */
  rate: number | null;
  /** The server's billing period when the run started. */
  period: string;
}

/**
 * The result of a run, printed as text or (with `--json`) as this object:
 * what was sent and answered, how fast, whether the bad input was refused for
 * the right reasons, and whether every bill matches what was sent.
 */
export interface SimulationSummary extends ObservationReport {
  passed: boolean;
  exitCode: 0 | 1;
  /** One sentence per reason the run did not pass. */
  failures: string[];
  run: RunDescription;
  /** Sends the run meant to make. */
  planned: number;
  /** Planned sends never made: the run was stopped, or could not keep up with the rate. */
  notSent: number;
  /** Whether the run was stopped (Ctrl-C) before it sent everything planned. */
  stopped: boolean;
  /** From the first send to the last answer, in ms. */
  durationMs: number;
  callsPerSecond: number;
  eventsPerSecond: number;
  billCheck: BillCheckReport;
  /** Whether the usage feed delivered every recorded event once (see feed-check.ts). */
  feedCheck: FeedCheckReport;
}

/** The most mismatches and problems listed one by one in the text form. */
const MAX_LISTED = 20;

/** The text form of a summary, for a person at a terminal. */
export function formatSummary(summary: SimulationSummary): string {
  const { run, sends, latency, badInput, billCheck, reconciled } = summary;
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([name, count]) => `${name} ${count}`)
      .join(", ");
  const badInputSent = Object.values(sends.badInput).reduce((sum, count) => sum + count, 0);
  const refused = Object.values(summary.refusedByReason).reduce((sum, count) => sum + count, 0);
  const failed = Object.values(summary.failedByCode).reduce((sum, count) => sum + count, 0);
  const lines = [
    `tally simulate: run ${run.runId}, seed ${run.seed}, ${run.protocol}, ${run.mode}, ${run.scenario}` +
      `${run.rate === null ? "" : ` at ${run.rate} events/s`}, ${run.customers} customers x ${run.meters} meters, period ${run.period}`,
    row("sent", sends.sent, `fresh ${sends.fresh}, late ${sends.late}, duplicates ${sends.duplicates}, bad input ${badInputSent}`),
    row("acknowledged", summary.acknowledged, `replayed ${summary.replayed}`),
    row("refused", refused, counts(summary.refusedByReason)),
    row("failed", failed, counts(summary.failedByCode)),
    row("retries", summary.retries, run.mode === "stream" ? "streams are not retried" : run.clientRetries ? "" : "client retries off"),
  ];
  if (summary.notSent > 0) lines.push(row("not sent", summary.notSent, `of ${summary.planned} planned${summary.stopped ? "; stopped" : ""}`));
  if (reconciled.events > 0) {
    lines.push(row("re-sent", reconciled.events, `acknowledged ${reconciled.acknowledged}, refused ${reconciled.refused}, unresolved ${reconciled.unresolved}`));
  }
  lines.push(
    row("duration", `${(summary.durationMs / 1000).toFixed(2)} s`, `${summary.callsPerSecond} calls/s, ${summary.eventsPerSecond} events/s`),
    `  ${"latency".padEnd(13)}p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, p999 ${latency.p999Ms} ms, max ${latency.maxMs} ms (${latency.calls} calls)`,
    row("bad input", `${badInput.refusedAsExpected}/${badInput.events}`, "refused with the expected reason"),
    row(
      "bills",
      billCheck.passed ? "match" : `${billCheck.mismatches.length} mismatches`,
      `${billCheck.customers} customers, ${billCheck.bills} bills, ${billCheck.lines} lines checked`,
    ),
    row(
      "usage feed",
      summary.feedCheck.passed ? "every event once" : `${summary.feedCheck.missing} missing, ${summary.feedCheck.repeated} repeated, ${summary.feedCheck.unexpected} unexpected`,
      `${summary.feedCheck.changes} changes on ${summary.feedCheck.customers} WatchUsage streams`,
    ),
  );
  for (const mismatch of billCheck.mismatches.slice(0, MAX_LISTED)) {
    lines.push(
      `  mismatch ${mismatch.customerId} ${mismatch.period}${mismatch.meterKey === null ? "" : ` ${mismatch.meterKey}`} ${mismatch.field}: expected ${mismatch.expected}, billed ${mismatch.actual}`,
    );
  }
  for (const misjudged of badInput.misjudged.slice(0, MAX_LISTED)) {
    lines.push(`  bad input ${misjudged.requestId} (${misjudged.kind}): expected ${misjudged.expected}, got ${misjudged.got}`);
  }
  for (const anomaly of summary.anomalies.slice(0, MAX_LISTED)) lines.push(`  anomaly ${anomaly}`);
  lines.push(summary.passed ? "result: PASS" : `result: FAIL (${summary.failures.join("; ")})`);
  return `${lines.join("\n")}\n`;
}

function row(label: string, value: number | string, detail: string): string {
  return `  ${label.padEnd(13)}${String(value).padStart(10)}${detail === "" ? "" : `  (${detail})`}`;
}
