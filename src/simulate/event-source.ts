import { setTimeout as sleep } from "node:timers/promises";
import type { EventPlan, PlannedSend } from "./event-plan.js";
import type { Pacer } from "./pacer.js";

/** Options of createEventSource. */
export interface EventSourceOptions {
  plan: EventPlan;
  pacer: Pacer;
  /** The most sends to hand out. */
  limit: number;
  /** Hand out nothing due at or after this many ms since the start (a rate-driven run's duration). Default: no limit. */
  stopAfterMs?: number;
  /** Hand out nothing more once aborted. Default: none. */
  signal?: AbortSignal;
}

/** Hands sends to the workers of every mode, each when the pacer says it is due. */
export interface EventSource {
  /** The next send, once it is due; undefined when the run has nothing more to send. */
  next(): Promise<PlannedSend | undefined>;
  /** The next send if it is due by `elapsedMs`, else undefined (leaving it for later): how a batch fills without waiting too long. */
  nextDueBy(elapsedMs: number): Promise<PlannedSend | undefined>;
  /** Ms since the source was created. */
  elapsedMs(): number;
  /** How many sends were handed out. */
  handedOut(): number;
}

/**
 * Sends are made by the plan in claim order, as each is claimed, so that a
 * seed gives the same sequence whatever the concurrency; the claimer then
 * waits until its send is due.
 */
export function createEventSource({ plan, pacer, limit, stopAfterMs, signal }: EventSourceOptions): EventSource {
  const startedAt = performance.now();
  let claimed = 0;
  let exhausted = false;
  const elapsedMs = () => performance.now() - startedAt;

  function dueOfNext(): number | undefined {
    if (exhausted || claimed >= limit || signal?.aborted === true) {
      exhausted = true;
      return undefined;
    }
    const due = pacer.dueMs(claimed, elapsedMs());
    if (stopAfterMs !== undefined && due >= stopAfterMs) {
      exhausted = true;
      return undefined;
    }
    return due;
  }

  async function claim(due: number): Promise<PlannedSend> {
    const send = plan.next(claimed++);
    const waitMs = due - elapsedMs();
    if (waitMs >= 1) await sleep(waitMs);
    return send;
  }

  return {
    async next() {
      const due = dueOfNext();
      return due === undefined ? undefined : claim(due);
    },
    async nextDueBy(deadlineMs) {
      const due = dueOfNext();
      return due === undefined || due > deadlineMs ? undefined : claim(due);
    },
    elapsedMs,
    handedOut: () => claimed,
  };
}
