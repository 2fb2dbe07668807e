import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createServiceImplSpec,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
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
}

type UnarySpec = MethodImplSpec & { kind: "unary" };

const RESPONSE_CONTENT_TYPE = "application/grpc+proto";

/**
 * Serves unary gRPC calls (protobuf, uncompressed: what every stub sends)
 * straight on the HTTP/2 stream, without connect-node's generic streaming
 * pipeline, which costs most of a call's CPU. It runs the very same service
 * implementations and the very same interceptors, through connect's own
 * `invokeUnaryImplementation`, and writes statuses with connect's own
 * `setTrailerStatus`, so codes, messages and error details are byte-for-byte
 * what connect-node sends. Everything else — streaming RPCs, compressed or
 * JSON gRPC, gRPC-Web, Connect — is left to connect-node: `claim` returns
 * false for it.
 *
 * `invokeUnaryImplementation` is marked internal by connect-es; connect is
 * pinned to an exact version (2.1.2) and every protocol test runs through
 * this path, so an upgrade that changes it fails loudly.
 */
export function createGrpcUnaryFastPath(options: GrpcUnaryFastPathOptions) {
  const methods = new Map<string, UnarySpec>();
  const maxTimeoutMs = options.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;

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
    let answered = false;

    const answerError = (error: ConnectError) => {
      if (answered || stream.destroyed || stream.closed) return;
      answered = true;
      const status = setTrailerStatus(new Headers(), error);
      stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, ...headersObject(status) }, { endStream: true });
    };

    stream.on("error", () => {
      // A reset by the client: the call's signal aborts through "close".
    });
    stream.on("data", (chunk: Buffer) => {
      if (answered) return;
      received += chunk.length;
      if (received > options.readMaxBytes + 5) {
        answerError(new ConnectError(`message size is larger than configured readMaxBytes ${options.readMaxBytes}`, Code.ResourceExhausted));
        return;
      }
      chunks.push(chunk);
    });
    stream.on("end", () => {
      if (!answered) void run(Buffer.concat(chunks, received));
    });

    const run = async (body: Buffer) => {
      // A plain HandlerContext rather than connect's createHandlerContext:
      // its linked abort controllers, deadline signal and the ConnectError
      // raised on completion cost more than the rest of a call. The signal
      // aborts only when the client goes away or the deadline passes.
      const aborted = new AbortController();
      stream.once("close", () => {
        if (!answered) aborted.abort(new ConnectError("the client cancelled the call", Code.Canceled));
      });
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
              aborted.abort(error);
            }, timeout.timeoutMs);
      const requestHeader: Record<string, string> = {};
      for (const name in headers) {
        const value = headers[name];
        if (name.startsWith(":") || value === undefined) continue;
        requestHeader[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const context: HandlerContext = {
        service: spec.method.parent,
        method: spec.method,
        protocolName: "grpc",
        requestMethod: "POST",
        url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
        timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
        requestHeader: new Headers(requestHeader),
        responseHeader: new Headers({ "content-type": RESPONSE_CONTENT_TYPE }),
        responseTrailer: new Headers({ "grpc-status": "0" }),
        values: createContextValues(),
        signal: aborted.signal,
      };
      try {
        if (timeout.error !== undefined) throw timeout.error;
        const input = parseInput(spec, body, options.readMaxBytes);
        const output = await invokeUnaryImplementation(spec, context, input, options.interceptors);
        const message = toBinary(spec.method.output, output);
        if (message.length > options.writeMaxBytes) {
          throw new ConnectError(`message size ${message.length} is larger than configured writeMaxBytes ${options.writeMaxBytes}`, Code.ResourceExhausted);
        }
        if (answered || stream.destroyed || stream.closed) return;
        answered = true;
        const frame = Buffer.allocUnsafe(5 + message.length);
        frame[0] = 0;
        frame.writeUInt32BE(message.length, 1);
        frame.set(message, 5);
        stream.respond({ ":status": 200, ...headersObject(context.responseHeader) }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers(headersObject(context.responseTrailer)));
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

function headersObject(headers: Headers): Record<string, string> {
  const object: Record<string, string> = {};
  headers.forEach((value, name) => {
    object[name] = value;
  });
  return object;
}
