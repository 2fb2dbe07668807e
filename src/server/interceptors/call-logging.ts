import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { fullMethodName } from "../../api/method-name.js";

/** The wire protocol of a call, from its content type. */
export function protocolOf(header: Headers): "grpc" | "grpc-web" | "connect" {
  const contentType = header.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * One log line per call: method, protocol, code, duration and the request_id
 * (or a batch's size). Headers are never logged, so no credential is either.
 * Streams are logged when the handler returns them, not when they end.
 * (Faults are logged by the error boundary at any level.)
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
  try {
    const response = await next(request);
    logger.info({ ...fields, code: "ok", durationMs: elapsed(started) }, "call");
    return response;
  } catch (error) {
    const code = error instanceof ConnectError ? error.code : Code.Unknown;
    const level = code === Code.Internal || code === Code.Unknown ? "error" : "info";
    logger[level]({ ...fields, code: Code[code], durationMs: elapsed(started) }, "call");
    throw error;
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
