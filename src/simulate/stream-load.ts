import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { setTimeout as sleep } from "node:timers/promises";
import { type StreamUsageRequestSchema, UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createAsyncQueue } from "../../clients/typescript/src/async-queue.js";
import type { PlannedSend } from "./event-plan.js";
import type { LoadContext } from "./load-context.js";
import { codeName } from "./observations.js";
import type { ResolvedSimulationOptions } from "./simulation-options.js";
import { usageRequest } from "./wire-form.js";

/** Batches a stream keeps in flight before waiting for an answer (the server writes up to 8 of a stream at once). */
const STREAM_WINDOW = 4;
/** How long a batch may wait to fill when events are paced, in ms. */
const MAX_BATCH_DELAY_MS = 20;
/** How long a stream may go without an answer while batches are in flight before it is given up, in ms. */
const STREAM_IDLE_TIMEOUT_MS = 30_000;
/** Streams a worker opens again after one fails, before it stops. */
const MAX_STREAM_RESTARTS = 3;

interface BatchInFlight {
  sequence: bigint;
  sends: PlannedSend[];
  startedAt: number;
}

/**
 * Sends events on `concurrency` StreamUsage streams, each carrying batches of
 * `batchSize` with up to STREAM_WINDOW answers outstanding. The client library
 * does not wrap streams, so this speaks to the generated client directly and
 * nothing is retried: the events of a batch a broken stream never answered
 * are reported failed, and the run sends them again before the bill check.
 */
export async function runStreamLoad(context: LoadContext): Promise<void> {
  const usage = createClient(UsageService, streamTransport(context.options));
  await Promise.all(Array.from({ length: context.options.concurrency }, () => streamWorker(usage, context)));
}

async function streamWorker(usage: Client<typeof UsageService>, context: LoadContext): Promise<void> {
  const carried: PlannedSend[] = [];
  for (let restarts = 0; ; restarts++) {
    const finished = await runOneStream(usage, context, carried);
    if (finished || restarts >= MAX_STREAM_RESTARTS) break;
    await sleep(100 * (restarts + 1));
  }
  // Sends claimed for a stream that never opened again: they left nothing, so they are failures, not silence.
  for (const send of carried.splice(0)) {
    context.observations.sent(send);
    context.observations.failed(send, "UNAVAILABLE");
  }
}

/**
 * One stream, until the source runs dry (true) or the stream breaks (false).
 * Sends gathered but not yet written when it breaks go back in `carried`.
 */
async function runOneStream(usage: Client<typeof UsageService>, { source, observations, options }: LoadContext, carried: PlannedSend[]): Promise<boolean> {
  const outbox = createAsyncQueue<MessageInitShape<typeof StreamUsageRequestSchema>>();
  const inFlight: BatchInFlight[] = [];
  const abort = new AbortController();
  let lastAnswerAt = performance.now();
  let ended = false;
  let wakeWriter: (() => void) | undefined;
  const wake = () => {
    wakeWriter?.();
    wakeWriter = undefined;
  };
  const watchdog = setInterval(() => {
    if (inFlight.length > 0 && performance.now() - lastAnswerAt > STREAM_IDLE_TIMEOUT_MS) abort.abort(new Error("no answer on the stream"));
  }, 1000);
  watchdog.unref();

  const reading = (async () => {
    for await (const response of usage.streamUsage(outbox, { signal: abort.signal })) {
      lastAnswerAt = performance.now();
      const batch = inFlight.shift();
      if (batch === undefined || batch.sequence !== response.sequence) {
        const problem = `the stream answered batch ${response.sequence} when batch ${batch?.sequence ?? "none"} was due`;
        observations.violation(problem);
        if (batch !== undefined) inFlight.unshift(batch);
        throw new ConnectError(problem, Code.Unknown);
      }
      observations.call(performance.now() - batch.startedAt);
      if (response.results.length !== batch.sends.length) {
        observations.violation(`batch ${batch.sequence} of ${batch.sends.length} events was answered with ${response.results.length} results`);
      }
      batch.sends.forEach((send, index) => {
        const result = response.results[index]?.result;
        if (result?.case === "response") observations.acknowledged(send, result.value);
        else if (result?.case === "error") observations.itemError(send, result.value);
        else observations.failed(send, "UNKNOWN");
      });
      wake();
    }
  })();
  // Settles when the stream ends, however it ends: with its error, or undefined.
  const streamEnd = reading.then(
    () => undefined,
    (error: unknown) => error,
  );
  void streamEnd.then(() => {
    ended = true;
    wake();
  });

  let sequence = 0n;
  let sourceDone = false;
  while (!ended) {
    while (inFlight.length >= STREAM_WINDOW && !ended) await new Promise<void>((resolve) => (wakeWriter = resolve));
    if (ended) break;
    const sends = await gatherBatch(source, options.batchSize, carried);
    if (sends.length === 0) {
      sourceDone = true;
      break;
    }
    if (ended) {
      carried.push(...sends);
      break;
    }
    for (const send of sends) observations.sent(send);
    inFlight.push({ sequence: ++sequence, sends, startedAt: performance.now() });
    outbox.push({ sequence, requests: sends.map((send) => usageRequest(send.event)) });
  }
  outbox.close();
  const failure = (await streamEnd) ?? (inFlight.length > 0 || !sourceDone ? new ConnectError("the server ended the stream early", Code.Unavailable) : undefined);
  clearInterval(watchdog);
  if (failure === undefined) return true;
  const code = codeName(ConnectError.from(failure).code);
  for (const batch of inFlight.splice(0)) for (const send of batch.sends) observations.failed(send, code);
  return false;
}

/** Up to `size` sends: those carried over first, then whatever the source has due within MAX_BATCH_DELAY_MS of the first. */
async function gatherBatch(source: LoadContext["source"], size: number, carried: PlannedSend[]): Promise<PlannedSend[]> {
  const sends = carried.splice(0, size);
  if (sends.length === 0) {
    const first = await source.next();
    if (first === undefined) return sends;
    sends.push(first);
  }
  const deadline = source.elapsedMs() + MAX_BATCH_DELAY_MS;
  while (sends.length < size) {
    const next = await source.nextDueBy(deadline);
    if (next === undefined) break;
    sends.push(next);
  }
  return sends;
}

/** StreamUsage is bidirectional, so every protocol goes over HTTP/2. */
function streamTransport({ url, protocol, apiKey }: ResolvedSimulationOptions): Transport {
  const interceptors: Interceptor[] =
    apiKey === undefined
      ? []
      : [
          (next) => (request) => {
            request.header.set("authorization", `Bearer ${apiKey}`);
            return next(request);
          },
        ];
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl: url, interceptors });
    case "connect":
      return createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true, interceptors });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl: url, httpVersion: "2", interceptors });
  }
}
