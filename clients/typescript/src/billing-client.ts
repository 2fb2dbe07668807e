import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { type CallOptions, type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { AccessService } from "../../../gen/ts/billing/v1/access_service_pb.js";
import {
  type AlertEvent,
  type AlertSchema,
  BillingService,
  type CreateAlertResponse,
  type CreditGrantSchema,
  type GrantCreditResponse,
} from "../../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService, type PriceTierSchema } from "../../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../../../gen/ts/billing/v1/customer_service_pb.js";
import {
  type BatchRecordUsageResponse,
  type BatchRecordUsageResult,
  type RecordUsageRequestSchema,
  type RecordUsageResponse,
  type UsageChange,
  type SetUsageLimitResponse,
  type UsageLimitSchema,
  UsageRecordView,
  UsageService,
} from "../../../gen/ts/billing/v1/usage_service_pb.js";
import { resumableWatch, type WatchOptions } from "./resumable-watch.js";
import { BillingError } from "./billing-error.js";
import { type DecimalInput, DecimalInputError, toDecimalString } from "./quantity.js";
import { backoffDelayMs, isRetryable, RetryBudget, type RetryOptions, retryOptions, serverRetryDelayMs } from "./retry-policy.js";
import { createUsageProducer, type UsageProducer, type UsageProducerOptions } from "./usage-producer.js";
import { createUsageStream } from "./usage-stream.js";
import { uuidV7 } from "./uuid-v7.js";

/** The wire protocols the client speaks. "grpc" needs HTTP/2 and so Node. */
export type BillingProtocol = "grpc" | "connect" | "grpc-web";

/** Where log lines about retries go; pino's logger fits. */
export interface BillingClientLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What onRetry hears before each retry. */
export interface RetryEvent {
  /** The RPC, e.g. "RecordUsage". */
  method: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** Whether the delay is the one the server asked for. */
  serverDelay: boolean;
  error: ConnectError;
  requestId: string | undefined;
}

/** Options of createBillingClient. */
export interface BillingClientOptions {
  /** The server, e.g. "http://127.0.0.1:8080". Required. */
  baseUrl: string;
  /** Wire protocol. Default "connect" (works in Node and browsers). */
  protocol?: BillingProtocol;
  /** Sent as `authorization: Bearer <apiKey>` on every call. Default none. */
  apiKey?: string;
  /** Overall deadline of one logical call, all attempts and waits included, in ms. Default 30000. */
  timeoutMs?: number;
  /** Retry behaviour; see RetryOptions for each default. */
  retry?: Partial<RetryOptions>;
  /** Receives a warning line per retry. Default none. */
  logger?: BillingClientLogger;
  /** Called before each retry, e.g. for metrics. Default none. */
  onRetry?: (event: RetryEvent) => void;
}

/** A usage event as the client takes it: the quantity as a string, bigint or number, the request_id optional. */
export type UsageEventInput = Omit<MessageInitShape<typeof RecordUsageRequestSchema>, "quantity"> & { quantity: DecimalInput };

/** A price tier with amounts as strings, bigints or numbers. */
export type PriceTierInput = Omit<MessageInitShape<typeof PriceTierSchema>, "upTo" | "unitAmount" | "flatAmount"> & {
  upTo?: DecimalInput;
  unitAmount: DecimalInput;
  flatAmount?: DecimalInput;
};

type ServiceClients = Client<typeof CustomerService> &
  Client<typeof CatalogService> &
  Client<typeof UsageService> &
  Client<typeof BillingService> &
  Client<typeof AccessService>;

type CreatePriceRequestInit = Parameters<ServiceClients["createPrice"]>[0];

/** A CreatePrice request whose tier amounts and package size may be strings, bigints or numbers. */
export type CreatePriceInput = Omit<CreatePriceRequestInit, "price"> & {
  price?: Omit<NonNullable<CreatePriceRequestInit["price"]>, "tiers" | "packageSize"> & {
    tiers?: PriceTierInput[];
    packageSize?: DecimalInput;
  };
};

/**
 * A SetUsageLimit request: the limit as a string, bigint or number, or null
 * (or "") to remove it; the request_id optional.
 */
export type SetUsageLimitInput = {
  requestId?: string;
  limit: Omit<MessageInitShape<typeof UsageLimitSchema>, "limit" | "updateTime"> & { limit: DecimalInput | null };
};

/** A GrantCredit request: the amount as a string, bigint or number; the request_id optional. */
export type GrantCreditInput = {
  requestId?: string;
  grant: Omit<MessageInitShape<typeof CreditGrantSchema>, "amount" | "id" | "remainingAmount" | "createTime"> & { amount: DecimalInput };
};

/** A CreateAlert request: the threshold as a string, bigint or number; the request_id optional. */
export type CreateAlertInput = {
  requestId?: string;
  alert: Omit<MessageInitShape<typeof AlertSchema>, "threshold" | "id" | "createTime"> & { threshold: DecimalInput };
};

/**
 * The Tally client: one method per RPC in lowerCamel, taking the request's
 * fields in lowerCamel. Mutating calls get a request_id (UUIDv7) unless one is
 * given, created once per logical call and sent unchanged on every attempt.
 */
export type BillingClient = Omit<
  ServiceClients,
  "recordUsage" | "batchRecordUsage" | "createPrice" | "watchUsage" | "watchAlerts" | "setUsageLimit" | "grantCredit" | "createAlert"
> & {
  recordUsage(request: UsageEventInput, options?: CallOptions): Promise<RecordUsageResponse>;
  batchRecordUsage(
    request: { requests: UsageEventInput[]; atomic?: boolean; view?: UsageRecordView },
    options?: CallOptions,
  ): Promise<BatchRecordUsageResponse>;
  createPrice(request: CreatePriceInput, options?: CallOptions): ReturnType<ServiceClients["createPrice"]>;
  /**
   * Every usage change of the tenant (or of `customerId`, a Tally id or
   * external_id) after `afterCursor` ("" or unset: from the beginning), one by
   * one in commit order, then live, for as long as the caller iterates. After
   * a disconnect it resumes after the last change it handed out, with this
   * client's backoff, so each change comes once; store `change.cursor` once a
   * change is processed to resume there after a restart of your own.
   */
  watchUsage(request?: { afterCursor?: string; customerId?: string }, options?: WatchOptions): AsyncIterable<UsageChange>;
  /** Every alert event after `afterCursor`, then live, resumed the same way as watchUsage. */
  watchAlerts(request?: { afterCursor?: string }, options?: WatchOptions): AsyncIterable<AlertEvent>;
  /**
   * Sets (limit null or "" removes) a customer's limit on a meter per billing
   * period. An event past it is refused with FAILED_PRECONDITION, reason
   * USAGE_LIMIT_EXCEEDED, which the client never retries.
   */
  setUsageLimit(request: SetUsageLimitInput, options?: CallOptions): Promise<SetUsageLimitResponse>;
  grantCredit(request: GrantCreditInput, options?: CallOptions): Promise<GrantCreditResponse>;
  createAlert(request: CreateAlertInput, options?: CallOptions): Promise<CreateAlertResponse>;
  /** Usage helpers. */
  usage: {
    /**
     * A batching producer: enqueue events, get a promise per event that
     * settles once it is durable. It sends batches on one StreamUsage stream
     * where the protocol allows (gRPC, or Connect over HTTP/2), else as
     * BatchRecordUsage calls; both with this client's retries.
     */
    producer(options?: UsageProducerOptions): UsageProducer;
  };
};

/** How a producer sends one batch: with the client's retries, over a stream or as a call. */
export type BatchSender = (events: UsageEventInput[], view: UsageRecordView) => Promise<BatchRecordUsageResult[]>;

const SERVICES: DescService[] = [CustomerService, CatalogService, UsageService, BillingService, AccessService];

/** RPCs that change state and so carry a request_id of their own. VoidUsage names an existing record's instead. */
const TAKES_NEW_REQUEST_ID = new Set([
  "createCustomer",
  "createMeter",
  "createPrice",
  "recordUsage",
  "batchRecordUsage",
  "setUsageLimit",
  "grantCredit",
  "createAlert",
]);

/** The defaults of the client's own options. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Builds the client over a transport. Platform entries (node.ts, browser.ts)
 * pick the transport for the protocol; this part runs anywhere.
 */
export function createBillingClientOver(
  transport: Transport,
  options: BillingClientOptions,
  /** Whether the transport carries bidirectional streams (HTTP/2). */
  streams: boolean,
): BillingClient {
  const retry = retryOptions(options.retry);
  const budget = new RetryBudget(retry.budget);
  const overallTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function invoke<T>(
    method: string,
    requestId: string | undefined,
    attemptOnce: (options: CallOptions) => Promise<T>,
    callOptions: CallOptions = {},
  ): Promise<T> {
    const started = Date.now();
    const deadline = started + (callOptions.timeoutMs ?? overallTimeoutMs);
    const signal = callOptions.signal ?? undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await attemptOnce({ ...callOptions, timeoutMs: Math.max(1, Math.min(retry.attemptTimeoutMs, deadline - Date.now())) });
        budget.recordSuccess();
        return result;
      } catch (cause) {
        const error = ConnectError.from(cause);
        const context = { method, attempts: attempt, requestId };
        const overallDeadlinePassed = Date.now() >= deadline;
        if (!isRetryable(error, { callerCancelled: signal?.aborted === true, overallDeadlinePassed })) {
          // The last attempt ran into the overall deadline: the client gave up, nobody refused.
          if (error.code === Code.DeadlineExceeded && overallDeadlinePassed) {
            throw BillingError.fromCause(cause, { ...context, outcome: "gave-up", gaveUpBecause: `the ${deadline - started} ms deadline passed` });
          }
          throw BillingError.fromCause(cause, { ...context, outcome: "refused" });
        }
        budget.recordFailure();
        const serverDelay = serverRetryDelayMs(error);
        const delayMs = serverDelay ?? backoffDelayMs(attempt, retry);
        const stop =
          attempt >= retry.maxAttempts
            ? `all ${retry.maxAttempts} attempts failed`
            : Date.now() + delayMs >= deadline
              ? `the ${deadline - started} ms deadline leaves no time for another attempt${serverDelay === undefined ? "" : ` after the ${serverDelay} ms the server asked to wait`}`
              : !budget.allowsRetry()
                ? "the retry budget is spent: most recent calls failed, so the client stopped retrying to spare the server"
                : undefined;
        if (stop !== undefined) throw BillingError.fromCause(cause, { ...context, outcome: "gave-up", gaveUpBecause: stop });
        options.onRetry?.({ method, attempt, delayMs, serverDelay: serverDelay !== undefined, error, requestId });
        options.logger?.warn({ method, attempt, delayMs, code: error.code, requestId }, "retrying a failed call");
        try {
          await sleep(delayMs, signal);
        } catch {
          const cancelled = new ConnectError("the caller cancelled the call while it waited to retry", Code.Canceled);
          throw BillingError.fromCause(cancelled, { ...context, outcome: "gave-up", gaveUpBecause: "the caller cancelled" });
        }
      }
    }
  }

  const client: Record<string, unknown> = {};
  for (const service of SERVICES) {
    const raw = createClient(service, transport) as unknown as Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>>;
    for (const method of service.methods) {
      if (method.methodKind !== "unary") continue;
      const name = method.localName;
      client[name] = async (request: Record<string, unknown>, callOptions?: CallOptions) => {
        let prepared: Record<string, unknown>;
        try {
          prepared = prepareRequest(name, request);
        } catch (error) {
          if (!(error instanceof DecimalInputError)) throw error;
          throw new BillingError({
            method: method.name,
            code: Code.InvalidArgument,
            reason: "INVALID_QUANTITY",
            detail: `${error.message}; nothing was sent`,
            fieldViolations: [{ field: error.field, description: error.description }],
            attempts: 0,
            outcome: "refused",
            cause: error,
          });
        }
        const requestId = typeof prepared.requestId === "string" && prepared.requestId !== "" ? prepared.requestId : undefined;
        return invoke(method.name, requestId, (attemptOptions) => raw[name]!(prepared, attemptOptions), callOptions);
      };
    }
  }
  const billingClient = client as BillingClient;
  const usageService = createClient(UsageService, transport);
  const billingService = createClient(BillingService, transport);
  const onReconnect = (method: string) => (attempt: number, delayMs: number, serverDelay: boolean, error: ConnectError) => {
    options.onRetry?.({ method, attempt, delayMs, serverDelay, error, requestId: undefined });
    options.logger?.warn({ method, attempt, delayMs, code: error.code }, "resuming a watch after a disconnect");
  };
  billingClient.watchUsage = (request = {}, watchOptions = {}) =>
    resumableWatch({
      method: "WatchUsage",
      open: (afterCursor, callOptions) => usageService.watchUsage({ afterCursor, customerId: request.customerId ?? "" }, callOptions),
      itemsOf: (message) => message.changes,
      afterCursor: request.afterCursor ?? "",
      retry,
      signal: watchOptions.signal,
      onReconnect: onReconnect("WatchUsage"),
    });
  billingClient.watchAlerts = (request = {}, watchOptions = {}) =>
    resumableWatch({
      method: "WatchAlerts",
      open: (afterCursor, callOptions) => billingService.watchAlerts({ afterCursor }, callOptions),
      itemsOf: (message) => message.events,
      afterCursor: request.afterCursor ?? "",
      retry,
      signal: watchOptions.signal,
      onReconnect: onReconnect("WatchAlerts"),
    });
  const viaCalls: BatchSender = async (events, view) => (await billingClient.batchRecordUsage({ requests: events, view })).results;
  const viaStream = (): BatchSender => {
    const stream = createUsageStream(createClient(UsageService, transport));
    return (events, view) => {
      const prepared = prepareRequest("batchRecordUsage", { requests: events }).requests as UsageEventInput[] & { quantity: string }[];
      return invoke("StreamUsage", undefined, (attempt) => stream.send(prepared as never, view, attempt.timeoutMs ?? retry.attemptTimeoutMs));
    };
  };
  billingClient.usage = {
    producer: (producerOptions = {}) => {
      const useStream = (producerOptions.via ?? "auto") === "stream" || ((producerOptions.via ?? "auto") === "auto" && streams);
      return createUsageProducer(useStream ? viaStream() : viaCalls, producerOptions);
    },
  };
  return billingClient;
}

/**
 * The request every attempt sends: a request_id where the RPC takes a new
 * one and none was given, and exact decimal strings for quantities. Done once
 * per logical call, so retries repeat it exactly.
 */
function prepareRequest(method: string, request: Record<string, unknown>): Record<string, unknown> {
  const prepared: Record<string, unknown> = { ...request };
  if (TAKES_NEW_REQUEST_ID.has(method) && method !== "batchRecordUsage" && !prepared.requestId) prepared.requestId = newRequestId();
  if (method === "recordUsage") prepared.quantity = toDecimalString(request.quantity as DecimalInput, "quantity");
  if (method === "batchRecordUsage") {
    prepared.requests = ((request.requests as Record<string, unknown>[] | undefined) ?? []).map((item, index) => ({
      ...item,
      requestId: item.requestId || newRequestId(),
      quantity: toDecimalString(item.quantity as DecimalInput, `requests[${index}].quantity`),
    }));
  }
  if (method === "createPrice" && request.price !== undefined) {
    const price = request.price as { tiers?: PriceTierInput[]; packageSize?: DecimalInput };
    prepared.price = {
      ...price,
      // Spread first, so a field added to PriceTier is carried as sent; only the decimals are rewritten.
      tiers: (price.tiers ?? []).map((tier, index) => ({
        ...tier,
        upTo: tier.upTo === undefined ? "" : toDecimalString(tier.upTo, `price.tiers[${index}].up_to`),
        unitAmount: toDecimalString(tier.unitAmount, `price.tiers[${index}].unit_amount`),
        flatAmount: tier.flatAmount === undefined ? "" : toDecimalString(tier.flatAmount, `price.tiers[${index}].flat_amount`),
      })),
      packageSize: price.packageSize === undefined ? "" : toDecimalString(price.packageSize, "price.package_size"),
    };
  }
  if (method === "setUsageLimit" && request.limit !== undefined) {
    const limit = request.limit as { limit?: DecimalInput | null };
    prepared.limit = { ...limit, limit: limit.limit === null || limit.limit === undefined ? "" : toDecimalString(limit.limit, "limit.limit") };
  }
  if (method === "grantCredit" && request.grant !== undefined) {
    const grant = request.grant as { amount: DecimalInput };
    prepared.grant = { ...grant, amount: toDecimalString(grant.amount, "grant.amount") };
  }
  if (method === "createAlert" && request.alert !== undefined) {
    const alert = request.alert as { threshold: DecimalInput };
    prepared.alert = { ...alert, threshold: toDecimalString(alert.threshold, "alert.threshold") };
  }
  return prepared;
}

/** A new request_id: a UUIDv7, unique and ordered by time. */
export function newRequestId(): string {
  return uuidV7();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
