import type { BillingClient } from "../../clients/typescript/src/node.js";
import { runConcurrently } from "./concurrently.js";
import type { Observations } from "./observations.js";
import { failureOutcome, usageRequest } from "./wire-form.js";

/**
 * Sends again, with the same request_id and payload, every event whose send
 * ended without an answer, through a retrying client. Exactly-once makes this
 * safe: an event that was recorded is replayed, one that was not is recorded
 * now, so afterwards the run knows exactly which events the ledger holds.
 */
export async function reconcileUnknownEvents(client: BillingClient, observations: Observations, concurrency: number): Promise<void> {
  await runConcurrently(observations.unknownEvents(), concurrency, async (event) => {
    try {
      observations.reconciled(event, { response: await client.recordUsage(usageRequest(event)) });
    } catch (error) {
      observations.reconciled(event, failureOutcome(error));
    }
  });
}
