import type { BillingClient } from "../../clients/typescript/src/node.js";
import type { EventSource } from "./event-source.js";
import type { Observations } from "./observations.js";
import type { ResolvedSimulationOptions } from "./simulation-options.js";

/** What every mode of sending needs: where sends come from, where answers go, and how to call. */
export interface LoadContext {
  source: EventSource;
  observations: Observations;
  /** The measured client: it retries only with `--client-retries`, and counts each retry. */
  client: BillingClient;
  options: ResolvedSimulationOptions;
}
