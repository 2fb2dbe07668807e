import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { UsageService, WatchUsageRequestSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createFeedHandlers } from "../../src/api/feed-handler.js";
import { createWatchStreams } from "../../src/api/watch-streams.js";
import type { Alerts } from "../../src/domain/alerts.js";
import { Decimal } from "../../src/domain/decimal.js";
import type { Store } from "../../src/domain/store.js";
import { createCommitSignal, createUsageFeed, type UsageChange } from "../../src/domain/usage-feed.js";

/** A store whose feed never ends, counting the pages read. */
function endlessStore() {
  const reads: (string | null)[] = [];
  const record = { id: "rec_1", requestId: "r", customerId: "cus_1", meterKey: "m", quantity: Decimal.parse("1")!, eventTime: 0, requestedEventTime: null, createTime: 0, period: "2026-11", attributes: {}, voided: false, voidReason: "", voidTime: null };
  const store = {
    async readUsageChanges(_scope: string, _customerId: string, after: string | null, limit: number) {
      reads.push(after);
      const from = after === null ? 0 : Number(after);
      const changes = Array.from({ length: limit }, (_, index): UsageChange => ({ cursor: String(from + index + 1), kind: "recorded", record }));
      return { changes, position: changes.at(-1)!.cursor };
    },
  } as unknown as Store;
  return { store, reads };
}

describe("Feed handler", () => {
  it("while the server's unread answers are over the response budget, a watcher reads no further page; it goes on once they drain", async () => {
    const { store, reads } = endlessStore();
    let buffered = 0;
    const handlers = createFeedHandlers({
      feed: createUsageFeed({ store, signal: createCommitSignal(), pollIntervalMs: 1000, batchSize: 10 }),
      alerts: {} as Alerts,
      watches: createWatchStreams(10),
      responseBudget: { bufferedBytes: () => buffered, maxBufferedBytes: 1000 },
    });
    const method = UsageService.method.watchUsage;
    const context = createHandlerContext({ service: UsageService, method, protocolName: "grpc", requestMethod: "POST", url: "/" });
    const answers = handlers.watchUsage(create(WatchUsageRequestSchema, {}), context);
    assert.equal((await answers.next()).value?.changes.length, 10);
    buffered = 5000; // slow readers now hold more than the budget
    const next = answers.next();
    await delay(300);
    assert.equal(reads.length, 1, "no page read while the budget is spent");
    buffered = 0;
    assert.equal((await next).value?.changes[0]?.cursor !== undefined, true);
    assert.equal(reads.length, 2);
    context.abort();
    await answers.return(undefined);
  });
});
