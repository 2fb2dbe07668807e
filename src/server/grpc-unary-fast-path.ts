import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, type DescMessage, fromBinary, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createServiceImplSpec,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/** Options of the gRPC unary fast path. */
export interface GrpcUnaryFastPathOptions {
  /** The same interceptors the router runs, outermost first. Required. */
  interceptors: Interceptor[];
  /** Largest request message in bytes. Required. */
  readMaxBytes: number;
  /** Largest response message in bytes. Required. */
  writeMaxBytes: number;
  /** Longest grpc-timeout a client may ask for, in ms. Default: no limit. */
  maxTimeoutMs?: number;
  /**
   * Encoders that replace protobuf-es's reflective toBinary for the responses
   * of the hottest methods; each must produce toBinary's very bytes. Default none.
   */
  encoders?: ResponseEncoder[];
}

/** A specialised encoder of one response message. */
export interface ResponseEncoder<Desc extends DescMessage = DescMessage> {
  schema: Desc;
  encode(message: MessageShape<Desc>): Uint8Array;
}

type Encode = (schema: DescMessage, message: MessageShape<DescMessage>) => Uint8Array;

type UnarySpec = MethodImplSpec & { kind: "unary" };

const RESPONSE_CONTENT_TYPE = "application/grpc+proto";

/**
 * Serves unary gRPC calls (protobuf, uncompressed: what every stub sends)
 * straight on the HTTP/2 stream, without connect-node's generic streaming
 * pipeline, which costs most of a call's CPU. It runs the very same service
 * implementations and the very same interceptors, as connect's
 * `invokeUnaryImplementation` does (interceptors wrap the implementation,
 * outermost first, once per call), and writes statuses with connect's own
 * `setTrailerStatus`, so codes, messages and error details are byte-for-byte
 * what connect-node sends. What a call rarely uses is made on first use: its
 * abort signal, its response metadata, a Fetch Headers of its request
 * headers. Everything else — streaming RPCs, compressed or JSON gRPC,
 * gRPC-Web, Connect — is left to connect-node: `claim` returns false for it.
 *
 * `setTrailerStatus` and `parseTimeout` are connect's gRPC protocol helpers;
 * connect is pinned to an exact version (2.1.2) and every protocol test runs
 * through this path, so an upgrade that changes them fails loudly.
 */
export function createGrpcUnaryFastPath(options: GrpcUnaryFastPathOptions) {
  const methods = new Map<string, UnarySpec>();
  const maxTimeoutMs = options.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;
  const encoders = new Map<DescMessage, Encode>((options.encoders ?? []).map((encoder) => [encoder.schema, (_, message) => encoder.encode(message)]));

  /**
   * Wraps a router so that every unary method registered on it is also
   * served here: the routes stay declared in one place.
   */
  function recordRoutes(router: ConnectRouter): ConnectRouter {
    return {
      handlers: router.handlers,
      service(service, impl, serviceOptions) {
        for (const spec of Object.values(createServiceImplSpec(service, impl).methods)) {
          if (spec.kind === "unary") methods.set(`/${service.typeName}/${spec.method.name}`, spec);
        }
        return router.service(service, impl, serviceOptions);
      },
      rpc(method, impl, rpcOptions) {
        return router.rpc(method, impl, rpcOptions);
      },
    };
  }

  /** Serves the stream and returns true if it is a call this path takes; false leaves it untouched. */
  function claim(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
    if (headers[":method"] !== "POST") return false;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const spec = methods.get(headers[":path"] ?? "");
    if (spec === undefined) return false;
    serve(stream, headers, spec);
    return true;
  }

  function serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, spec: UnarySpec): void {
    const chunks: Buffer[] = [];
    let received = 0;
    const call = new FastCall(stream);

    const answerError = (error: ConnectError) => {
      if (call.answered || stream.destroyed || stream.closed) return;
      call.answered = true;
      const status = setTrailerStatus(new Headers(), error);
      stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, ...headersObject(status) }, { endStream: true });
    };

    stream.on("error", () => {
      // A reset by the client: the call's signal aborts through "close".
    });
    stream.on("data", (chunk: Buffer) => {
      if (call.answered) return;
      received += chunk.length;
      if (received > options.readMaxBytes + 5) {
        answerError(new ConnectError(`message size is larger than configured readMaxBytes ${options.readMaxBytes}`, Code.ResourceExhausted));
        return;
      }
      chunks.push(chunk);
    });
    stream.on("end", () => {
      if (!call.answered) void run(Buffer.concat(chunks, received));
    });

    const run = async (body: Buffer) => {
      const timeout = parseTimeout(typeof headers["grpc-timeout"] === "string" ? headers["grpc-timeout"] : null, maxTimeoutMs);
      const deadline = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
      // The deadline answers the caller at once; work already handed to the
      // store still completes (it is idempotent on request_id).
      const deadlineTimer =
        timeout.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
              answerError(error);
              call.abort(error);
            }, timeout.timeoutMs);
      try {
        if (timeout.error !== undefined) throw timeout.error;
        const request: UnaryRequest = {
          stream: false,
          message: parseInput(spec, body, options.readMaxBytes),
          method: spec.method,
          service: spec.method.parent,
          requestMethod: "POST",
          url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
          header: new Http2RequestHeaders(headers),
          contextValues: createContextValues(),
          get signal() {
            return call.signal;
          },
        };
        let produced: UnaryResponse | undefined;
        const handle = async (request: UnaryRequest): Promise<UnaryResponse> => {
          const context: HandlerContext = {
            service: request.service,
            method: spec.method,
            protocolName: "grpc",
            requestMethod: request.requestMethod,
            url: request.url,
            timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
            requestHeader: request.header,
            values: request.contextValues,
            get signal() {
              return request.signal;
            },
            get responseHeader() {
              return call.responseHeader;
            },
            get responseTrailer() {
              return call.responseTrailer;
            },
          };
          const output = await spec.impl(request.message, context);
          produced = {
            stream: false,
            message: isMessage(output, spec.method.output) ? output : create(spec.method.output, output),
            method: spec.method,
            service: spec.method.parent,
            get header() {
              return call.responseHeader;
            },
            get trailer() {
              return call.responseTrailer;
            },
          };
          return produced;
        };
        let next = handle as Parameters<Interceptor>[0];
        for (let index = options.interceptors.length - 1; index >= 0; index--) next = options.interceptors[index]!(next);
        const response = (await next(request)) as UnaryResponse;
        const message = (encoders.get(spec.method.output) ?? toBinary)(spec.method.output, response.message);
        if (message.length > options.writeMaxBytes) {
          throw new ConnectError(`message size ${message.length} is larger than configured writeMaxBytes ${options.writeMaxBytes}`, Code.ResourceExhausted);
        }
        if (call.answered || stream.destroyed || stream.closed) return;
        call.answered = true;
        const frame = Buffer.allocUnsafe(5 + message.length);
        frame[0] = 0;
        frame.writeUInt32BE(message.length, 1);
        frame.set(message, 5);
        // An interceptor may answer with metadata of its own rather than the call's.
        const [header, trailer] = response === produced ? [call.sentHeader(), call.sentTrailer()] : [response.header, response.trailer];
        stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, ...headersObject(header) }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", ...headersObject(trailer) }));
        stream.end(frame);
      } catch (error) {
        answerError(error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error));
      } finally {
        clearTimeout(deadlineTimer);
      }
    };
  }

  return { recordRoutes, claim };
}

/** The request message: the one length-prefixed, uncompressed message of the body, decoded. */
function parseInput(spec: UnarySpec, body: Buffer, readMaxBytes: number) {
  const bytes = singleMessage(body, readMaxBytes);
  try {
    return fromBinary(spec.method.input, bytes);
  } catch (error) {
    // INTERNAL, as connect-node answers every other binary call and as gRPC's
    // status code table prescribes for "error parsing request proto".
    throw new ConnectError(`parse binary: ${error instanceof Error ? error.message : String(error)}`, Code.Internal);
  }
}

/**
 * The one length-prefixed, uncompressed message of a unary gRPC request,
 * refused with the codes connect-node gives (gRPC's status table): a length
 * over the limit is RESOURCE_EXHAUSTED, a short envelope INVALID_ARGUMENT, no
 * message or a second one UNIMPLEMENTED (a cardinality violation).
 */
function singleMessage(body: Buffer, readMaxBytes: number): Uint8Array {
  if (body.length < 5) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if ((body[0]! & 0x01) === 0x01) {
    throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) {
    throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
  }
  if (body.length < 5 + length) {
    throw new ConnectError(`protocol error: promised ${length} bytes in enveloped message, got ${body.length - 5} bytes`, Code.InvalidArgument);
  }
  if (body.length > 5 + length) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  return body.subarray(5);
}

function headersObject(headers: Headers | undefined): Record<string, string> {
  const object: Record<string, string> = {};
  headers?.forEach((value, name) => {
    object[name] = value;
  });
  return object;
}

/**
 * One call's state: whether it has been answered, and what it makes only on
 * first use — an AbortController cost about as much as the rest of the
 * context, and most calls never read the signal or set response metadata.
 */
class FastCall {
  answered = false;
  #controller: AbortController | undefined;
  #header: Headers | undefined;
  #trailer: Headers | undefined;

  constructor(private readonly stream: ServerHttp2Stream) {}

  /** Aborts when the client goes away before the answer, or the deadline passes. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const cancel = () => {
        if (!this.answered) this.abort(new ConnectError("the client cancelled the call", Code.Canceled));
      };
      if (this.stream.closed) cancel();
      else this.stream.once("close", cancel);
    }
    return this.#controller.signal;
  }

  abort(reason: ConnectError): void {
    this.#controller?.abort(reason);
  }

  get responseHeader(): Headers {
    return (this.#header ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#trailer ??= new Headers());
  }

  /** The response headers the call set, if any (undefined if it never looked). */
  sentHeader(): Headers | undefined {
    return this.#header;
  }

  sentTrailer(): Headers | undefined {
    return this.#trailer;
  }
}

/**
 * The request headers of an HTTP/2 stream as a Fetch `Headers`, read from
 * node's header object as they are asked for (pseudo-headers left out,
 * repeated values joined with ", "). Building an undici Headers for every
 * call cost as much as decoding its message; one is built here only if the
 * headers are changed or iterated.
 */
export class Http2RequestHeaders implements Headers {
  #headers: Headers | undefined;

  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    if (this.#headers !== undefined) return this.#headers.get(name);
    const key = name.toLowerCase();
    if (key.startsWith(":")) return null;
    const value = this.raw[key];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : value;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  getSetCookie(): string[] {
    return this.#materialized().getSetCookie();
  }

  append(name: string, value: string): void {
    this.#materialized().append(name, value);
  }

  set(name: string, value: string): void {
    this.#materialized().set(name, value);
  }

  delete(name: string): void {
    this.#materialized().delete(name);
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    this.#materialized().forEach((value, name) => callback.call(thisArg, value, name, this));
  }

  entries(): HeadersIterator<[string, string]> {
    return this.#materialized().entries();
  }

  keys(): HeadersIterator<string> {
    return this.#materialized().keys();
  }

  values(): HeadersIterator<string> {
    return this.#materialized().values();
  }

  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.#materialized()[Symbol.iterator]();
  }

  #materialized(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (const name in this.raw) {
        const value = this.raw[name];
        if (name.startsWith(":") || value === undefined) continue;
        headers.append(name, Array.isArray(value) ? value.join(", ") : value);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
}
