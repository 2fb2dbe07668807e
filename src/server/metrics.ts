import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { fullMethodName } from "../api/method-name.js";
import { protocolOf } from "./call-logging.js";

/** What the metrics read besides the calls themselves. */
export interface MetricsSources {
  /** Bytes the database takes on disk (or in its engine). */
  databaseBytes: () => Promise<number>;
}

/** The usage methods whose results are counted as events. */
const INGEST_METHODS = new Set(["RecordUsage", "BatchRecordUsage", "StreamUsage"]);

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

  function countResult(result: UsageResultShape): void {
    if (result.result?.case === "response") events.inc({ outcome: result.result.value?.replayed === true ? "replayed" : "recorded", reason: "" });
    else if (result.result?.case === "error") events.inc({ outcome: "refused", reason: result.result.value?.reason ?? "" });
  }

  function countResponse(method: string, message: unknown): void {
    if (method === "RecordUsage") {
      events.inc({ outcome: (message as { replayed?: boolean }).replayed === true ? "replayed" : "recorded", reason: "" });
      return;
    }
    for (const result of (message as { results?: UsageResultShape[] }).results ?? []) countResult(result);
  }

  function countRefusal(method: string, error: ConnectError): void {
    if (method !== "RecordUsage") return;
    events.inc({ outcome: "refused", reason: error.findDetails(ErrorInfoSchema)[0]?.reason ?? Code[error.code] });
  }

  function observeCall(labels: { method: string; protocol: string }, code: string, started: number): void {
    calls.inc({ ...labels, code });
    callSeconds.observe(labels, (performance.now() - started) / 1000);
  }

  /** Outermost interceptor: sees every call and the status it was answered with. */
  const interceptor: Interceptor = (next) => async (request) => {
    const started = performance.now();
    const labels = { method: fullMethodName(request.method), protocol: protocolOf(request.header) };
    const ingest = request.service.typeName === "billing.v1.UsageService" && INGEST_METHODS.has(request.method.name);
    try {
      const response = await next(request);
      if (!response.stream) {
        observeCall(labels, "OK", started);
        if (ingest) countResponse(request.method.name, response.message);
        return response;
      }
      const messages = response.message;
      return {
        ...response,
        message: (async function* () {
          let code = "Canceled"; // unless the stream ends or fails: its caller went away
          try {
            for await (const message of messages) {
              if (ingest) countResponse(request.method.name, message);
              yield message;
            }
            code = "OK";
          } catch (error) {
            code = Code[ConnectError.from(error).code] ?? "Unknown";
            throw error;
          } finally {
            observeCall(labels, code, started);
          }
        })(),
      };
    } catch (error) {
      const status = ConnectError.from(error);
      observeCall(labels, Code[status.code] ?? "Unknown", started);
      if (ingest) countRefusal(request.method.name, status);
      throw error;
    }
  };

  return {
    interceptor,
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
