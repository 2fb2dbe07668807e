import { createUsageProducer } from "../../clients/typescript/src/usage-producer.js";
import type { BatchSender } from "../../clients/typescript/src/billing-client.js";
import type { LoadContext } from "./load-context.js";
import { failureOutcome, usageRequest } from "./wire-form.js";

/**
 * Sends events through the client library's batching producer, as a
 * high-volume service would: `batchSize` events per BatchRecordUsage call,
 * `concurrency` calls in flight. It is the producer that
 * `client.usage.producer({ via: "calls" })` builds, over the same retrying
 * `batchRecordUsage`, but timed, so the summary reports calls and their
 * latency rather than only events.
 */
export async function runBatchLoad({ source, observations, client, options }: LoadContext): Promise<void> {
  const timedSend: BatchSender = async (events, view) => {
    const started = performance.now();
    try {
      return (await client.batchRecordUsage({ requests: events, view })).results;
    } finally {
      observations.call(performance.now() - started);
    }
  };
  const window = options.batchSize * options.concurrency * 2;
  // Whole records, so every answer can be checked against what was sent.
  const producer = createUsageProducer(timedSend, { maxBatch: options.batchSize, concurrency: options.concurrency, maxQueue: window, view: "full" });
  const answering = new Set<Promise<void>>();
  let outstanding = 0;
  let roomFreed: (() => void) | undefined;
  for (let send = await source.next(); send !== undefined; send = await source.next()) {
    while (outstanding >= window) await new Promise<void>((resolve) => (roomFreed = resolve));
    observations.sent(send);
    outstanding++;
    const current = send;
    const answered = producer
      .enqueue(usageRequest(current.event))
      .then(
        (response) => observations.acknowledged(current, response),
        (error: unknown) => {
          const outcome = failureOutcome(error);
          if ("refusal" in outcome) observations.refused(current, outcome.refusal);
          else observations.failed(current, outcome.failed);
        },
      )
      .finally(() => {
        outstanding--;
        answering.delete(answered);
        roomFreed?.();
        roomFreed = undefined;
      });
    answering.add(answered);
  }
  await producer.close();
  await Promise.all(answering);
}
