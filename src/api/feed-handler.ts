import type { HandlerContext } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  Alert as AlertMessage,
  AlertEvent as AlertEventMessage,
  CreateAlertRequest,
  CreateAlertResponse,
  WatchAlertsRequest,
  WatchAlertsResponse,
} from "../../gen/ts/billing/v1/billing_service_pb.js";
import { type UsageChange as UsageChangeMessage, UsageChangeKind, type WatchUsageRequest, type WatchUsageResponse } from "../../gen/ts/billing/v1/usage_service_pb.js";
import type { Alert, AlertEvent, Alerts } from "../domain/alerts.js";
import { FailureError, isFailure, valueOrThrow } from "../domain/failure.js";
import type { UsageChange, UsageFeed } from "../domain/usage-feed.js";
import { callerScope } from "./caller-scope.js";
import { decodeFeedCursor, encodeFeedCursor } from "./feed-cursor.js";
import { failureToConnectError } from "./failure-status.js";
import { usageRecordMessage } from "./proto-mapping.js";
import { createAlertRequest, watchAlertsRequest, watchUsageRequest } from "./request-schemas.js";
import { validate } from "./request-validation.js";
import type { WatchStreams } from "./watch-streams.js";

/** What the feed's methods need. */
export interface FeedHandlerOptions {
  feed: UsageFeed;
  alerts: Alerts;
  /** The server's watch streams: their limit, and their end at shutdown. */
  watches: WatchStreams;
  /**
   * The answer bytes written and not yet taken by clients, and the most the
   * server holds (--max-buffered-response-bytes): over it, watchers read no
   * further page until the bytes drain. Default: no budget.
   */
  responseBudget?: { bufferedBytes: (maxAgeMs: number) => number; maxBufferedBytes: number };
}

/** How long a watcher waits before looking at the response budget again while it is spent, in ms. */
const BUDGET_RECHECK_MS = 50;

/** The methods of UsageService and BillingService that the usage feed and alerts answer. */
export type FeedHandlers = ReturnType<typeof createFeedHandlers>;

/**
 * WatchUsage, WatchAlerts and CreateAlert: proto in, use case, proto out.
 * A watch's answers are pulled one at a time by connect-node, which writes
 * each and waits for the connection to take it before asking for the next,
 * so a watcher reads its next page from the store only when its consumer has
 * taken the last one: a slow consumer is paced, and never costs more than a
 * page in memory (a consumer that takes nothing is closed by the slow-reader
 * timeout). While the server's unread answers are over the response budget,
 * watchers wait before reading on. The stream lifetime and the key recheck
 * apply as to any stream.
 */
export function createFeedHandlers({ feed, alerts, watches, responseBudget }: FeedHandlerOptions) {
  /** Resolves once the server holds fewer unread answer bytes than its budget (or the watch ends). */
  async function budgetLeft(signal: AbortSignal): Promise<void> {
    if (responseBudget === undefined) return;
    while (!signal.aborted && responseBudget.bufferedBytes(BUDGET_RECHECK_MS) > responseBudget.maxBufferedBytes) {
      await new Promise((resolve) => setTimeout(resolve, BUDGET_RECHECK_MS));
    }
  }

  /** Sends each page of `pages` as one answer; a watch ended by shutdown ends UNAVAILABLE so its client resumes elsewhere. */
  async function* watch<T, M>(open: (signal: AbortSignal) => Promise<AsyncGenerator<T[]>>, answer: (page: T[]) => M, context: HandlerContext, what: string): AsyncGenerator<M> {
    const slot = watches.open(context.signal, what);
    try {
      const pages = await open(slot.signal);
      for await (const page of pages) {
        yield answer(page);
        // The next page is read only when this answer was written (connect-node waits for the
        // connection to take it) and the server's slow readers hold less than the budget.
        await budgetLeft(slot.signal);
      }
      if (watches.closed) {
        throw failureToConnectError({ reason: "SHUTTING_DOWN", message: "the server is shutting down; resume from your last cursor", fieldViolations: [] });
      }
    } finally {
      slot.release();
    }
  }

  return {
    async *watchUsage(request: WatchUsageRequest, context: HandlerContext): AsyncGenerator<WatchUsageResponse> {
      const { afterCursor, customerId } = validate(watchUsageRequest, request);
      const after = decodeFeedCursor("usage", afterCursor);
      const scope = context.values.get(callerScope);
      yield* watch(
        async (signal) => valueOrThrow(await feed.watchUsage(scope, customerId, after, signal)),
        (changes: UsageChange[]): WatchUsageResponse => ({ $typeName: "billing.v1.WatchUsageResponse", changes: changes.map(usageChangeMessage) }),
        context,
        "resume the feed from your last cursor later",
      );
    },

    async *watchAlerts(request: WatchAlertsRequest, context: HandlerContext): AsyncGenerator<WatchAlertsResponse> {
      const { afterCursor } = validate(watchAlertsRequest, request);
      const after = decodeFeedCursor("alerts", afterCursor);
      const scope = context.values.get(callerScope);
      yield* watch(
        (signal) => feed.watchAlerts(scope, after, signal),
        (events: AlertEvent[]): WatchAlertsResponse => ({ $typeName: "billing.v1.WatchAlertsResponse", events: events.map(alertEventMessage) }),
        context,
        "resume the alerts from your last cursor later",
      );
    },

    async createAlert(request: CreateAlertRequest, context: HandlerContext): Promise<CreateAlertResponse> {
      const { requestId, alert } = validate(createAlertRequest, request);
      const result = await alerts.createAlert(context.values.get(callerScope), requestId, {
        customerRef: alert.customerId,
        meterKey: alert.meterKey,
        threshold: alert.threshold,
      });
      if (isFailure(result)) throw new FailureError(result);
      return { $typeName: "billing.v1.CreateAlertResponse", alert: alertMessage(result.value), replayed: result.replayed };
    },
  };
}

function usageChangeMessage(change: UsageChange): UsageChangeMessage {
  return {
    $typeName: "billing.v1.UsageChange",
    cursor: encodeFeedCursor("usage", change.cursor),
    record: usageRecordMessage(change.record),
    kind: change.kind === "recorded" ? UsageChangeKind.RECORDED : UsageChangeKind.VOIDED,
  };
}

function alertMessage(alert: Alert): AlertMessage {
  return {
    $typeName: "billing.v1.Alert",
    id: alert.id,
    customerId: alert.customerId,
    meterKey: alert.meterKey,
    threshold: alert.threshold.toString(),
    createTime: timestampFromMs(alert.createTime),
  };
}

function alertEventMessage(event: AlertEvent): AlertEventMessage {
  return {
    $typeName: "billing.v1.AlertEvent",
    cursor: encodeFeedCursor("alerts", event.cursor),
    alertId: event.alertId,
    customerId: event.customerId,
    meterKey: event.meterKey,
    period: event.period,
    value: event.value,
    threshold: event.threshold.toString(),
    crossedTime: timestampFromMs(event.crossedTime),
  };
}
