import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { LISTENER_DEFAULTS, SERVE_DEFAULTS } from "../config.js";

/**
 * Serves both HTTP versions from one request handler. The connect-node adapter
 * has this shape, so gRPC (which needs HTTP/2) and Connect or gRPC-web over
 * HTTP/1.1 (curl, browsers, proxies) all reach the same routes.
 */
export type HttpRequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * Limits of the one-port listener. Node's own defaults are tuned for
 * long-polling web servers; a metering API with small requests wants tighter
 * ones, and naming them here keeps them visible and testable.
 */
export interface OnePortListenerOptions {
  /**
   * Serves every request of either HTTP version, usually the connect-node
   * adapter. Required; there is no default.
   */
  handler: HttpRequestHandler;
  /**
   * Largest request header block in bytes: HTTP/1.1's maxHeaderSize and
   * HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE. Default: --max-header-bytes's (src/config.ts).
   */
  maxHeaderSize?: number;
  /**
   * HTTP/1.1: milliseconds a client may take to send a request's complete
   * header block, which bounds slowloris-style connections. Default: --headers-timeout's.
   */
  headersTimeout?: number;
  /**
   * Milliseconds a client may take to send a whole request, body included:
   * HTTP/1.1 requests, and HTTP/2 streams except those `keepsRequestOpen`
   * names (an HTTP/2 stream over it is reset with CANCEL). Must not be less
   * than headersTimeout. Default: --request-timeout's.
   */
  requestTimeout?: number;
  /**
   * HTTP/2: whether a request path's request side stays open by design
   * (client- and bidi-streaming RPCs), exempting it from requestTimeout.
   * Default: none is.
   */
  keepsRequestOpen?: (path: string) => boolean;
  /**
   * HTTP/1.1: milliseconds an idle keep-alive connection stays open after its
   * last response. Default: --keep-alive-timeout's.
   */
  keepAliveTimeout?: number;
  /**
   * HTTP/1.1: how often, in milliseconds, headersTimeout and requestTimeout are
   * checked; they are only enforced at this granularity. Default: LISTENER_DEFAULTS (src/config.ts).
   */
  connectionsCheckingInterval?: number;
  /**
   * HTTP/2: megabytes of memory one session may use for buffering before new
   * streams are refused with ENHANCE_YOUR_CALM. Default: --max-session-memory's.
   */
  maxSessionMemory?: number;
  /**
   * HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS, the streams (RPCs, including
   * open health watches) one client connection may have in flight.
   * Default: --max-concurrent-streams's.
   */
  maxConcurrentStreams?: number;
  /**
   * HTTP/2: milliseconds a session may have no open stream before it is sent
   * GOAWAY and closed; clients reconnect transparently. Idle time is counted
   * only while no stream is open, so a quiet health watch keeps its session.
   * Default: --session-idle-timeout's.
   */
  sessionIdleTimeout?: number;
  /**
   * Milliseconds a new connection may take to send enough bytes to tell
   * HTTP/1.1 from HTTP/2; a connection that sends nothing is destroyed after
   * it. Default: LISTENER_DEFAULTS (src/config.ts).
   */
  protocolDetectionTimeout?: number;
  /**
   * Serve TLS on the port: the handshake offers h2 and http/1.1 by ALPN, and
   * with `clientCa` every client must present a certificate it signed.
   * Default: cleartext.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCa?: string | Buffer };
  /**
   * Receives errors of the listening socket after listen() resolved, such as
   * EMFILE when accepting; Node keeps accepting afterwards, so they must not
   * crash the process. Default: writes the error with console.error.
   */
  onListenerError?: (error: Error) => void;
}

/**
 * One TCP port that speaks HTTP/1.1 and cleartext HTTP/2 (prior knowledge).
 * Node's cleartext http2 server cannot fall back to HTTP/1.1, so this front
 * reads each connection's first bytes and hands it to the matching server.
 */
export interface OnePortListener {
  /**
   * Starts accepting connections; resolves with the bound address, so a test
   * can listen on port 0 and learn the port.
   */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Shuts down gracefully: stops accepting, sends GOAWAY to every HTTP/2
   * session, closes idle HTTP/1.1 connections and asks busy ones to close
   * after their response, then destroys whatever is still open after graceMs.
   * Resolves once every connection is closed. Calling it again returns the
   * same promise.
   */
  close(graceMs: number): Promise<void>;
  /**
   * Connections currently open, whatever their state, so a test helper can
   * fail a test that leaves one behind.
   */
  openConnections(): number;
}

/** The two protocols a connection can speak on the shared port. */
export type WireProtocol = "http1" | "http2";

// RFC 9113, section 3.4: every prior-knowledge HTTP/2 client starts with these.
const http2ClientPreface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Tells the protocol of a connection from the bytes received so far, or
 * undefined while they are still a prefix of the HTTP/2 client preface. An
 * HTTP/1.1 request line differs from the preface within its first bytes, so
 * HTTP/1.1 is detected without waiting for more than the client sent.
 */
export function detectProtocol(received: Uint8Array): WireProtocol | undefined {
  const comparable = Math.min(received.length, http2ClientPreface.length);
  for (let i = 0; i < comparable; i++) {
    if (received[i] !== http2ClientPreface[i]) {
      return "http1";
    }
  }
  return received.length >= http2ClientPreface.length ? "http2" : undefined;
}

type Limits = Required<Omit<OnePortListenerOptions, "handler" | "tls" | "keepsRequestOpen">>;

function withDefaults(options: OnePortListenerOptions): Limits {
  return {
    maxHeaderSize: options.maxHeaderSize ?? SERVE_DEFAULTS.maxHeaderBytes,
    headersTimeout: options.headersTimeout ?? SERVE_DEFAULTS.headersTimeout,
    requestTimeout: options.requestTimeout ?? SERVE_DEFAULTS.requestTimeout,
    keepAliveTimeout: options.keepAliveTimeout ?? SERVE_DEFAULTS.keepAliveTimeout,
    connectionsCheckingInterval: options.connectionsCheckingInterval ?? LISTENER_DEFAULTS.connectionsCheckingInterval,
    maxSessionMemory: options.maxSessionMemory ?? SERVE_DEFAULTS.maxSessionMemory,
    maxConcurrentStreams: options.maxConcurrentStreams ?? SERVE_DEFAULTS.maxConcurrentStreams,
    sessionIdleTimeout: options.sessionIdleTimeout ?? SERVE_DEFAULTS.sessionIdleTimeout,
    protocolDetectionTimeout: options.protocolDetectionTimeout ?? LISTENER_DEFAULTS.protocolDetectionTimeout,
    onListenerError: options.onListenerError ?? ((error) => console.error(error)),
  };
}

/**
 * Creates a listener that serves options.handler over HTTP/1.1 and HTTP/2 on
 * one port. Nothing is bound until listen().
 */
export function createOnePortListener(options: OnePortListenerOptions): OnePortListener {
  const limits = withDefaults(options);
  const sockets = new Set<net.Socket>();
  const undecided = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let closing: Promise<void> | undefined;

  const http1Server = http.createServer({
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    connectionsCheckingInterval: limits.connectionsCheckingInterval,
  });
  const http1Responses = new Set<http.ServerResponse>();
  http1Server.on("request", (_req, res) => {
    http1Responses.add(res);
    res.once("close", () => http1Responses.delete(res));
    if (closing !== undefined) {
      endConnectionAfter(res);
    }
  });
  http1Server.on("request", options.handler);

  const http2Server = http2.createServer({
    maxSessionMemory: limits.maxSessionMemory,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderSize,
    },
  });
  // Node's compatibility layer turns each stream into a request and a
  // response (answering CONNECT and Expect itself), as for HTTP/1.1.
  http2Server.on("request", options.handler);
  http2Server.on("session", (session) => trackSession(session));

  // With TLS, a connection is handed on once its handshake is done; ALPN's
  // "h2" goes straight to HTTP/2, anything else is told apart by its first
  // bytes like a cleartext connection.
  const front =
    options.tls === undefined
      ? net.createServer({ noDelay: true }, (socket) => accept(socket))
      : tls.createServer(
          {
            noDelay: true,
            cert: options.tls.cert,
            key: options.tls.key,
            ALPNProtocols: ["h2", "http/1.1"],
            ...(options.tls.clientCa === undefined ? {} : { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true }),
            handshakeTimeout: limits.protocolDetectionTimeout,
          },
          (socket) => accept(socket),
        );
  if (options.tls !== undefined) {
    // A failed handshake (a client without a certificate, a plaintext client) only closes that connection.
    front.on("tlsClientError", (_error, socket) => socket.destroy());
  }

  // During shutdown a busy keep-alive connection should end with its current
  // response rather than idle until the grace period runs out.
  function endConnectionAfter(res: http.ServerResponse): void {
    if (!res.headersSent) {
      res.setHeader("connection", "close");
      return;
    }
    // The response lets go of its socket as it finishes, so hold on to it.
    const socket = res.socket;
    res.once("finish", () => socket?.end());
  }

  function trackSession(session: http2.ServerHttp2Session): void {
    sessions.add(session);
    let openStreams = 0;
    let idleTimer: NodeJS.Timeout | undefined;
    const startIdleTimer = () => {
      idleTimer = setTimeout(() => session.close(), limits.sessionIdleTimeout);
      idleTimer.unref();
    };
    startIdleTimer();
    session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      openStreams++;
      clearTimeout(idleTimer);
      // A request that trickles in holds a stream slot and session memory:
      // bound it like an HTTP/1.1 request, unless the RPC streams by design.
      let requestTimer: NodeJS.Timeout | undefined;
      if (!(options.keepsRequestOpen?.(headers[":path"] ?? "") ?? false)) {
        requestTimer = setTimeout(() => {
          if (!stream.readableEnded && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        }, limits.requestTimeout);
        requestTimer.unref();
      }
      // A response that ends before the request does (connect-node refusing
      // an oversized message stops reading it) would leave the stream
      // half-open until the client gave up, holding a stream slot, session
      // memory and graceful shutdown. Once the trailers are out, reset it
      // with NO_ERROR, as RFC 9113 section 8.1 allows.
      stream.once("wantTrailers", () => {
        if (stream.readableEnded) return;
        setImmediate(() => {
          if (stream.closed || stream.readableEnded) return;
          stream.close(http2.constants.NGHTTP2_NO_ERROR);
          stream.removeAllListeners("data");
          stream.resume();
        });
      });
      stream.once("close", () => {
        clearTimeout(requestTimer);
        openStreams--;
        if (openStreams === 0 && !session.closed) {
          startIdleTimer();
        }
      });
    });
    session.once("close", () => {
      clearTimeout(idleTimer);
      sessions.delete(session);
    });
    if (closing !== undefined) {
      session.close();
    }
  }

  function accept(socket: net.Socket): void {
    if (closing !== undefined) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if ((socket as tls.TLSSocket).alpnProtocol === "h2") {
      http2Server.emit("connection", socket);
      return;
    }
    undecided.add(socket);

    let received: Buffer = Buffer.alloc(0);
    const detectionTimer = setTimeout(() => socket.destroy(), limits.protocolDetectionTimeout);
    const stopDetecting = () => {
      clearTimeout(detectionTimer);
      undecided.delete(socket);
      socket.off("data", onData);
      socket.off("end", onEndBeforeDecision);
      socket.off("error", onErrorBeforeDecision);
      socket.off("close", stopDetecting);
    };
    // Bytes go back into the socket only once the protocol is known: an
    // unshifted prefix would be emitted again at once, a busy loop.
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const protocol = detectProtocol(received);
      if (protocol === undefined) {
        return;
      }
      stopDetecting();
      socket.pause();
      socket.unshift(received);
      if (protocol === "http2") {
        // The HTTP/2 session hands bytes already buffered on the socket to
        // its native parser itself.
        http2Server.emit("connection", socket);
      } else {
        // The HTTP/1.1 parser reads new bytes straight from the socket's
        // handle and would never see the buffered ones; flowing the socket
        // delivers them through its "data" listener first (on the next tick,
        // before any later read).
        http1Server.emit("connection", socket);
        socket.resume();
      }
    };
    const onEndBeforeDecision = () => socket.destroy();
    const onErrorBeforeDecision = () => socket.destroy();
    socket.on("data", onData);
    socket.once("end", onEndBeforeDecision);
    socket.once("error", onErrorBeforeDecision);
    socket.once("close", stopDetecting);
  }

  let frontClosed = false;
  let settleClose: (() => void) | undefined;
  const settleIfDrained = () => {
    if (frontClosed && sockets.size === 0) {
      settleClose?.();
    }
  };

  return {
    listen(port, host) {
      return new Promise<AddressInfo>((resolve, reject) => {
        front.once("error", reject);
        front.listen(port, host, () => {
          front.off("error", reject);
          front.on("error", limits.onListenerError);
          // The HTTP/1.1 server never binds, but only starts tracking its
          // connections once it sees "listening": before that it enforces
          // neither headersTimeout nor requestTimeout, and
          // closeIdleConnections() finds nothing to close.
          http1Server.emit("listening");
          resolve(front.address() as AddressInfo);
        });
      });
    },

    close(graceMs) {
      if (closing !== undefined) {
        return closing;
      }
      closing = new Promise<void>((resolve) => {
        let graceTimer: NodeJS.Timeout | undefined;
        settleClose = () => {
          clearTimeout(graceTimer);
          resolve();
        };
        front.close(() => {
          frontClosed = true;
          settleIfDrained();
        });
        for (const socket of undecided) {
          socket.destroy();
        }
        for (const session of sessions) {
          session.close();
        }
        for (const res of http1Responses) {
          endConnectionAfter(res);
        }
        // Closing the never-bound HTTP/1.1 server only stops its timeout
        // checks, whose interval would otherwise outlive the listener.
        http1Server.close();
        http1Server.closeIdleConnections();
        graceTimer = setTimeout(() => {
          for (const session of sessions) {
            session.destroy();
          }
          for (const socket of sockets) {
            socket.destroy();
          }
        }, graceMs);
        for (const socket of sockets) {
          socket.once("close", settleIfDrained);
        }
      });
      return closing;
    },

    openConnections() {
      return sockets.size;
    },
  };
}
