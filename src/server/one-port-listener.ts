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
   * Milliseconds a client may take to send a request's complete header
   * block, which bounds slowloris-style connections: HTTP/1.1 requests, and
   * a new HTTP/2 session's first stream (a session that sends only the
   * preface, or a HEADERS frame it never ends, is destroyed after it).
   * Default: --headers-timeout's.
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
   * only while no stream is open (a stream's own length is the interceptors'
   * concern). Also how long a session whose client sent GOAWAY may take to
   * finish its streams before it is destroyed. Default: --session-idle-timeout's.
   */
  sessionIdleTimeout?: number;
  /**
   * Connections open at once, all peers together; a connection beyond it is
   * closed as soon as it is accepted (and reported to onConnectionRefused).
   * Keep it well below the process's file limit, so the database and the
   * log still get file descriptors. Default: --max-connections's.
   */
  maxConnections?: number;
  /**
   * Connections open at once from one remote IP address; beyond it, as
   * maxConnections. Default: --max-connections-per-peer's.
   */
  maxConnectionsPerPeer?: number;
  /**
   * Milliseconds a connection may hold answer bytes its client does not take
   * (an HTTP/2 flow-control window never opened, a TCP window never read)
   * before it is destroyed: while it holds them, its buffered bytes do not
   * go down. Checked every second. Default: --slow-reader-timeout's.
   */
  slowReaderTimeout?: number;
  /**
   * Told of connections closed at once for a limit: the first of a burst at
   * once, then at most one report a second with how many were refused since
   * the last, so a flood cannot flood the log too. Default: console.warn.
   */
  onConnectionRefused?: (refusal: ConnectionRefusal) => void;
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

/** Connections closed as soon as they were accepted, because a limit was reached. */
export interface ConnectionRefusal {
  /** The limit: "max-connections" (all peers) or "max-connections-per-peer". */
  limit: "max-connections" | "max-connections-per-peer";
  /** The limit's value. */
  max: number;
  /** The remote address of the last connection refused. */
  remoteAddress: string | undefined;
  /** Connections refused for this limit since the last report. */
  refused: number;
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
  /**
   * Answer bytes written on every connection that their clients have not
   * taken yet (HTTP/2 streams' and HTTP/1.1 sockets' write buffers): what
   * slow readers cost in memory. The sum takes a look at every open stream,
   * so a sum at most `maxAgeMs` old is reused. Default maxAgeMs 0 (a fresh sum).
   */
  bufferedResponseBytes(maxAgeMs?: number): number;
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

/** How often connections are checked for slow readers, in ms. */
const SLOW_READER_CHECK_INTERVAL = 1_000;


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
    maxConnections: options.maxConnections ?? SERVE_DEFAULTS.maxConnections,
    maxConnectionsPerPeer: options.maxConnectionsPerPeer ?? SERVE_DEFAULTS.maxConnectionsPerPeer,
    slowReaderTimeout: options.slowReaderTimeout ?? SERVE_DEFAULTS.slowReaderTimeout,
    onConnectionRefused: options.onConnectionRefused ?? ((refusal) => console.warn("connections refused", refusal)),
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
  // What each connection has written that its client has not taken yet, and
  // since when it has taken none: HTTP/2 sessions by their open streams,
  // HTTP/1.1 connections by their socket.
  const sessions = new Map<http2.ServerHttp2Session, Backlog & { streams: Set<http2.ServerHttp2Stream>; socket: net.Socket }>();
  // The socket being handed to the HTTP/2 server, whose "session" event is emitted synchronously.
  let handingOver: net.Socket | undefined;
  const http1Sockets = new Map<net.Socket, Backlog>();
  const peers = new Map<string, number>();
  const reportRefusal = createRefusalReports(limits.onConnectionRefused);
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
  // bytes like a cleartext connection. Either way the limits on connections
  // apply to the TCP connection as it is accepted, before any handshake.
  const front =
    options.tls === undefined
      ? net.createServer({ noDelay: true })
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
  // Node closes connections over maxConnections itself, before any "connection" event.
  front.maxConnections = limits.maxConnections;
  front.on("drop", (dropped?: { remoteAddress?: string }) => reportRefusal("max-connections", limits.maxConnections, dropped?.remoteAddress));
  front.on("connection", (socket: net.Socket) => {
    if (admit(socket) && options.tls === undefined) accept(socket);
  });

  /** Counts the connection against its peer's limit; false (and the socket destroyed) when over it or closing. */
  function admit(socket: net.Socket): boolean {
    const peer = socket.remoteAddress ?? "";
    const open = peers.get(peer) ?? 0;
    if (closing !== undefined || open >= limits.maxConnectionsPerPeer) {
      socket.destroy();
      if (closing === undefined) reportRefusal("max-connections-per-peer", limits.maxConnectionsPerPeer, peer);
      return false;
    }
    peers.set(peer, open + 1);
    socket.once("close", () => {
      const left = (peers.get(peer) ?? 1) - 1;
      if (left === 0) peers.delete(peer);
      else peers.set(peer, left);
    });
    return true;
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
    const streams = new Set<http2.ServerHttp2Stream>();
    const socket = handingOver!;
    sessions.set(session, { streams, socket, ...newBacklog() });
    const destroy = () => destroySession(session, socket);
    // One timer at a time: until the first stream, the headers timeout (a
    // session that sends only the preface, or a header block it never ends,
    // is destroyed); while no stream is open, the idle timeout (GOAWAY and a
    // graceful close); after the client's GOAWAY, the time its streams have.
    let timer: NodeJS.Timeout | undefined;
    const startTimer = (ms: number, action: () => void) => {
      clearTimeout(timer);
      timer = setTimeout(action, ms);
      timer.unref();
    };
    let peerWentAway = false;
    startTimer(limits.headersTimeout, () => destroy());
    // A client that went away is not waited for: once it sent GOAWAY its
    // streams get the idle timeout to finish, and a session with none left
    // is destroyed at once rather than close()d, which would wait for the
    // client to take every byte still queued for it.
    session.once("goaway", () => {
      peerWentAway = true;
      if (streams.size === 0) destroy();
      else startTimer(limits.sessionIdleTimeout, () => destroy());
    });
    session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      streams.add(stream);
      if (!peerWentAway) clearTimeout(timer);
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
        streams.delete(stream);
        if (streams.size > 0 || session.closed || session.destroyed) return;
        if (peerWentAway) destroy();
        else startTimer(limits.sessionIdleTimeout, () => closeSession(session, socket));
      });
    });
    session.once("close", () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
    if (closing !== undefined) {
      session.close();
    }
  }

  /**
   * Sends GOAWAY and closes the session once its streams end; a session
   * still open after the headers timeout (its client not reading, so even
   * GOAWAY cannot leave) is destroyed.
   */
  function closeSession(session: http2.ServerHttp2Session, socket: net.Socket): void {
    session.close();
    const timer = setTimeout(() => destroySession(session, socket), limits.headersTimeout);
    timer.unref();
    session.once("close", () => clearTimeout(timer));
  }

  function accept(socket: net.Socket): void {
    if (closing !== undefined) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if ((socket as tls.TLSSocket).alpnProtocol === "h2") {
      handToHttp2(socket);
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
        handToHttp2(socket);
      } else {
        // The HTTP/1.1 parser reads new bytes straight from the socket's
        // handle and would never see the buffered ones; flowing the socket
        // delivers them through its "data" listener first (on the next tick,
        // before any later read).
        http1Sockets.set(socket, newBacklog());
        socket.once("close", () => http1Sockets.delete(socket));
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

  /**
   * Destroys a session and its socket. Node's session.destroy() alone ends
   * the socket only once the session's queued frames are written, which a
   * client that does not read never lets happen.
   */
  function destroySession(session: http2.ServerHttp2Session, socket: net.Socket): void {
    session.destroy();
    socket.destroy();
  }

  // A client that ended its side of the TCP connection can no longer open a
  // flow-control window or acknowledge anything: its session is over, and
  // the socket is destroyed rather than left waiting to flush to nobody.
  function handToHttp2(socket: net.Socket): void {
    socket.once("end", () => socket.destroy());
    handingOver = socket;
    http2Server.emit("connection", socket);
    handingOver = undefined;
  }

  /**
   * Answer bytes each connection holds for its client; with `now`, also
   * destroys connections stalled past the slow-reader timeout: holding
   * answer bytes, or the end of an answer, that did not go down in that time.
   */
  function sumBacklogs(now?: number): number {
    let total = 0;
    for (const [session, backlog] of sessions) {
      let pending = 0;
      // An answer whose last frame is queued behind a closed window: the stream is ended but not closed.
      let unsentEnds = 0;
      for (const stream of backlog.streams) {
        pending += stream.writableLength;
        if (stream.writableFinished && !stream.closed) unsentEnds++;
      }
      total += pending;
      if (now !== undefined && stalled(backlog, pending + unsentEnds, now, limits.slowReaderTimeout)) destroySession(session, backlog.socket);
    }
    for (const [socket, backlog] of http1Sockets) {
      const pending = socket.writableLength;
      total += pending;
      if (now !== undefined && stalled(backlog, pending, now, limits.slowReaderTimeout)) socket.destroy();
    }
    return total;
  }
  let buffered = { bytes: 0, at: -Infinity };
  const slowReaderCheck = setInterval(() => {
    const now = performance.now();
    buffered = { bytes: sumBacklogs(now), at: now };
  }, SLOW_READER_CHECK_INTERVAL);
  slowReaderCheck.unref();

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
        clearInterval(slowReaderCheck);
        front.close(() => {
          frontClosed = true;
          settleIfDrained();
        });
        for (const socket of undecided) {
          socket.destroy();
        }
        for (const session of sessions.keys()) {
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
          for (const session of sessions.keys()) {
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

    bufferedResponseBytes(maxAgeMs = 0) {
      const now = performance.now();
      if (now - buffered.at > maxAgeMs) buffered = { bytes: sumBacklogs(), at: now };
      return buffered.bytes;
    },
  };
}

/** A connection's unsent answer bytes as last seen, and when they last went down (or were none). */
interface Backlog {
  pending: number;
  progressAt: number;
}

function newBacklog(): Backlog {
  return { pending: 0, progressAt: performance.now() };
}

/**
 * Records the bytes a connection holds now; true once it has held some for
 * `timeoutMs` without their going down in between: its client is not reading.
 */
function stalled(backlog: Backlog, pending: number, now: number, timeoutMs: number): boolean {
  if (pending === 0 || pending < backlog.pending) backlog.progressAt = now;
  backlog.pending = pending;
  return pending > 0 && now - backlog.progressAt >= timeoutMs;
}

/**
 * Reports connection refusals without flooding: for each limit, the first
 * at once, then at most one report a second, with the count since the last.
 */
function createRefusalReports(report: (refusal: ConnectionRefusal) => void) {
  const windows = new Map<ConnectionRefusal["limit"], { pending: ConnectionRefusal | undefined }>();
  const openWindow = (limit: ConnectionRefusal["limit"]) => {
    const window: { pending: ConnectionRefusal | undefined } = { pending: undefined };
    windows.set(limit, window);
    setTimeout(() => {
      windows.delete(limit);
      if (window.pending === undefined) return;
      report(window.pending);
      openWindow(limit);
    }, 1_000).unref();
  };
  return (limit: ConnectionRefusal["limit"], max: number, remoteAddress: string | undefined) => {
    const window = windows.get(limit);
    if (window === undefined) {
      report({ limit, max, remoteAddress, refused: 1 });
      openWindow(limit);
      return;
    }
    window.pending ??= { limit, max, remoteAddress, refused: 0 };
    window.pending.remoteAddress = remoteAddress;
    window.pending.refused++;
  };
}
