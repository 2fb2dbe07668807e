import { type Failure, requestIdReused } from "./failure.js";
import { type QuotaResource, quotaExceeded } from "./quotas.js";
import type { CreateOutcome } from "./store.js";

/** The outcome of a create keyed by request_id, as the API answers it. */
export type CreateResult<T> = { value: T; replayed: boolean } | Failure;

/**
 * Judges a create's outcome the one way every create is judged: written now;
 * an identical retry (no `differences` from the stored resource) replayed;
 * a changed retry refused with REQUEST_ID_REUSED naming the fields; a unique
 * field held by another resource refused with `taken`; a full quota of
 * `resource` refused with QUOTA_EXCEEDED.
 */
export function settleCreate<T>(
  outcome: CreateOutcome<T>,
  requestId: string,
  differences: (stored: T) => string[],
  taken: () => Failure,
  resource: QuotaResource,
): CreateResult<T> {
  switch (outcome.kind) {
    case "created":
      return { value: outcome.value, replayed: false };
    case "exists": {
      const changed = differences(outcome.value);
      return changed.length === 0 ? { value: outcome.value, replayed: true } : requestIdReused(requestId, changed);
    }
    case "taken":
      return taken();
    case "over-quota":
      return quotaExceeded(resource, outcome.limit);
  }
}
