import type { BillingClient } from "../../clients/typescript/src/node.js";
import { UsageChangeKind } from "../../gen/ts/billing/v1/usage_service_pb.js";

/** What the usage-feed check found. */
export interface FeedCheckReport {
  passed: boolean;
  /** Customers whose feed was followed (one WatchUsage stream each). */
  customers: number;
  /** Changes received, all customers together. */
  changes: number;
  /** Events the run saw recorded that no feed delivered. */
  missing: number;
  /** Events delivered more than once. */
  repeated: number;
  /** Changes the run did not make: records it never saw recorded, and voids (it makes none). */
  unexpected: number;
}

/**
 * Follows the usage feed of each of the run's customers (they are new, so
 * each feed starts empty) with the client's watchUsage, from before the load
 * until every event the run saw recorded has arrived: the feed must deliver
 * each of them exactly once, and nothing else (the run voids nothing).
 */
export function startFeedCheck(client: BillingClient, customers: readonly string[]) {
  const abort = new AbortController();
  const delivered = new Map<string, number>();
  let changes = 0;
  let voids = 0;
  let failure: unknown;
  const following = customers.map(async (customerId) => {
    try {
      for await (const change of client.watchUsage({ customerId }, { signal: abort.signal })) {
        changes++;
        if (change.kind !== UsageChangeKind.RECORDED) {
          voids++;
          continue;
        }
        const requestId = change.record?.requestId ?? "";
        delivered.set(requestId, (delivered.get(requestId) ?? 0) + 1);
      }
    } catch (error) {
      failure ??= error;
    }
  });

  return {
    /** Waits (up to `timeoutMs`) until every request id of `recorded` arrived, then stops following and reports. */
    async finish(recorded: readonly string[], timeoutMs: number): Promise<FeedCheckReport> {
      const deadline = Date.now() + timeoutMs;
      while (failure === undefined && Date.now() < deadline && recorded.some((requestId) => !delivered.has(requestId))) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      abort.abort();
      await Promise.all(following);
      if (failure !== undefined) throw failure;
      const expected = new Set(recorded);
      const missing = recorded.filter((requestId) => !delivered.has(requestId)).length;
      const repeated = [...delivered.values()].filter((count) => count > 1).length;
      const unexpected = [...delivered.keys()].filter((requestId) => !expected.has(requestId)).length + voids;
      return { passed: missing === 0 && repeated === 0 && unexpected === 0, customers: customers.length, changes, missing, repeated, unexpected };
    },
  };
}
