import type { LoadContext } from "./load-context.js";
import { failureOutcome, usageRequest } from "./wire-form.js";

/** Sends one RecordUsage per event from `concurrency` workers, each waiting for its answer before the next. */
export async function runUnaryLoad({ source, observations, client, options }: LoadContext): Promise<void> {
  const worker = async () => {
    for (let send = await source.next(); send !== undefined; send = await source.next()) {
      observations.sent(send);
      const started = performance.now();
      try {
        observations.acknowledged(send, await client.recordUsage(usageRequest(send.event)));
      } catch (error) {
        const outcome = failureOutcome(error);
        if ("refusal" in outcome) observations.refused(send, outcome.refusal);
        else observations.failed(send, outcome.failed);
      } finally {
        observations.call(performance.now() - started);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}
