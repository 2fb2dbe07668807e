import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { create, type DescMessage, type DescMethod, type DescService, fromBinary, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextValues,
  createMethodImplSpec,
  createServiceImplSpec,
  encodeBinaryHeader,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { ABORT_LISTENER, type AbortListener, grpcTimeoutMs } from "./interceptors/call-end.js";

/** Options of the gRPC unary fast path. */
export interface GrpcUnaryFastPathOptions {
  /** The very interceptors connect-node runs for every other call, outermost first. Required. */
  interceptors: Interceptor[];
  /** Largest request message in bytes. Required. */
  readMaxBytes: number;
  /** Largest response message in bytes. Required. */
  writeMaxBytes: number;
}

type UnarySpec = MethodImplSpec & { kind: "unary" };
type UnaryNext = (request: UnaryRequest) => Promise<UnaryResponse>;

interface CallSettings {
  readMaxBytes: number;
  writeMaxBytes: number;
  interceptors: Interceptor[];
}

const RESPONSE_CONTENT_TYPE = "application/grpc+proto";

/**
 * Serves unary gRPC calls (protobuf, uncompressed: what every stub sends)
 * straight from Node's HTTP/2 request and response, without connect-node's
 * generic streaming pipeline, which costs most of a call's CPU. It is an
 * optimisation with the framework's contract: every call passes the same
 * interceptors in the same order as connect-node applies them (applied per
 * call, as connect-node does), the same service implementations answer, messages are encoded and
 * decoded by protobuf-es (so every field of the contract is carried by
 * construction), and statuses are written as connect-node writes them
 * (`grpcStatusTrailer`, pinned to connect-node's answers by the e2e tests).
 * What a call rarely uses is made on first use: its abort signal (for
 * calls no interceptor asks it of), its response metadata, a Fetch Headers
 * of its request headers. Everything else
 * — streaming RPCs, compressed or JSON gRPC, gRPC-Web, Connect — is left to
 * connect-node: `claim` returns false for it. `--no-grpc-fast-path` turns it off.
 *
 * Only public APIs of connect and protobuf-es are used: connect's own gRPC
 * helpers (`@connectrpc/connect/protocol-grpc`) are marked internal, so the
 * two small pieces of the gRPC protocol this needs (the grpc-timeout header
 * and the status trailer) are written below from the gRPC specification.
 */
export function createGrpcUnaryFastPath(options: GrpcUnaryFastPathOptions) {
  const methods = new Map<string, UnarySpec>();
  const settings: CallSettings = { readMaxBytes: options.readMaxBytes, writeMaxBytes: options.writeMaxBytes, interceptors: options.interceptors };

  /**
   * Wraps a router so that every unary method registered on it (by service
   * or one rpc at a time) is also served here: the routes stay declared in
   * one place.
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
        const spec = createMethodImplSpec(method, impl);
        if (spec.kind === "unary") methods.set(`/${method.parent.typeName}/${method.name}`, spec);
        return router.rpc(method, impl, rpcOptions);
      },
    };
  }

  /** Serves the request and returns true if it is a call this path takes; false leaves it untouched. */
  function claim(request: Http2ServerRequest, response: Http2ServerResponse): boolean {
    const { headers } = request;
    if (request.method !== "POST") return false;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const spec = methods.get(request.url);
    if (spec === undefined) return false;
    const call = new FastUnaryCall(request, response, spec, settings);
    request.on("data", (chunk: Buffer) => call.receive(chunk));
    request.on("end", () => call.start());
    return true;
  }

  return { recordRoutes, claim };
}

/** Headers the gRPC protocol owns: an error's metadata never overrides them. */
const PROTOCOL_HEADERS = new Set(["content-type", "grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding", "grpc-accept-encoding", "grpc-timeout", "te"]);

/**
 * The status of a failed call as gRPC trailers: `grpc-status`, the
 * percent-encoded `grpc-message`, and the error details as a google.rpc.Status
 * in `grpc-status-details-bin` (unpadded base64), after the error's own
 * metadata — what connect-node sends for the same error.
 */
export function grpcStatusTrailer(error: ConnectError): Record<string, string> {
  const trailer: Record<string, string> = {};
  error.metadata.forEach((value, name) => {
    if (!PROTOCOL_HEADERS.has(name)) trailer[name] = value;
  });
  trailer["grpc-status"] = String(error.code);
  trailer["grpc-message"] = encodeURIComponent(error.rawMessage);
  if (error.details.length > 0) {
    const status = create(StatusSchema, {
      code: error.code,
      message: error.rawMessage,
      details: error.details.map((detail) =>
        "desc" in detail ? anyPack(detail.desc, create(detail.desc, detail.value)) : { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value },
      ),
    });
    trailer["grpc-status-details-bin"] = encodeBinaryHeader(status, StatusSchema);
  }
  return trailer;
}

/** The request message: the one length-prefixed, uncompressed message of the body, decoded by protobuf-es. */
function parseInput(input: DescMessage, body: Buffer, readMaxBytes: number): MessageShape<DescMessage> {
  const bytes = singleMessage(body, readMaxBytes);
  try {
    return fromBinary(input, bytes);
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

function addHeaders(target: OutgoingHttpHeaders, headers: Headers): OutgoingHttpHeaders {
  headers.forEach((value, name) => {
    target[name] = value;
  });
  return target;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * One unary call on its HTTP/2 stream: reads the request, runs the
 * interceptors and the implementation, answers. What a call rarely uses is
 * made on first use: its AbortController (which cost as much as the rest of
 * the context; the call limits hear of every call's abort through
 * listenForAbort, a plain list, instead) and its response metadata.
 */
class FastUnaryCall {
  answered = false;
  readonly responseHeader = new LazyHeaders();
  readonly responseTrailer = new LazyHeaders();
  #chunks: Buffer[] = [];
  #received = 0;
  #controller: AbortController | undefined;
  #abortListeners: ((reason: unknown) => void)[] | undefined;
  #abortReason: ConnectError | undefined;
  #watchingClose = false;
  #deadline: number | undefined;

  constructor(
    private readonly request: Http2ServerRequest,
    private readonly response: Http2ServerResponse,
    private readonly spec: UnarySpec,
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
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
      else this.watchClose();
    }
    return this.#controller.signal;
  }

  /** What the signal tells, without making one (ABORT_LISTENER in interceptors/call-end.ts). */
  listenForAbort(listener: (reason: unknown) => void): () => void {
    if (this.#abortReason !== undefined) {
      listener(this.#abortReason);
      return () => {};
    }
    (this.#abortListeners ??= []).push(listener);
    this.watchClose();
    return () => {
      const index = this.#abortListeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.#abortListeners!.splice(index, 1);
    };
  }

  private watchClose(): void {
    if (this.#watchingClose) return;
    this.#watchingClose = true;
    if (this.response.stream.closed) this.cancel();
    else this.response.once("close", () => this.cancel());
  }

  private abort(reason: ConnectError): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#abortListeners ?? [];
    this.#abortListeners = undefined;
    for (const listener of listeners) listener(reason);
  }

  timeoutMs(): number | undefined {
    return this.#deadline === undefined ? undefined : this.#deadline - Date.now();
  }

  private cancel(): void {
    if (!this.answered) this.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  }

  /** The deadline answers the caller at once; work already handed to the store still completes (it is idempotent on request_id). */
  private expire(): void {
    const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    this.answerError(error);
    this.abort(error);
  }

  /** An answer without a message: the call's response metadata, then the error's status in the trailers. */
  private answerError(error: ConnectError): void {
    const { response } = this;
    if (this.answered || response.stream.destroyed || response.stream.closed) return;
    this.answered = true;
    response.writeHead(200, addHeaders({ "content-type": RESPONSE_CONTENT_TYPE }, this.responseHeader));
    response.addTrailers(Object.assign(addHeaders({}, this.responseTrailer), grpcStatusTrailer(error)));
    response.end();
  }

  private async run(body: Buffer): Promise<void> {
    const { response, spec, settings } = this;
    const { headers } = this.request;
    let deadlineTimer: NodeJS.Timeout | undefined;
    try {
      // No cap here, as connect-node has none: the call limits cap every unary call (--max-deadline).
      // A malformed grpc-timeout is INVALID_ARGUMENT, as connect-node answers it.
      const timeoutHeader = headers["grpc-timeout"] as string | undefined;
      const timeoutMs = timeoutHeader === undefined ? undefined : grpcTimeoutMs(timeoutHeader);
      if (timeoutHeader !== undefined && timeoutMs === undefined) {
        throw new ConnectError(`protocol error: invalid grpc timeout value: ${timeoutHeader}`, Code.InvalidArgument);
      }
      if (timeoutMs !== undefined) {
        this.#deadline = Date.now() + timeoutMs;
        deadlineTimer = setTimeout(() => this.expire(), timeoutMs);
      }
      // A literal (not a class) so an interceptor may spread it; its signal
      // stays lazy through the getter, and interceptors that only need to hear
      // of an abort use ABORT_LISTENER instead.
      const call = this;
      const unaryRequest: UnaryRequest & { [ABORT_LISTENER]: AbortListener } = {
        stream: false,
        message: parseInput(spec.method.input, body, settings.readMaxBytes),
        method: spec.method,
        service: spec.method.parent,
        requestMethod: "POST",
        url: `http://${headers[":authority"] ?? "localhost"}${this.request.url}`,
        header: new LazyHeaders(headers),
        contextValues: createContextValues(),
        get signal() {
          return call.signal;
        },
        [ABORT_LISTENER]: (listener) => call.listenForAbort(listener),
      };
      // The chain is applied per call, innermost first, as connect-node applies it.
      let next: UnaryNext = (intercepted) => this.handle(intercepted);
      const { interceptors } = settings;
      for (let index = interceptors.length - 1; index >= 0; index--) next = interceptors[index]!(next as Parameters<Interceptor>[0]) as UnaryNext;
      const answer = await next(unaryRequest);
      const message = toBinary(spec.method.output, answer.message);
      if (message.length > settings.writeMaxBytes) {
        throw new ConnectError(`message size ${message.length} is larger than configured writeMaxBytes ${settings.writeMaxBytes}`, Code.ResourceExhausted);
      }
      if (this.answered || response.stream.destroyed || response.stream.closed) return;
      this.answered = true;
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      // The answer's metadata: the call's own, or what an interceptor answered with instead.
      response.writeHead(200, addHeaders({ "content-type": RESPONSE_CONTENT_TYPE }, answer.header));
      response.addTrailers(addHeaders({ "grpc-status": "0" }, answer.trailer));
      response.end(frame);
    } catch (error) {
      this.answerError(error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error));
    } finally {
      clearTimeout(deadlineTimer);
    }
  }

  /** The implementation, innermost in the interceptor chain. */
  async handle(request: UnaryRequest): Promise<UnaryResponse> {
    const { spec } = this;
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
