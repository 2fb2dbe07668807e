import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ErrorInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { answerOf } from "./call-answer.js";
import { fullMethodName } from "../../api/method-name.js";
import { protocolOf } from "./call-logging.js";

/** What the metrics read besides the calls themselves. */
export interface MetricsSources {
  /** Bytes the database takes on disk (or in its engine). */
  databaseBytes: () => Promise<number>;
}

/** The usage methods whose results are counted as events. */
const INGEST_METHODS = new Set(["RecordUsage", "BatchRecordUsage", "StreamUsage"]);

/** The label sets of one method over one protocol, made on its first call. */
interface CallSeries {
  labels: { method: string; protocol: string };
  byCode: Map<string, { method: string; protocol: string; code: string }>;
  /** Whether its results are counted as usage events. */
  ingest: boolean;
  /** RecordUsage: one event per call, refused with a status. */
  unaryIngest: boolean;
}

interface UsageResultShape {
  result?: { case?: string; value?: { replayed?: boolean; reason?: string } };
}

/**
 * Tally's Prometheus metrics, on a registry of their own (so several servers
 * in one process do not share counters): calls by method, protocol and code,
 * call latency, usage events by outcome and refusal reason, group-commit sizes
 * and commit latency, database size, and Node's process metrics.
 */
export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tally_" });
  const calls = new Counter({
    name: "tally_rpc_calls_total",
    help: "Calls answered, by method, protocol and status code",
    labelNames: ["method", "protocol", "code"] as const,
    registers: [registry],
  });
  const callSeconds = new Histogram({
    name: "tally_rpc_duration_seconds",
    help: "Time from a call's arrival to its answer (for streams: to their end), by method and protocol",
    labelNames: ["method", "protocol"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const events = new Counter({
    name: "tally_usage_events_total",
    help: "Usage events answered, by outcome (recorded, replayed, refused) and refusal reason",
    labelNames: ["outcome", "reason"] as const,
    registers: [registry],
  });
  const groupWrites = new Histogram({
    name: "tally_group_commit_writes",
    help: "Writes committed together in one transaction (one fsync)",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: "tally_group_commit_seconds",
    help: "Time to run and commit one group's transaction, fsync included",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  new Gauge({
    name: "tally_database_bytes",
    help: "Size of the database on disk, in bytes",
    registers: [registry],
    async collect() {
      this.set(await sources.databaseBytes());
    },
  });

  // prom-client hashes a label object on every update; these are made once
  // per method, protocol and code and reused, never spread per call.
  const recorded = { outcome: "recorded", reason: "" };
  const replayed = { outcome: "replayed", reason: "" };
  const refusedByReason = new Map<string, { outcome: "refused"; reason: string }>();
  const seriesOfMethod = new WeakMap<DescMethod, Map<string, CallSeries>>();

  function seriesOf(method: DescMethod, protocol: string): CallSeries {
    let byProtocol = seriesOfMethod.get(method);
    if (byProtocol === undefined) {
      byProtocol = new Map();
      seriesOfMethod.set(method, byProtocol);
    }
    let series = byProtocol.get(protocol);
    if (series === undefined) {
      const labels = { method: fullMethodName(method), protocol };
      const ingest = method.parent.typeName === "billing.v1.UsageService" && INGEST_METHODS.has(method.name);
      series = { labels, byCode: new Map(), ingest, unaryIngest: ingest && method.name === "RecordUsage" };
      byProtocol.set(protocol, series);
    }
    return series;
  }

  function refused(reason: string) {
    let labels = refusedByReason.get(reason);
    if (labels === undefined) {
      labels = { outcome: "refused", reason };
      refusedByReason.set(reason, labels);
    }
    return labels;
  }

  function countResult(result: UsageResultShape): void {
    if (result.result?.case === "response") events.inc(result.result.value?.replayed === true ? replayed : recorded);
    else if (result.result?.case === "error") events.inc(refused(result.result.value?.reason ?? ""));
  }

  function countResponse(series: CallSeries, message: unknown): void {
    if (series.unaryIngest) {
      events.inc((message as { replayed?: boolean }).replayed === true ? replayed : recorded);
      return;
    }
    for (const result of (message as { results?: UsageResultShape[] }).results ?? []) countResult(result);
  }

  /**
   * A refused call's events: RecordUsage's one, or every event of a refused
   * BatchRecordUsage (an atomic batch refused whole, a batch too large, a
   * missing key), under the call's reason. A stream's events are counted by
   * the answers it sent.
   */
  function countRefusal(series: CallSeries, error: ConnectError, request: UnaryRequest | StreamRequest): void {
    if (request.stream) return;
    const count = series.unaryIngest ? 1 : ((request.message as { requests?: unknown[] }).requests?.length ?? 0);
    if (count > 0) events.inc(refused(error.findDetails(ErrorInfoSchema)[0]?.reason ?? Code[error.code] ?? "Unknown"), count);
  }

  function observeCall(series: CallSeries, code: string, started: number): void {
    let labels = series.byCode.get(code);
    if (labels === undefined) {
      labels = { ...series.labels, code };
      series.byCode.set(code, labels);
    }
    calls.inc(labels);
    callSeconds.observe(series.labels, (performance.now() - started) / 1000);
  }

  /** A streamed answer's messages, counted as they pass; the call is observed when the stream ends. */
  async function* countedStream<T>(messages: AsyncIterable<T>, series: CallSeries, started: number): AsyncIterable<T> {
    let code = "Canceled"; // unless the stream ends or fails: its caller went away
    try {
      for await (const message of messages) {
        if (series.ingest) countResponse(series, message);
        yield message;
      }
      code = "OK";
    } catch (error) {
      code = Code[ConnectError.from(error).code] ?? "Unknown";
      throw error;
    } finally {
      observeCall(series, code, started);
    }
  }

  /**
   * Outermost interceptor: sees every call and the status it was answered
   * with. Not an async function: one reaction on the answer, without a
   * promise of the interceptor's.
   */
  const interceptor: Interceptor = (next) => (request) => {
    const started = performance.now();
    const series = seriesOf(request.method, protocolOf(request.header));
    return answerOf(next, request).then(
      (response) => {
        if (response.stream) return { ...response, message: countedStream(response.message, series, started) };
        observeCall(series, "OK", started);
        if (series.ingest) countResponse(series, response.message);
        return response;
      },
      (error: unknown) => {
        const status = ConnectError.from(error);
        observeCall(series, Code[status.code] ?? "Unknown", started);
        if (series.ingest) countRefusal(series, status, request);
        return Promise.reject(error);
      },
    );
  };

  const unknownByProtocol = new Map<string, { method: string; protocol: string; code: string }>();

  return {
    interceptor,
    /** Counts a call to a procedure the server does not have (answered UNIMPLEMENTED), under method "(unknown)". */
    unknownProcedure(protocol: string): void {
      let labels = unknownByProtocol.get(protocol);
      if (labels === undefined) {
        labels = { method: "(unknown)", protocol, code: "Unimplemented" };
        unknownByProtocol.set(protocol, labels);
      }
      calls.inc(labels);
    },
    /** Called by the store after each group commit. */
    groupCommitted(writes: number, seconds: number): void {
      groupWrites.observe(writes);
      commitSeconds.observe(seconds);
    },
    contentType: registry.contentType,
    /** The exposition text of every metric. */
    render: () => registry.metrics(),
  };
}

/** The metrics of a server. */
export type TallyMetrics = ReturnType<typeof createMetrics>;
