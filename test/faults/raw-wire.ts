import type * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { AUTHORIZATION } from "./fault-harness.js";

/**
 * Hand-made requests over real sockets, for input no well-behaved client
 * library would send: the bytes, headers and content types are exactly the
 * test's. Each answer is read the way its protocol reports a status.
 */

/** The wire forms a request can take on Tally's one port. */
export const WIRE_PROTOCOLS = ["grpc", "grpc-web-h1", "grpc-web-h2", "connect-json-h1", "connect-json-h2", "connect-proto-h1", "connect-proto-h2"] as const;
export type WireProtocol = (typeof WIRE_PROTOCOLS)[number];

/** What the server answered. */
export interface WireAnswer {
  httpStatus: number;
  /** The RPC status code name in Connect's spelling ("invalid_argument"), "ok", or undefined when the answer had none. */
  code: string | undefined;
  message: string;
  /** The transport failed (reset, closed without an answer). */
  transportError?: string;
}

/** The standard content type of each wire form. */
export function contentTypeOf(protocol: WireProtocol): string {
  if (protocol === "grpc") return "application/grpc";
  if (protocol.startsWith("grpc-web")) return "application/grpc-web+proto";
  return protocol.startsWith("connect-json") ? "application/json" : "application/proto";
}

/** The message in the wire form's body: gRPC and gRPC-Web put a 5-byte envelope in front. */
export function bodyOf(protocol: WireProtocol, message: Uint8Array): Uint8Array {
  if (protocol.startsWith("connect")) return message;
  return envelope(message);
}

/** A length-prefixed message (flags 0). `declaredLength` may lie. */
export function envelope(message: Uint8Array, declaredLength = message.length, flags = 0): Uint8Array {
  const framed = new Uint8Array(5 + message.length);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, declaredLength);
  framed.set(message, 5);
  return framed;
}

const GRPC_CODES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/** One request of `protocol` to `path` with exactly this body and content type. */
export async function sendRaw(
  baseUrl: string,
  protocol: WireProtocol,
  path: string,
  body: Uint8Array,
  options: { contentType?: string; headers?: Record<string, string>; session?: http2.ClientHttp2Session } = {},
): Promise<WireAnswer> {
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? contentTypeOf(protocol),
    authorization: AUTHORIZATION,
    ...(protocol === "grpc" ? { te: "trailers" } : {}),
    ...(protocol.startsWith("connect") ? { "connect-protocol-version": "1" } : {}),
    ...options.headers,
  };
  const exchange = protocol === "grpc" || protocol.endsWith("-h2") ? http2Exchange : http1Exchange;
  const answer = await exchange(baseUrl, path, headers, body, options.session);
  if (answer.transportError !== undefined) return { httpStatus: 0, code: undefined, message: "", transportError: answer.transportError };
  return readStatus(answeringProtocol(protocol, headers["content-type"]!), answer);
}

/**
 * The protocol the server answers in: the one the content type names (the
 * server picks the protocol by it), else the wire form's own.
 */
function answeringProtocol(protocol: WireProtocol, contentType: string): WireProtocol {
  const http2 = protocol === "grpc" || protocol.endsWith("-h2");
  if (contentType.startsWith("application/grpc-web")) return http2 ? "grpc-web-h2" : "grpc-web-h1";
  if (contentType.startsWith("application/grpc")) return "grpc";
  if (/^application\/(connect\+)?json/.test(contentType)) return http2 ? "connect-json-h2" : "connect-json-h1";
  if (/^application\/(connect\+)?proto/.test(contentType)) return http2 ? "connect-proto-h2" : "connect-proto-h1";
  return protocol;
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  transportError?: string;
}

/**
 * HTTP/1.1 over a bare socket: the whole request is written (a server that
 * answers early and closes only makes later writes fail), and whatever
 * arrives until the server closes or finishes its answer is parsed. Node's
 * HTTP client would drop an early answer on EPIPE.
 */
function http1Exchange(baseUrl: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<Exchange> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    let settled = false;
    const settle = () => {
      if (settled) return;
      const parsed = parseHttp1Response(Buffer.concat(received), socket.destroyed);
      if (parsed === undefined && !socket.destroyed) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parsed ?? { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), transportError: "closed without a complete answer" });
    };
    const timer = setTimeout(() => socket.destroy(), 30_000);
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      settle();
    });
    socket.on("error", () => {});
    socket.on("close", settle);
    const head = [`POST ${path} HTTP/1.1`, `host: ${url.host}`, `content-length: ${body.length}`];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    socket.end(body);
  });
}

/**
 * A complete HTTP/1.1 response in `bytes` (content-length, chunked with
 * trailers, or delimited by the close), or undefined while incomplete.
 */
function parseHttp1Response(bytes: Buffer, closed: boolean): Exchange | undefined {
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const headers = fieldLines(lines);
  let rest = bytes.subarray(headEnd + 4);
  if (headers["transfer-encoding"]?.includes("chunked")) {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf("\r\n");
      if (lineEnd < 0) return undefined;
      const size = parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
      if (size === 0) {
        const trailerEnd = rest.indexOf("\r\n\r\n", lineEnd - 2 >= 0 ? lineEnd - 2 : 0);
        if (trailerEnd < 0) return undefined;
        const trailerLines = rest.subarray(lineEnd + 2, trailerEnd).toString("latin1").split("\r\n").filter((line) => line !== "");
        return { status, headers, trailers: fieldLines(trailerLines), body: Buffer.concat(chunks) };
      }
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
  }
  if (headers["content-length"] === undefined) return closed ? { status, headers, trailers: {}, body: rest } : undefined;
  const length = Number(headers["content-length"]);
  if (rest.length < length) return undefined;
  return { status, headers, trailers: {}, body: rest.subarray(0, length) };
}

function fieldLines(lines: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fields;
}

async function http2Exchange(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
  shared?: http2.ClientHttp2Session,
): Promise<Exchange> {
  const session = shared ?? http2.connect(baseUrl);
  session.on("error", () => {});
  try {
    return await new Promise<Exchange>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": path, ...headers });
      stream.setTimeout(30_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.on("response", (received) => {
        status = Number(received[":status"]);
        responseHeaders = flat(received);
      });
      stream.on("trailers", (received) => (trailers = flat(received)));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error) => resolve({ status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), transportError: error.message }));
      stream.on("close", () => {
        if (status === 0) resolve({ status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), transportError: `stream closed with code ${stream.rstCode}` });
        else resolve({ status, headers: responseHeaders, trailers, body: Buffer.concat(chunks) });
      });
      stream.end(body);
    });
  } finally {
    if (shared === undefined) session.close();
  }
}

function flat(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders | NodeJS.Dict<string | string[]>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) result[name] = Array.isArray(value) ? value.join(", ") : String(value);
  return result;
}

function readStatus(protocol: WireProtocol, exchange: Exchange): WireAnswer {
  const { status } = exchange;
  if (protocol.startsWith("connect")) {
    if (status === 200) return { httpStatus: status, code: "ok", message: "" };
    try {
      const error = JSON.parse(exchange.body.toString("utf8")) as { code?: string; message?: string };
      return { httpStatus: status, code: error.code, message: error.message ?? "" };
    } catch {
      return { httpStatus: status, code: undefined, message: exchange.body.toString("utf8").slice(0, 200) };
    }
  }
  // gRPC: trailers (or headers, for a trailers-only answer). gRPC-Web: a
  // trailer frame (flag 0x80) at the end of the body, or headers.
  let fields: Record<string, string> = { ...exchange.headers, ...exchange.trailers };
  if (protocol.startsWith("grpc-web")) {
    let offset = 0;
    while (offset + 5 <= exchange.body.length) {
      const flags = exchange.body[offset]!;
      const length = exchange.body.readUInt32BE(offset + 1);
      if (flags & 0x80) {
        const text = exchange.body.subarray(offset + 5, offset + 5 + length).toString("utf8");
        for (const line of text.split("\r\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
      offset += 5 + length;
    }
  }
  const grpcStatus = fields["grpc-status"];
  return {
    httpStatus: status,
    code: grpcStatus === undefined ? undefined : (GRPC_CODES[Number(grpcStatus)] ?? `grpc-status ${grpcStatus}`),
    message: decodeURIComponent(fields["grpc-message"] ?? ""),
  };
}
