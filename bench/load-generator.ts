/**
 * The load generator: one process, driven by LoadPlans sent over IPC one at
 * a time (see load-plan.ts), answering each with a LoadResult. It speaks HTTP/2 through
 * node:http2 directly and builds bodies by patching pre-encoded templates,
 * so the cost per call on this side is a buffer copy and a few header
 * objects, not a framework.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import net from "node:net";
import { performance } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import { createFrameReader, tallyBatchResults } from "./grpc-frames.js";
import { BENCH_KEY, type Latency, type LoadPlan, type LoadResult } from "./load-plan.js";
import { buildTemplates, createBodyFactory, eventsPerMessage } from "./request-bodies.js";

/** How many failure descriptions a result keeps. */
const MAX_FAILURE_SAMPLES = 5;

type Phase = "warmup" | "measure" | "done";

/** What one lane reports for each finished call or answered stream message. */
interface Completion {
  startedAt: number;
  /** Undefined when the call succeeded. */
  failure?: string;
  events: number;
  refused: number;
}

async function connect(port: number): Promise<ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    createConnection: () => net.connect({ host: "127.0.0.1", port, noDelay: true }),
    settings: { enablePush: false, initialWindowSize: 4 * 1024 * 1024 },
  });
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  session.setLocalWindowSize(32 * 1024 * 1024);
  session.on("error", () => undefined); // each stream reports its own failure
  return session;
}

function requestHeaders(plan: LoadPlan): http2.OutgoingHttpHeaders {
  // The ceilings get the same header as Tally, which needs it.
  const common = { ":method": "POST", ":path": plan.path, authorization: `Bearer ${BENCH_KEY}` };
  return plan.protocol === "grpc"
    ? { ...common, "content-type": "application/grpc", te: "trailers" }
    : { ...common, "content-type": "application/proto", "connect-protocol-version": "1" };
}

/** Why a finished gRPC or Connect call is not a success; undefined when it is. */
function callFailure(plan: LoadPlan, stream: ClientHttp2Stream, httpStatus: number, grpc: IncomingHttpHeaders, error: Error | undefined): string | undefined {
  if (error !== undefined) return `stream error: ${error.message}`;
  if (httpStatus !== 200) return `HTTP ${httpStatus}`;
  if (plan.protocol === "grpc") {
    const status = grpc["grpc-status"];
    if (status !== "0") return `grpc-status ${String(status)}: ${decodeURIComponent(String(grpc["grpc-message"] ?? ""))}`;
  }
  if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) return `RST_STREAM ${stream.rstCode}`;
  return undefined;
}

async function run(plan: LoadPlan): Promise<LoadResult> {
  const templates = buildTemplates(plan.body);
  const bodies = createBodyFactory(templates, plan.protocol === "grpc" ? "grpc" : "bare");
  const headers = requestHeaders(plan);
  const perMessage = eventsPerMessage(plan.body);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const sessions = await Promise.all(Array.from({ length: plan.connections }, () => connect(plan.port)));

  let phase: Phase = "warmup";
  let windowStart = 0;
  let calls = 0;
  let events = 0;
  let refusedEvents = 0;
  let acknowledgedEvents = 0;
  let failures = 0;
  let abandoned = 0;
  let inFlight = 0;
  const failureSamples: string[] = [];

  const complete = ({ startedAt, failure, events: recorded, refused }: Completion) => {
    refusedEvents += refused;
    if (failure !== undefined) {
      failures++;
      if (failureSamples.length < MAX_FAILURE_SAMPLES) failureSamples.push(failure);
      return;
    }
    acknowledgedEvents += recorded;
    if (phase !== "measure") return;
    const now = performance.now();
    calls++;
    events += recorded;
    histogram.recordValue(Math.max(1, Math.round((now - startedAt) * 1000)));
  };

  /** One call at a time, forever until the window ends. */
  const unaryLane = (session: ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const fire = () => {
        if (phase === "done") return resolve();
        const startedAt = performance.now();
        let stream: ClientHttp2Stream;
        try {
          stream = session.request(headers);
        } catch (requestError) {
          complete({ startedAt, failure: `cannot start a call: ${(requestError as Error).message}`, events: 0, refused: 0 });
          return resolve();
        }
        inFlight++;
        let httpStatus = 0;
        let grpc: IncomingHttpHeaders = {};
        let error: Error | undefined;
        const chunks: Buffer[] | undefined = plan.resultsField === 0 ? undefined : [];
        stream.on("response", (responseHeaders) => {
          httpStatus = Number(responseHeaders[":status"]);
          if (responseHeaders["grpc-status"] !== undefined) grpc = responseHeaders; // trailers-only answer
        });
        stream.on("trailers", (trailers) => {
          grpc = trailers;
        });
        if (chunks === undefined) stream.resume();
        else stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", (streamError) => {
          error ??= streamError;
        });
        stream.on("close", () => {
          inFlight--;
          let failure = callFailure(plan, stream, httpStatus, grpc, error);
          let recorded = failure === undefined ? perMessage : 0;
          let refused = 0;
          if (failure === undefined && chunks !== undefined && plan.resultsField !== 0) {
            const body = Buffer.concat(chunks);
            const message = plan.protocol === "grpc" ? body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0)) : body;
            const tally = tallyBatchResults(message, plan.resultsField);
            recorded = tally.recorded;
            refused = tally.refused;
            if (recorded + refused !== perMessage) failure = `answer has ${recorded + refused} results for ${perMessage} requests`;
          }
          complete({ startedAt, failure, events: recorded, refused });
          fire();
        });
        stream.end(bodies.next());
      };
      fire();
    });

  /** One long-lived gRPC stream, keeping `messagesInFlight` messages unanswered until the window ends. */
  const bidiLane = (session: ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const stream = session.request(headers);
      const sent: { sequence: number; startedAt: number }[] = [];
      let nextSequence = 0;
      let ended = false;
      let httpStatus = 0;
      let grpc: IncomingHttpHeaders = {};
      let error: Error | undefined;
      const send = () => {
        while (phase !== "done" && !ended && sent.length < plan.messagesInFlight) {
          sent.push({ sequence: nextSequence, startedAt: performance.now() });
          inFlight++;
          stream.write(bodies.next(nextSequence++));
        }
        if (phase === "done" && sent.length === 0 && !ended) {
          ended = true;
          stream.end();
        }
      };
      stream.on(
        "data",
        createFrameReader((message) => {
          const tally = tallyBatchResults(message, 2);
          const oldest = sent.shift();
          if (oldest === undefined) {
            complete({ startedAt: performance.now(), failure: "an answer nobody asked for", events: 0, refused: 0 });
            return;
          }
          inFlight--;
          const failure =
            tally.sequence !== oldest.sequence
              ? `answer for sequence ${tally.sequence} where ${oldest.sequence} was due`
              : tally.recorded + tally.refused !== perMessage
                ? `answer has ${tally.recorded + tally.refused} results for ${perMessage} requests`
                : undefined;
          complete({ startedAt: oldest.startedAt, failure, events: tally.recorded, refused: tally.refused });
          send();
        }),
      );
      stream.on("response", (responseHeaders) => {
        httpStatus = Number(responseHeaders[":status"]);
        if (responseHeaders["grpc-status"] !== undefined) grpc = responseHeaders;
      });
      stream.on("trailers", (trailers) => {
        grpc = trailers;
      });
      stream.on("error", (streamError) => {
        error ??= streamError;
      });
      stream.on("close", () => {
        const failure = callFailure(plan, stream, httpStatus, grpc, error);
        if (failure !== undefined) complete({ startedAt: 0, failure: `stream: ${failure}`, events: 0, refused: 0 });
        inFlight -= sent.length;
        sent.length = 0;
        resolve();
      });
      send();
      // A lane whose messages are all answered when the window ends must still end its stream.
      endOfWindow.then(send, () => undefined);
    });

  let markEnd: () => void = () => undefined;
  const endOfWindow = new Promise<void>((resolve) => {
    markEnd = resolve;
  });

  const lanes: Promise<void>[] = [];
  for (const session of sessions) {
    for (let lane = 0; lane < plan.streamsPerConnection; lane++) {
      lanes.push(plan.mode === "unary" ? unaryLane(session) : bidiLane(session));
    }
  }

  await sleep(plan.warmupMs);
  phase = "measure";
  windowStart = performance.now();
  const cpuAtStart = process.cpuUsage();
  process.send?.({ type: "window-start" });
  await sleep(plan.durationMs);
  phase = "done";
  const windowEnd = performance.now();
  const cpu = process.cpuUsage(cpuAtStart);
  process.send?.({ type: "window-end" });
  markEnd();

  const drained = await Promise.race([Promise.all(lanes).then(() => true), sleep(plan.drainMs).then(() => false)]);
  if (!drained) {
    abandoned = inFlight;
    failures += inFlight;
    if (failureSamples.length < MAX_FAILURE_SAMPLES) failureSamples.push(`${inFlight} calls unanswered ${plan.drainMs} ms after the window`);
  }
  for (const session of sessions) session.destroy();

  const seconds = (windowEnd - windowStart) / 1000;
  return {
    seconds,
    calls,
    events,
    callsPerSecond: calls / seconds,
    eventsPerSecond: events / seconds,
    latencyMs: latencyOf(histogram),
    failures,
    refusedEvents,
    acknowledgedEvents,
    abandoned,
    failureSamples,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / (windowEnd - windowStart)) * 100,
  };
}

function latencyOf(histogram: hdr.Histogram): Latency {
  const ms = (micros: number) => micros / 1000;
  if (histogram.totalCount === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  return {
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// One plan at a time, as many as the parent sends; the parent ends the process by letting go of the channel.
process.on("message", (plan: LoadPlan) => {
  run(plan).then(
    (result) => process.send?.({ type: "result", result }),
    (error: unknown) => process.send?.({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.once("disconnect", () => process.exit(0));
