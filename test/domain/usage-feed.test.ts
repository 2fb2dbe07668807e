import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Store } from "../../src/domain/store.js";
import { createCommitSignal, createUsageFeed, type UsageChange } from "../../src/domain/usage-feed.js";

/** A store whose feed holds `changes` numbered 1..n, counting the pages read. */
function countingStore(total: () => number) {
  const reads: (string | null)[] = [];
  const store = {
    async readUsageChanges(_scope: string, _customerId: string, after: string | null, limit: number) {
      reads.push(after);
      const from = after === null ? 0 : Number(after);
      const last = Math.min(total(), from + limit);
      const changes = Array.from({ length: last - from }, (_, index): UsageChange => ({ cursor: String(from + index + 1), kind: "recorded", record: {} as UsageChange["record"] }));
      return { changes, position: changes.at(-1)?.cursor ?? null };
    },
  } as unknown as Store;
  return { store, reads };
}

describe("Usage feed (domain)", () => {
  it("a slow consumer is paced: the next page is read only when the consumer asks for it, so a watcher holds one page at most", async () => {
    const { store, reads } = countingStore(() => 100_000);
    const feed = createUsageFeed({ store, signal: createCommitSignal(), pollIntervalMs: 60_000, batchSize: 10 });
    const abort = new AbortController();
    const pages = (await feed.watchUsage("default", "", null, abort.signal)) as AsyncGenerator<UsageChange[]>;
    const first = await pages.next();
    assert.equal(first.value?.length, 10);
    await delay(100); // the consumer takes its time
    assert.equal(reads.length, 1, "nothing read ahead while the consumer was busy");
    const second = await pages.next();
    assert.deepEqual([second.value?.[0]?.cursor, reads.length], ["11", 2]);
    abort.abort();
    await pages.return(undefined);
  });

  it("a watcher with nothing to send wakes when a write of this process commits, and polls for the others' at its interval", async () => {
    let total = 3;
    const { store, reads } = countingStore(() => total);
    const signal = createCommitSignal();
    const feed = createUsageFeed({ store, signal, pollIntervalMs: 300, batchSize: 10 });
    const abort = new AbortController();
    const pages = (await feed.watchUsage("default", "", null, abort.signal)) as AsyncGenerator<UsageChange[]>;
    assert.equal((await pages.next()).value?.length, 3);
    const next = pages.next();
    await delay(50);
    total = 4;
    const woken = performance.now();
    signal.notify();
    assert.deepEqual((await next).value?.map((change: UsageChange) => change.cursor), ["4"]);
    assert.ok(performance.now() - woken < 250, "woken by the commit, not by the poll");
    // No notify (another replica wrote): found by the poll.
    const polled = pages.next();
    total = 5;
    assert.deepEqual((await polled).value?.map((change: UsageChange) => change.cursor), ["5"]);
    const readsBefore = reads.length;
    abort.abort();
    assert.equal((await pages.next()).done, true);
    assert.ok(reads.length <= readsBefore + 1);
  });
});
