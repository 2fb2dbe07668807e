/**
 * connectrpc.conformance.v1.ConformanceService, as its documentation in
 * service.proto describes it, for the conformance runner's reference client
 * to call through Tally's own server (see conformance-server.ts). Unimplemented
 * is left out on purpose: the router answers it UNIMPLEMENTED.
 */
import { setTimeout as sleepTimer } from "node:timers/promises";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type Any, anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  BidiStreamRequestSchema,
  ClientStreamRequestSchema,
  type ConformancePayload_RequestInfo,
  ConformancePayload_RequestInfoSchema,
  ConformancePayloadSchema,
  type ConformanceService,
  type Error as ErrorDefinition,
  type Header,
  HeaderSchema,
  IdempotentUnaryRequestSchema,
  type StreamResponseDefinition,
  type UnaryResponseDefinition,
  ServerStreamRequestSchema,
  UnaryRequestSchema,
} from "./gen/connectrpc/conformance/v1/service_pb.js";

type Payload = MessageShape<typeof ConformancePayloadSchema>;

export const conformanceService: Partial<ServiceImpl<typeof ConformanceService>> = {
  async unary(request, context) {
    return { payload: await unaryAnswer(request.responseDefinition, [anyPack(UnaryRequestSchema, request)], context) };
  },

  async idempotentUnary(request, context) {
    return { payload: await unaryAnswer(request.responseDefinition, [anyPack(IdempotentUnaryRequestSchema, request)], context) };
  },

  async clientStream(requests, context) {
    let definition: UnaryResponseDefinition | undefined;
    const received: Any[] = [];
    for await (const request of requests) {
      if (received.length === 0) definition = request.responseDefinition;
      received.push(anyPack(ClientStreamRequestSchema, request));
    }
    return { payload: await unaryAnswer(definition, received, context) };
  },

  async *serverStream(request, context) {
    const definition = request.responseDefinition;
    const info = requestInfo(context, [anyPack(ServerStreamRequestSchema, request)]);
    if (definition === undefined) return;
    setMetadata(context, definition.responseHeaders, definition.responseTrailers);
    let sent = 0;
    for (const data of definition.responseData) {
      await sleep(definition.responseDelayMs, context.signal);
      yield { payload: payload(data, sent === 0 ? info : undefined) };
      sent++;
    }
    if (definition.error !== undefined) throw statusOf(definition.error, sent === 0 ? info : undefined);
  },

  async *bidiStream(requests, context) {
    let definition: StreamResponseDefinition | undefined;
    let fullDuplex = false;
    let first = true;
    let sent = 0;
    const received: Any[] = [];
    for await (const request of requests) {
      if (first) {
        first = false;
        definition = request.responseDefinition;
        fullDuplex = request.fullDuplex;
        if (definition !== undefined) setMetadata(context, definition.responseHeaders, definition.responseTrailers);
      }
      received.push(anyPack(BidiStreamRequestSchema, request));
      if (!fullDuplex) continue;
      // Full duplex: one response for each request, echoing the requests since the last response.
      if (definition === undefined) continue;
      const data = definition.responseData[sent];
      if (data === undefined) {
        if (definition.error !== undefined) throw statusOf(definition.error, requestInfo(context, received.splice(0)));
        continue;
      }
      await sleep(definition.responseDelayMs, context.signal);
      const info = sent === 0 ? requestInfo(context, received.splice(0)) : create(ConformancePayload_RequestInfoSchema, { requests: received.splice(0) });
      yield { payload: payload(data, info) };
      sent++;
    }
    if (definition === undefined) return;
    if (fullDuplex) {
      if (definition.error !== undefined) throw statusOf(definition.error, sent === 0 ? requestInfo(context, received) : undefined);
      return;
    }
    // Half duplex: every request read, then every response, the first echoing all requests.
    const info = requestInfo(context, received);
    for (const data of definition.responseData) {
      await sleep(definition.responseDelayMs, context.signal);
      yield { payload: payload(data, sent === 0 ? info : undefined) };
      sent++;
    }
    if (definition.error !== undefined) throw statusOf(definition.error, sent === 0 ? info : undefined);
  },
};

/** Unary and client-stream: the payload, or the error the definition asks for. */
async function unaryAnswer(definition: UnaryResponseDefinition | undefined, requests: Any[], context: HandlerContext): Promise<Payload> {
  const info = requestInfo(context, requests);
  if (definition === undefined) return payload(new Uint8Array(0), info);
  setMetadata(context, definition.responseHeaders, definition.responseTrailers);
  await sleep(definition.responseDelayMs, context.signal);
  switch (definition.response.case) {
    case "error":
      throw statusOf(definition.response.value, info);
    case "responseData":
      return payload(definition.response.value, info);
    default:
      return payload(new Uint8Array(0), info);
  }
}

function payload(data: Uint8Array, info: ConformancePayload_RequestInfo | undefined): Payload {
  return create(ConformancePayloadSchema, { data, requestInfo: info });
}

/** What the server saw of the call: its headers, its timeout, its requests and, for a Connect GET, its query. */
function requestInfo(context: HandlerContext, requests: Any[]): ConformancePayload_RequestInfo {
  const timeoutMs = context.timeoutMs();
  return create(ConformancePayload_RequestInfoSchema, {
    requestHeaders: headersOf(context.requestHeader),
    timeoutMs: timeoutMs === undefined ? undefined : BigInt(Math.round(timeoutMs)),
    requests,
    connectGetInfo: context.requestMethod === "GET" ? { queryParams: queryOf(context.url) } : undefined,
  });
}

function headersOf(headers: Headers): Header[] {
  const byName = new Map<string, string[]>();
  headers.forEach((value, name) => {
    const values = byName.get(name) ?? [];
    values.push(value);
    byName.set(name, values);
  });
  return [...byName].map(([name, value]) => create(HeaderSchema, { name, value }));
}

function queryOf(url: string): Header[] {
  const byName = new Map<string, string[]>();
  for (const [name, value] of new URL(url).searchParams) {
    const values = byName.get(name) ?? [];
    values.push(value);
    byName.set(name, values);
  }
  return [...byName].map(([name, value]) => create(HeaderSchema, { name, value }));
}

function setMetadata(context: HandlerContext, headers: Header[], trailers: Header[]): void {
  for (const header of headers) for (const value of header.value) context.responseHeader.append(header.name, value);
  for (const trailer of trailers) for (const value of trailer.value) context.responseTrailer.append(trailer.name, value);
}

/** The error a definition asks for, its details as given, then (when there is one) the request info. */
function statusOf(definition: ErrorDefinition, info: ConformancePayload_RequestInfo | undefined): ConnectError {
  const error = new ConnectError(definition.message ?? "", definition.code as number as Code);
  for (const detail of definition.details) {
    error.details.push({ type: detail.typeUrl.slice(detail.typeUrl.lastIndexOf("/") + 1), value: detail.value });
  }
  if (info !== undefined) error.details.push({ desc: ConformancePayload_RequestInfoSchema as DescMessage, value: info });
  return error;
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  try {
    await sleepTimer(ms, undefined, { signal });
  } catch {
    // The signal's reason: DEADLINE_EXCEEDED for a deadline, CANCELED for a client gone.
    throw ConnectError.from(signal.reason, Code.Canceled);
  }
}
