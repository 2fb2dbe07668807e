import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type BatchRecordUsageResultSchema, type RecordUsageResponse, type StreamUsageRequest, type StreamUsageResponseSchema, UsageRecordView, UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { FailureError, failure, isFailure, valueOrThrow, withFieldPrefix } from "../domain/failure.js";
import type { RecordOutcome, UsageLedger, UsageRequest } from "../domain/usage-ledger.js";
import type { UsageLimits } from "../domain/usage-limits.js";
import { checkFieldAccess } from "./access-policy.js";
import { callerPrincipal, callerScope } from "./caller-scope.js";
import type { FeedHandlers } from "./feed-handler.js";
import { REASONS } from "./failure-status.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { basicUsageRecordMessage, usageLimitMessage, usageRecordMessage } from "./proto-mapping.js";
import {
  batchRecordUsageRequest,
  getDailyUsageRequest,
  getUsageAllowanceRequest,
  getUsageRecordRequest,
  listUsageRecordsRequest,
  recordUsageRequest,
  setUsageLimitRequest,
  streamUsageRequest,
  voidUsageRequest,
} from "./request-schemas.js";
import { validate } from "./request-validation.js";

/**
 * The domain's form of a RecordUsageRequest; `path` prefixes field paths
 * ("requests[3]"). A correction is recorded by RecordUsage alone, one event
 * with its bill revision at a time: a batch or stream item asking for one is refused.
 */
function usageRequest(request: unknown, path = "", correctionAllowed = false): UsageRequest {
  const valid = validate(recordUsageRequest, request, path);
  if (valid.correction === true && !correctionAllowed) {
    throw new FailureError(
      failure("INVALID_FIELD", `${path}.correction: a correction is recorded with RecordUsage, one event at a time, not in a batch or stream`, `${path}.correction`),
    );
  }
  return {
    requestId: valid.requestId,
    customerRef: valid.customerId,
    meterKey: valid.meterKey,
    quantity: valid.quantity,
    eventTime: valid.eventTime ?? null,
    attributes: valid.attributes,
    correction: valid.correction === true,
  };
}

function recordResponse(outcome: Exclude<RecordOutcome, { kind: "refused" }>, view: UsageRecordView = UsageRecordView.FULL): RecordUsageResponse {
  const { record } = outcome;
  return {
    $typeName: "billing.v1.RecordUsageResponse",
    record: view === UsageRecordView.BASIC ? basicUsageRecordMessage(record) : usageRecordMessage(record),
    replayed: outcome.kind === "replayed",
  };
}

/** The most batches of one StreamUsage stream being written at once. */
const MAX_STREAM_BATCHES_IN_FLIGHT = 8;

/**
 * Records a batch and answers each item: its record, or its refusal with the
 * code, reason and field paths ("requests[3].quantity") the item alone would
 * have got. Items of a non-atomic batch fail alone; in an atomic batch the
 * first bad item fails the call.
 */
async function recordBatchResults(
  ledger: UsageLedger,
  scope: string,
  requests: readonly unknown[],
  atomic: boolean,
  view: UsageRecordView,
): Promise<MessageInitShape<typeof BatchRecordUsageResultSchema>[]> {
  const prepared = requests.map((item, index) => {
    try {
      return usageRequest(item, `requests[${index}]`);
    } catch (error) {
      if (atomic || !(error instanceof FailureError)) throw error;
      return error.failure;
    }
  });
  const valid = prepared.filter((item): item is UsageRequest => !isFailure(item));
  const outcomes = valueOrThrow(await ledger.recordBatch(scope, valid, atomic));
  let next = 0;
  return prepared.map((item, index): MessageInitShape<typeof BatchRecordUsageResultSchema> => {
    const outcome: RecordOutcome = isFailure(item) ? { kind: "refused", failure: item } : outcomes[next++]!;
    if (outcome.kind !== "refused") return { result: { case: "response", value: recordResponse(outcome, view) } };
    const failure = isFailure(item) ? outcome.failure : withFieldPrefix(outcome.failure, `requests[${index}]`);
    return {
      result: {
        case: "error",
        value: { code: REASONS[failure.reason].code, message: failure.message, reason: failure.reason, fieldViolations: failure.fieldViolations },
      },
    };
  });
}

const noop = () => undefined;

/** billing.v1.UsageService: proto in, use case, proto out. */
export function createUsageHandler(ledger: UsageLedger, feed: FeedHandlers, limits: UsageLimits): ServiceImpl<typeof UsageService> {
  return {
    async recordUsage(request, context) {
      if (request.correction) checkFieldAccess(context.values.get(callerPrincipal), "correction");
      const outcome = await ledger.recordUsage(context.values.get(callerScope), usageRequest(request, "", true));
      if (outcome.kind === "refused") throw new FailureError(outcome.failure);
      return recordResponse(outcome);
    },

    async batchRecordUsage(request, context) {
      const { atomic, view } = validate(batchRecordUsageRequest, request);
      return { results: await recordBatchResults(ledger, context.values.get(callerScope), request.requests, atomic, view) };
    },

    /**
     * Answers each batch of the stream once it is durable, in the order
     * sent, while reading the batches after it: up to MAX_STREAM_BATCHES_IN_FLIGHT
     * are being written at once, so one stream keeps the group commit busy.
     */
    async *streamUsage(requests, context) {
      const scope = context.values.get(callerScope);
      const inFlight: Promise<MessageInitShape<typeof StreamUsageResponseSchema>>[] = [];
      const answer = async (message: StreamUsageRequest) => {
        const { sequence, view } = validate(streamUsageRequest, message);
        return { sequence, results: await recordBatchResults(ledger, scope, message.requests, false, view) };
      };
      const incoming = requests[Symbol.asyncIterator]();
      let next: Promise<IteratorResult<StreamUsageRequest>> | undefined = incoming.next();
      while (next !== undefined || inFlight.length > 0) {
        if (next === undefined || inFlight.length >= MAX_STREAM_BATCHES_IN_FLIGHT) {
          yield await inFlight.shift()!;
          continue;
        }
        const oldest = inFlight[0];
        let arrived: IteratorResult<StreamUsageRequest> | undefined;
        try {
          arrived = oldest === undefined ? await next : await Promise.race([next, oldest.then(noop, noop)]);
        } catch (error) {
          // The incoming side failed (a stream limit, a reset): the batches already
          // being written still answer, in order, before the stream ends with the error.
          while (inFlight.length > 0) yield await inFlight.shift()!;
          throw error;
        }
        if (arrived === undefined) {
          yield await inFlight.shift()!;
        } else if (arrived.done === true) {
          next = undefined;
        } else {
          const pending = answer(arrived.value);
          pending.catch(() => undefined); // awaited in order below; a refusal ends the stream there
          inFlight.push(pending);
          next = incoming.next();
        }
      }
    },

    async getUsageRecord(request, context) {
      const { id } = validate(getUsageRecordRequest, request);
      return { record: usageRecordMessage(valueOrThrow(await ledger.getUsageRecord(context.values.get(callerScope), id))) };
    },

    async listUsageRecords(request, context) {
      const query = validate(listUsageRecordsRequest, request);
      const page = valueOrThrow(
        await ledger.listUsageRecords(
          context.values.get(callerScope),
          {
            customerRef: query.customerId,
            meterKey: query.meterKey,
            startTime: query.startTime ?? null,
            endTime: query.endTime ?? null,
            attributes: query.attributes,
          },
          { limit: query.pageSize, after: decodePageToken("usage records", query.pageToken) },
        ),
      );
      return { records: page.items.map(usageRecordMessage), nextPageToken: encodePageToken("usage records", page.nextCursor) };
    },

    async getDailyUsage(request, context) {
      const { customerId, period, attributes } = validate(getDailyUsageRequest, request);
      const usage = valueOrThrow(await ledger.dailyUsage(context.values.get(callerScope), customerId, period === "" ? null : period, attributes));
      return {
        customerId: usage.customerId,
        period: usage.period,
        days: usage.days.map((day) => ({
          date: day.date,
          meterKey: day.meterKey,
          quantity: day.quantity.toString(),
          eventCount: BigInt(day.eventCount),
        })),
      };
    },

    async voidUsage(request, context) {
      const { requestId, reason, correction } = validate(voidUsageRequest, request);
      if (correction) checkFieldAccess(context.values.get(callerPrincipal), "correction");
      const outcome = await ledger.voidUsage(context.values.get(callerScope), requestId, reason, correction);
      if (outcome.kind === "refused") throw new FailureError(outcome.failure);
      return { record: usageRecordMessage(outcome.record), replayed: outcome.kind === "replayed" };
    },

    async setUsageLimit(request, context) {
      const { requestId, limit } = validate(setUsageLimitRequest, request);
      const set = valueOrThrow(
        await limits.setUsageLimit(context.values.get(callerScope), requestId, { customerRef: limit.customerId, meterKey: limit.meterKey, limit: limit.limit }),
      );
      return { limit: usageLimitMessage(set.value), replayed: set.replayed };
    },

    async getUsageAllowance(request, context) {
      const { customerId, meterKey } = validate(getUsageAllowanceRequest, request);
      const allowance = valueOrThrow(await limits.getUsageAllowance(context.values.get(callerScope), customerId, meterKey));
      return {
        limit: allowance.limit?.toString() ?? "",
        used: allowance.used.toString(),
        remaining: allowance.remaining?.toString() ?? "",
        period: allowance.period,
      };
    },

    // Contract added for issue 19; the implementations land with it.
    watchUsage: feed.watchUsage,
  };
}
