/**
 * A usage-feed consumer for the feed-lag figure: one WatchUsage stream over
 * gRPC (connect-node, as any caller would use), in its own process so its
 * CPU is its own. For each change it notes when the record was created (the
 * server's create_time) and when the change arrived; the lag is the
 * difference. Told the measured window and, once the ingest is over, how
 * many changes to expect, it answers with the lag percentiles of the changes
 * created in the window, the rate at which they arrived, and whether any
 * change came twice or not at all.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { UsageService } from "../gen/ts/billing/v1/usage_service_pb.js";
import { authInterceptors } from "../clients/typescript/src/auth-interceptor.js";
import { BENCH_KEY, type Latency } from "./load-plan.js";
import { answerParentAndExit, failChild } from "./processes.js";

/** What the watcher is told first. */
export interface FeedWatchPlan {
  url: string;
  /** Where the feed starts (the end of the ledger before the ingest). */
  afterCursor: string;
}

/** What the feed-lag figure measured. */
export interface FeedWatchResult {
  /** Changes received in all. */
  received: number;
  /** Changes received more than once (by request id). */
  repeated: number;
  /** Changes expected (the events the ingest acknowledged) that never arrived. */
  missing: number;
  /** Changes created inside the window, per second of the window, as they arrived. */
  changesPerSecond: number;
  /** From a record's create_time to its change arriving here, over the records created inside the window. */
  lagMs: Latency;
  /** From the end of the ingest to the last expected change arriving. */
  caughtUpMs: number;
}

type Message = { type: "window"; start: number; end: number } | { type: "finish"; expected: number };

async function run(plan: FeedWatchPlan): Promise<void> {
  const sessionManager = new Http2SessionManager(plan.url);
  const usage = createClient(UsageService, createGrpcTransport({ baseUrl: plan.url, sessionManager, interceptors: authInterceptors(BENCH_KEY) }));
  const created: number[] = [];
  const arrived: number[] = [];
  const seen = new Set<string>();
  let repeated = 0;
  let window: { start: number; end: number } | undefined;
  let finish: { expected: number; at: number } | undefined;
  let lastArrival = 0;
  const abort = new AbortController();

  process.on("message", (message: Message) => {
    if (message.type === "window") window = { start: message.start, end: message.end };
    if (message.type === "finish") finish = { expected: message.expected, at: Date.now() };
  });
  const following = (async () => {
    try {
      for await (const answer of usage.watchUsage({ afterCursor: plan.afterCursor }, { signal: abort.signal })) {
        const now = Date.now();
        for (const change of answer.changes) {
          const requestId = change.record!.requestId;
          if (seen.has(requestId)) repeated++;
          else seen.add(requestId);
          created.push(timestampMs(change.record!.createTime!));
          arrived.push(now);
        }
        lastArrival = now;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  process.send?.({ type: "ready" });

  // Until the parent says the ingest is over and every expected change arrived (or 15 s more passed).
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (finish !== undefined && (seen.size >= finish.expected || Date.now() - finish.at > 15_000)) break;
  }
  abort.abort();
  await following;
  sessionManager.abort();

  const lags: number[] = [];
  for (let index = 0; index < created.length; index++) {
    if (window !== undefined && created[index]! >= window.start && created[index]! < window.end) lags.push(arrived[index]! - created[index]!);
  }
  lags.sort((a, b) => a - b);
  const at = (fraction: number) => lags[Math.min(lags.length - 1, Math.floor(fraction * lags.length))] ?? Number.NaN;
  const windowSeconds = window === undefined ? Number.NaN : (window.end - window.start) / 1000;
  const result: FeedWatchResult = {
    received: created.length,
    repeated,
    missing: Math.max(0, finish!.expected - seen.size),
    changesPerSecond: lags.length / windowSeconds,
    lagMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: lags.at(-1) ?? Number.NaN, mean: lags.reduce((sum, lag) => sum + lag, 0) / lags.length },
    caughtUpMs: Math.max(0, lastArrival - finish!.at),
  };
  answerParentAndExit({ type: "result", result });
}

process.once("message", (plan: FeedWatchPlan) => {
  run(plan).catch(failChild);
});
