import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";

/** A fault the server plays on one call. */
export type Fault =
  /** Refuse before the handler runs: nothing happens on the server. */
  | { kind: "fail-before"; code: Code; retryDelayMs?: number }
  /** Run the handler (the write commits), then answer with an error: the response is lost. */
  | { kind: "fail-after"; code: Code }
  /** Wait before running the handler. */
  | { kind: "delay"; ms: number };

/** What the server saw of one attempt. */
export interface SeenCall {
  method: string;
  requestId: string | undefined;
  /** The request ids of a batch's items. */
  itemRequestIds: string[];
  /** The authorization header the call carried, if any. */
  authorization: string | null;
  at: number;
}

/**
 * Server-side fault injection for client tests: an interceptor that plays
 * queued faults (or random ones) on the real server's calls, and records
 * every attempt it saw.
 */
export function createFaultInjector(methods: string[] = ["RecordUsage", "BatchRecordUsage", "CreateCustomer", "GetCurrentBill", "GetCustomer"]) {
  const queue: Fault[] = [];
  const seen: SeenCall[] = [];
  let always: Fault | undefined;
  let random: { failBefore: number; failAfter: number; next: () => number } | undefined;

  const interceptor: Interceptor = (next) => async (request) => {
    if (!methods.includes(request.method.name) || request.stream) return next(request);
    const message = request.message as { requestId?: string; requests?: { requestId: string }[] };
    seen.push({
      method: request.method.name,
      requestId: message.requestId || undefined,
      itemRequestIds: message.requests?.map((item) => item.requestId) ?? [],
      authorization: request.header.get("authorization"),
      at: Date.now(),
    });
    let fault = queue.shift() ?? always;
    if (fault === undefined && random !== undefined) {
      const roll = random.next();
      if (roll < random.failBefore) fault = { kind: "fail-before", code: Code.Unavailable };
      else if (roll < random.failBefore + random.failAfter) fault = { kind: "fail-after", code: Code.Unavailable };
    }
    if (fault === undefined) return next(request);
    switch (fault.kind) {
      case "fail-before": {
        const details =
          fault.retryDelayMs === undefined
            ? []
            : [
                {
                  desc: RetryInfoSchema,
                  value: create(RetryInfoSchema, {
                    retryDelay: { seconds: BigInt(Math.floor(fault.retryDelayMs / 1000)), nanos: (fault.retryDelayMs % 1000) * 1_000_000 },
                  }),
                },
              ];
        throw new ConnectError("injected fault before the handler", fault.code, undefined, details);
      }
      case "fail-after":
        await next(request);
        throw new ConnectError("injected fault after the handler ran", fault.code);
      case "delay":
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return next(request);
    }
  };

  return {
    interceptor,
    seen,
    /** Plays these faults on the next calls, in order. */
    queue: (...faults: Fault[]) => queue.push(...faults),
    /** Plays this fault on every call (undefined to stop). */
    always: (fault: Fault | undefined) => {
      always = fault;
    },
    /** Random faults with a seeded generator (undefined to stop). */
    random: (rates: { failBefore: number; failAfter: number; seed: number } | undefined) => {
      if (rates === undefined) {
        random = undefined;
        return;
      }
      let seed = rates.seed;
      random = { ...rates, next: () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 };
    },
    reset: () => {
      queue.length = 0;
      seen.length = 0;
      always = undefined;
      random = undefined;
    },
  };
}
