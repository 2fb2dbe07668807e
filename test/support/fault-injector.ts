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
export function createFaultInjector(methods: string[] = ["RecordUsage", "BatchRecordUsage", "CreateCustomer", "GetCurrentBill", "GetCustomer", "GrantCredit"]) {
  const queue: Fault[] = [];
  const seen: SeenCall[] = [];
  let always: Fault | undefined;
  let random: { failBefore: number; failAfter: number; next: () => number } | undefined;

  function nextRandomFault(): Fault | undefined {
    if (random === undefined) return undefined;
    const roll = random.next();
    if (roll < random.failBefore) return { kind: "fail-before", code: Code.Unavailable };
    if (roll < random.failBefore + random.failAfter) return { kind: "fail-after", code: Code.Unavailable };
    return undefined;
  }

  const interceptor: Interceptor = (next) => async (request) => {
    if (!methods.includes(request.method.name)) return next(request);
    if (request.stream) {
      // Streams: every batch received is seen; random faults break the
      // stream before or after a batch's answer (its events committed).
      const method = request.method.name;
      const incoming = request.message;
      const seenMessages = (async function* () {
        for await (const message of incoming) {
          const batch = message as { requests?: { requestId: string }[] };
          seen.push({ method, requestId: undefined, itemRequestIds: batch.requests?.map((item) => item.requestId) ?? [], authorization: request.header.get("authorization"), at: Date.now() });
          yield message;
        }
      })();
      const response = await next({ ...request, message: seenMessages });
      if (!response.stream) return response;
      const answers = response.message;
      return {
        ...response,
        message: (async function* () {
          for await (const answer of answers) {
            const fault = nextRandomFault();
            if (fault?.kind === "fail-before") throw new ConnectError("injected fault before an answer", fault.code);
            yield answer;
            if (fault?.kind === "fail-after") throw new ConnectError("injected fault after an answer", fault.code);
          }
        })(),
      };
    }
    const message = request.message as { requestId?: string; requests?: { requestId: string }[] };
    seen.push({
      method: request.method.name,
      requestId: message.requestId || undefined,
      itemRequestIds: message.requests?.map((item) => item.requestId) ?? [],
      authorization: request.header.get("authorization"),
      at: Date.now(),
    });
    const fault = queue.shift() ?? always ?? nextRandomFault();
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
