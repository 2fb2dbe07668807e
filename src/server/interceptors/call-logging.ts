import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ErrorInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { callerPrincipal } from "../../api/caller-scope.js";
import { fullMethodName } from "../../api/method-name.js";

/** The wire protocol of a call, from its content type. */
export function protocolOf(header: Headers): "grpc" | "grpc-web" | "connect" {
  const contentType = header.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * One log line per call, written when the call ends, with the status it ended
 * with: method, protocol, code, duration, the tenant (once authentication
 * knew it), the request_id (or a batch's size) and, for a refusal, its reason
 * and message. A stream is logged when it ends, with the messages it
 * answered. Headers are never logged, so no credential is either. (Faults
 * are logged by the error boundary at any level.)
 */
export function createCallLogging(logger: Logger): Interceptor {
  // Below the info level only faults are logged, and a call passes through
  // without a promise of its own.
  return (next) => (request) => (logger.isLevelEnabled("info") ? logCall(logger, next, request) : next(request));
}

async function logCall<T extends UnaryResponse | StreamResponse>(
  logger: Logger,
  next: (request: UnaryRequest | StreamRequest) => Promise<T>,
  request: UnaryRequest | StreamRequest,
): Promise<T> {
  const started = performance.now();
  const fields: Record<string, unknown> = { method: fullMethodName(request.method), protocol: protocolOf(request.header) };
  if (!request.stream) {
    const message = request.message as { requestId?: unknown; requests?: unknown[] };
    if (typeof message.requestId === "string" && message.requestId !== "") fields.requestId = message.requestId;
    if (Array.isArray(message.requests)) fields.batchSize = message.requests.length;
  }
  const log = (error: unknown) => {
    const tenant = request.contextValues.get(callerPrincipal)?.tenant;
    if (tenant !== undefined) fields.tenant = tenant;
    fields.durationMs = elapsed(started);
    if (error === undefined) {
      fields.code = "ok";
      logger.info(fields, "call");
      return;
    }
    const status = ConnectError.from(error);
    const reason = status.findDetails(ErrorInfoSchema)[0]?.reason;
    const level = status.code === Code.Internal || status.code === Code.Unknown ? "error" : "info";
    logger[level]({ ...fields, code: Code[status.code], ...(reason === undefined ? {} : { reason }), message: status.rawMessage }, "call");
  };
  let response: T;
  try {
    response = await next(request);
  } catch (error) {
    log(error);
    throw error;
  }
  if (!response.stream) {
    log(undefined);
    return response;
  }
  return { ...response, message: loggedStream(response.message, fields, log) };
}

/** A streamed answer's messages, logged once the stream ends, with how many it answered. */
async function* loggedStream<T>(messages: AsyncIterable<T>, fields: Record<string, unknown>, log: (error: unknown) => void): AsyncIterable<T> {
  let answered = 0;
  // Unless the stream ends or fails, its consumer stopped reading: the caller went away.
  let error: unknown = new ConnectError("the client cancelled the call", Code.Canceled);
  try {
    for await (const message of messages) {
      answered++;
      yield message;
    }
    error = undefined;
  } catch (thrown) {
    error = thrown;
    throw thrown;
  } finally {
    fields.messages = answered;
    log(error);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
