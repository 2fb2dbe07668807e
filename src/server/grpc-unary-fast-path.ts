import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, type DescMessage, type DescMethod, type DescService, fromBinary, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextKey,
  type ContextValues,
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
  /**
   * Encoders that replace protobuf-es's reflective toBinary for the responses
   * of the hottest methods; each must produce toBinary's very bytes. Default none.
   */
  encoders?: ResponseEncoder[];
  /**
   * Decoders that replace protobuf-es's reflective fromBinary for the
   * requests of the hottest methods; each must yield (or throw) exactly what
   * fromBinary does. Default none.
   */
  decoders?: RequestDecoder[];
}

/** A specialised encoder of one response message. */
export interface ResponseEncoder<Desc extends DescMessage = DescMessage> {
  schema: Desc;
  encode(message: MessageShape<Desc>): Uint8Array;
}

/** A specialised decoder of one request message. */
export interface RequestDecoder<Desc extends DescMessage = DescMessage> {
  schema: Desc;
  decode(bytes: Uint8Array): MessageShape<Desc>;
}

type UnarySpec = MethodImplSpec & { kind: "unary" };

/**
 * A unary method this path serves, with the codecs of its messages and its
 * interceptor chain, made once when it is routed rather than on every call.
 */
interface FastMethod {
  spec: UnarySpec;
  decode(bytes: Uint8Array): MessageShape<DescMessage>;
  encode(message: MessageShape<DescMessage>): Uint8Array;
  /** The interceptors around the implementation, outermost first. */
  invoke(request: UnaryRequest): Promise<UnaryResponse>;
}

interface CallSettings {
  readMaxBytes: number;
  writeMaxBytes: number;
}

const RESPONSE_CONTENT_TYPE = "application/grpc+proto";

/**
 * Serves unary gRPC calls (protobuf, uncompressed: what every stub sends)
 * straight on the HTTP/2 stream, without connect-node's generic streaming
 * pipeline, which costs most of a call's CPU. It runs the very same service
 * implementations inside the very same interceptors (outermost first, as
 * connect-node runs them, but applied once per method rather than once per
 * call: every interceptor of Tally's keeps a call's state inside the
 * function it returns), and writes statuses with connect's own
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
  const methods = new Map<string, FastMethod>();
  const settings: CallSettings = { readMaxBytes: options.readMaxBytes, writeMaxBytes: options.writeMaxBytes };

  /**
   * The method with its own codecs where it has them (protobuf-es's
   * reflective ones otherwise), and the interceptors applied once around an
   * implementation that finds each call through the request's context values.
   */
  function fastMethod(spec: UnarySpec): FastMethod {
    const { input, output } = spec.method;
    const decoder = options.decoders?.find((candidate) => candidate.schema === input);
    const encoder = options.encoders?.find((candidate) => candidate.schema === output);
    let invoke = ((request: UnaryRequest) => FastContextValues.callOf(request).handle(request)) as Parameters<Interceptor>[0];
    for (let index = options.interceptors.length - 1; index >= 0; index--) invoke = options.interceptors[index]!(invoke);
    return {
      spec,
      decode: decoder === undefined ? (bytes) => fromBinary(input, bytes) : (bytes) => decoder.decode(bytes),
      encode: encoder === undefined ? (message) => toBinary(output, message) : (message) => encoder.encode(message),
      invoke: invoke as FastMethod["invoke"],
    };
  }

  /**
   * Wraps a router so that every unary method registered on it is also
   * served here: the routes stay declared in one place.
   */
  function recordRoutes(router: ConnectRouter): ConnectRouter {
    return {
      handlers: router.handlers,
      service(service, impl, serviceOptions) {
        for (const spec of Object.values(createServiceImplSpec(service, impl).methods)) {
          if (spec.kind === "unary") methods.set(`/${service.typeName}/${spec.method.name}`, fastMethod(spec));
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
    const method = methods.get(headers[":path"] ?? "");
    if (method === undefined) return false;
    const call = new FastUnaryCall(stream, headers, method, settings);
    // Anonymous arrows and methods only on this path: tsx keeps function
    // names by wrapping every named closure, which costs ~0.5 µs each.
    stream.on("error", () => {
      // A reset by the client: the call's signal aborts through "close".
    });
    stream.on("data", (chunk: Buffer) => call.receive(chunk));
    stream.on("end", () => call.start());
    return true;
  }

  return { recordRoutes, claim };
}

/** The request message: the one length-prefixed, uncompressed message of the body, decoded. */
function parseInput(method: FastMethod, body: Buffer, readMaxBytes: number) {
  const bytes = singleMessage(body, readMaxBytes);
  try {
    return method.decode(bytes);
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

function headersObject(headers: Headers): Record<string, string> {
  const object: Record<string, string> = {};
  headers.forEach((value, name) => {
    object[name] = value;
  });
  return object;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * One unary call on its HTTP/2 stream: reads the request, runs the
 * interceptors and the implementation, answers. What a call rarely uses is
 * made on first use: its AbortController (which cost as much as the rest of
 * the context) and its response metadata.
 */
class FastUnaryCall {
  answered = false;
  readonly responseHeader = new LazyHeaders();
  readonly responseTrailer = new LazyHeaders();
  #chunks: Buffer[] = [];
  #received = 0;
  #controller: AbortController | undefined;
  #deadline: number | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly method: FastMethod,
    private readonly settings: CallSettings,
  ) {}

  receive(chunk: Buffer): void {
    if (this.answered) return;
    this.#received += chunk.length;
    if (this.#received > this.settings.readMaxBytes + 5) {
      this.answerError(new ConnectError(`message size is larger than configured readMaxBytes ${this.settings.readMaxBytes}`, Code.ResourceExhausted));
      return;
    }
    this.#chunks.push(chunk);
  }

  start(): void {
    if (!this.answered) void this.run(this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#received));
  }

  /** Aborts when the client goes away before the answer, or the deadline passes. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.stream.closed) this.cancel();
      else this.stream.once("close", () => this.cancel());
    }
    return this.#controller.signal;
  }

  timeoutMs(): number | undefined {
    return this.#deadline === undefined ? undefined : this.#deadline - Date.now();
  }

  private cancel(): void {
    if (!this.answered) this.#controller?.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  }

  /** The deadline answers the caller at once; work already handed to the store still completes (it is idempotent on request_id). */
  private expire(): void {
    const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    this.answerError(error);
    this.#controller?.abort(error);
  }

  private answerError(error: ConnectError): void {
    const { stream } = this;
    if (this.answered || stream.destroyed || stream.closed) return;
    this.answered = true;
    const status = setTrailerStatus(new Headers(), error);
    stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, ...headersObject(status) }, { endStream: true });
  }

  private async run(body: Buffer): Promise<void> {
    const { stream, headers, method, settings } = this;
    const { spec } = method;
    // No cap here, as connect-node has none: the call limits cap every unary call (--max-deadline).
    const timeout = parseTimeout(typeof headers["grpc-timeout"] === "string" ? headers["grpc-timeout"] : null, Number.MAX_SAFE_INTEGER);
    let deadlineTimer: NodeJS.Timeout | undefined;
    if (timeout.timeoutMs !== undefined) {
      this.#deadline = Date.now() + timeout.timeoutMs;
      deadlineTimer = setTimeout(() => this.expire(), timeout.timeoutMs);
    }
    try {
      if (timeout.error !== undefined) throw timeout.error;
      // A literal (not a class) so an interceptor may spread it; its signal
      // stays lazy through the getter.
      const call = this;
      const request: UnaryRequest = {
        stream: false,
        message: parseInput(method, body, settings.readMaxBytes),
        method: spec.method,
        service: spec.method.parent,
        requestMethod: "POST",
        url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
        header: new LazyHeaders(headers),
        contextValues: new FastContextValues(this),
        get signal() {
          return call.signal;
        },
      };
      const response = await method.invoke(request);
      const message = method.encode(response.message);
      if (message.length > settings.writeMaxBytes) {
        throw new ConnectError(`message size ${message.length} is larger than configured writeMaxBytes ${settings.writeMaxBytes}`, Code.ResourceExhausted);
      }
      if (this.answered || stream.destroyed || stream.closed) return;
      this.answered = true;
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      // The response's metadata: the call's own, or what an interceptor answered with instead.
      stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, ...headersObject(response.header) }, { waitForTrailers: true });
      const trailer = response.trailer;
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", ...headersObject(trailer) }));
      stream.end(frame);
    } catch (error) {
      this.answerError(error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error));
    } finally {
      clearTimeout(deadlineTimer);
    }
  }

  /** The implementation, innermost in the interceptor chain. */
  async handle(request: UnaryRequest): Promise<UnaryResponse> {
    const { spec } = this.method;
    const output = await spec.impl(request.message, new FastHandlerContext(this, request));
    return {
      stream: false,
      message: isMessage(output, spec.method.output) ? output : create(spec.method.output, output),
      method: spec.method,
      service: spec.method.parent,
      header: this.responseHeader,
      trailer: this.responseTrailer,
    };
  }
}

/**
 * A call's context values, as connect's createContextValues makes them (a
 * value is a property keyed by its key's symbol) but with its methods on a
 * prototype rather than made for every call. They also take the call to the
 * end of its method's interceptor chain: an interceptor may pass on a new
 * request, but its context values are the call's.
 */
class FastContextValues implements ContextValues {
  readonly #call: FastUnaryCall;

  constructor(call: FastUnaryCall) {
    this.#call = call;
  }

  static callOf(request: UnaryRequest): FastUnaryCall {
    const values = request.contextValues;
    if (!(values instanceof FastContextValues)) throw new ConnectError("an interceptor replaced the call's context values", Code.Internal);
    return values.#call;
  }

  get<T>(key: ContextKey<T>): T {
    return key.id in this ? (this as unknown as Record<symbol, T>)[key.id]! : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

/** The context an implementation gets, as connect-node builds it from the (possibly intercepted) request. */
class FastHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName = "grpc";
  readonly requestMethod: string;
  readonly url: string;
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
  readonly timeoutMs: () => number | undefined;

  constructor(
    call: FastUnaryCall,
    private readonly request: UnaryRequest,
  ) {
    this.method = request.method;
    this.service = request.service;
    this.requestMethod = request.requestMethod;
    this.url = request.url;
    this.requestHeader = request.header;
    this.responseHeader = call.responseHeader;
    this.responseTrailer = call.responseTrailer;
    this.values = request.contextValues;
    this.timeoutMs = () => call.timeoutMs();
  }

  get signal(): AbortSignal {
    return this.request.signal;
  }
}

/**
 * A Fetch `Headers` that costs nothing until it is used: request headers are
 * read from node's header object as they are asked for (pseudo-headers left
 * out, repeated values joined with ", "), and an undici Headers is built only
 * when they are changed. Building one for every call's request, response and
 * trailers cost as much as decoding its message.
 */
class LazyHeaders implements Headers {
  #headers: Headers | undefined;

  constructor(private readonly raw: IncomingHttpHeaders = {}) {}

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
    if (this.#headers === undefined && isEmpty(this.raw)) return;
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
