import type { ChildProcess } from "node:child_process";
import { forkBenchProgram, nextMessage, stopChild, type WindowHooks } from "./processes.js";
import type { BodySpec } from "./request-bodies.js";

/** One run of the load generator against one HTTP/2 target on 127.0.0.1. */
export interface LoadPlan {
  /** The target's port on 127.0.0.1. */
  port: number;
  /**
   * "grpc": application/grpc, 5-byte prefix, te: trailers, success is
   * grpc-status 0. "connect": unary Connect POST with application/proto,
   * success is HTTP 200.
   */
  protocol: "grpc" | "connect";
  /**
   * "unary": one HTTP/2 stream per call, a new call as soon as one ends.
   * "bidi": one long-lived gRPC stream per lane carrying many messages, each
   * answered by one message in order (StreamUsage).
   */
  mode: "unary" | "bidi";
  /** The method's path, e.g. "/billing.v1.UsageService/RecordUsage". */
  path: string;
  /** What each message carries. */
  body: BodySpec;
  /** HTTP/2 connections. */
  connections: number;
  /** Concurrent streams per connection (unary: calls in flight per connection). */
  streamsPerConnection: number;
  /** bidi only: messages sent and not yet answered, per stream. */
  messagesInFlight: number;
  /** Load before the measured window, in ms; nothing is recorded. */
  warmupMs: number;
  /** The measured window, in ms. */
  durationMs: number;
  /** After the window, how long in-flight calls may take to finish, in ms. */
  drainMs: number;
  /**
   * Which field of the answer holds batch results, to count refused items
   * (1: BatchRecordUsageResponse, 2: StreamUsageResponse); 0: the answer is
   * not decoded at all.
   */
  resultsField: 0 | 1 | 2;
}

/** Latency percentiles, in milliseconds. */
export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What one load run measured. Only calls completed inside the window count, except failures, which count always. */
export interface LoadResult {
  /** The window's actual length, in seconds. */
  seconds: number;
  /** Calls (unary) or answered messages (bidi) that succeeded in the window. */
  calls: number;
  /** Events recorded by those calls (0 for reads). */
  events: number;
  callsPerSecond: number;
  eventsPerSecond: number;
  /** From sending a call (or stream message) to its complete answer. */
  latencyMs: Latency;
  /** Calls that did not end with grpc-status 0 (or HTTP 200 for Connect), at any time in the run, plus abandoned ones. */
  failures: number;
  /** Items of batch answers that were refused, at any time in the run. */
  refusedEvents: number;
  /** Events acknowledged as recorded over the whole run, warm-up and drain included (to check against the database). */
  acknowledgedEvents: number;
  /** Calls still unanswered when the drain time ran out. */
  abandoned: number;
  /** The first few failure descriptions. */
  failureSamples: string[];
  /** The generator's own CPU use in the window, as % of one core (100 = one core busy). */
  generatorCpuPercent: number;
}

/** The load generator process, reused across runs. */
export interface LoadGenerator {
  /** Runs one plan and returns what it measured; `hooks` hear when its measured window starts and ends. */
  run(plan: LoadPlan, hooks?: WindowHooks): Promise<LoadResult>;
  /** Ends the process. */
  close(): Promise<void>;
}

/**
 * The load generator lives in its own process (child_process.fork), not a
 * worker thread: its CPU time is its own and measurable (the "gen" column),
 * its garbage collection never pauses the orchestrator or the other way
 * round, and a wedged run can be killed whole. One process serves the runs
 * one after another (saving a Node start per run); a run that times out
 * kills it, and the next run starts a new one.
 */
export function createLoadGenerator(): LoadGenerator {
  let child: ChildProcess | undefined;
  return {
    async run(plan, hooks = {}) {
      const generator = (child ??= forkBenchProgram("load-generator.ts"));
      const onWindow = (message: unknown) => {
        const type = (message as { type?: unknown }).type;
        if (type === "window-start") hooks.onWindowStart?.();
        if (type === "window-end") hooks.onWindowEnd?.();
      };
      generator.on("message", onWindow);
      try {
        const answer = nextMessage(
          generator,
          (message) => ((message as { type?: unknown }).type === "result" ? (message as { result: LoadResult }).result : undefined),
          plan.warmupMs + plan.durationMs + plan.drainMs + 60_000,
        );
        generator.send(plan);
        return await answer;
      } catch (error) {
        await stopChild(generator);
        child = undefined;
        throw error;
      } finally {
        generator.off("message", onWindow);
      }
    },
    async close() {
      if (child !== undefined) await stopChild(child);
      child = undefined;
    },
  };
}

/** The admin key of every benchmarked server (its TALLY_BOOTSTRAP_KEY), sent on every call. */
export const BENCH_KEY = "tally-bench-admin-key";
