import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import {
  createOnePortListener,
  detectProtocol,
  type HttpRequestHandler,
  type OnePortListener,
  type OnePortListenerOptions,
} from "../../src/server/one-port-listener.js";

const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Answers with the HTTP version that reached the handler, so each test can
// tell which server took the connection.
const versionHandler: HttpRequestHandler = (req, res) => {
  res.end(`HTTP/${req.httpVersion} ${req.url}`);
};

interface Started {
  listener: OnePortListener;
  port: number;
}

// Closes the listener after the test and fails the test if a connection
// outlived close().
async function start(t: TestContext, options: OnePortListenerOptions): Promise<Started> {
  const listener = createOnePortListener(options);
  const address = await listener.listen(0, "127.0.0.1");
  t.after(async () => {
    await listener.close(1_000);
    assert.equal(listener.openConnections(), 0, "a connection outlived close()");
  });
  return { listener, port: address.port };
}

function http1Get(port: number, path: string, agent?: http.Agent): Promise<{ body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: agent ?? false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ body, headers: res.headers }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

function http2Get(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve(body));
    stream.on("error", reject);
    stream.end();
  });
}

function connectHttp2(t: TestContext, port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  t.after(() => session.destroy());
  return session;
}

// Resolves once the socket is closed; rejects if it is still open after
// withinMs, so a missing server-side timeout fails instead of hanging.
function closed(socket: net.Socket, withinMs = 2_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${withinMs} ms`)), withinMs);
    const settle = () => {
      clearTimeout(timer);
      resolve();
    };
    if (socket.destroyed) {
      settle();
    } else {
      socket.once("close", settle);
    }
  });
}

// A TCP relay in front of the listener that forwards the first trickleBytes
// bytes of each connection one at a time, each in its own TCP segment, to
// prove that detection copes with a preface split across reads.
async function startTrickleRelay(t: TestContext, targetPort: number, trickleBytes: number): Promise<number> {
  const relaySockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort, noDelay: true });
    relaySockets.add(client).add(upstream);
    client.once("close", () => relaySockets.delete(client));
    upstream.once("close", () => relaySockets.delete(upstream));
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.pipe(client);
    let forwarded = 0;
    let queue = Promise.resolve();
    client.on("data", (chunk: Buffer) => {
      client.pause();
      queue = queue.then(async () => {
        let offset = 0;
        while (forwarded < trickleBytes && offset < chunk.length) {
          upstream.write(chunk.subarray(offset, offset + 1));
          offset++;
          forwarded++;
          await delay(3);
        }
        if (offset < chunk.length) {
          upstream.write(chunk.subarray(offset));
        }
        client.resume();
      });
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of relaySockets) {
      socket.destroy();
    }
    await new Promise((resolve) => relay.close(resolve));
  });
  return (relay.address() as net.AddressInfo).port;
}

describe("detectProtocol", () => {
  it("waits while the bytes so far are a prefix of the HTTP/2 preface", () => {
    assert.equal(detectProtocol(Buffer.alloc(0)), undefined);
    assert.equal(detectProtocol(Buffer.from("P")), undefined);
    assert.equal(detectProtocol(Buffer.from(preface.slice(0, 23))), undefined);
  });

  it("decides HTTP/2 once all 24 preface bytes match", () => {
    assert.equal(detectProtocol(Buffer.from(preface)), "http2");
    assert.equal(detectProtocol(Buffer.concat([Buffer.from(preface), Buffer.from([0, 0, 0, 4])])), "http2");
  });

  it("decides HTTP/1.1 at the first byte that differs", () => {
    assert.equal(detectProtocol(Buffer.from("G")), "http1");
    assert.equal(detectProtocol(Buffer.from("POST / HTTP/1.1\r\n")), "http1");
    assert.equal(detectProtocol(Buffer.from("PRI * HTTP/1.1")), "http1");
    assert.equal(detectProtocol(Buffer.from(preface.slice(0, 23) + "X")), "http1");
  });
});

describe("createOnePortListener", { timeout: 20_000 }, () => {
  it("answers HTTP/1.1 and HTTP/2 prior-knowledge requests on the same port", async (t) => {
    const { port } = await start(t, { handler: versionHandler });

    const http1 = await http1Get(port, "/one");
    assert.equal(http1.body, "HTTP/1.1 /one");

    const session = connectHttp2(t, port);
    assert.equal(await http2Get(session, "/two"), "HTTP/2.0 /two");
    assert.equal(await http2Get(session, "/three"), "HTTP/2.0 /three");
    session.close();
  });

  it("detects HTTP/2 from a preface that arrives one byte per read", async (t) => {
    const { port } = await start(t, { handler: versionHandler });
    const relayPort = await startTrickleRelay(t, port, preface.length + 9);

    const session = connectHttp2(t, relayPort);
    assert.equal(await http2Get(session, "/trickled"), "HTTP/2.0 /trickled");
    session.close();
  });

  it("serves HTTP/1.1 that arrives one byte per read", async (t) => {
    const { port } = await start(t, { handler: versionHandler });
    const relayPort = await startTrickleRelay(t, port, 20);

    const http1 = await http1Get(relayPort, "/trickled");
    assert.equal(http1.body, "HTTP/1.1 /trickled");
  });

  it("drops a connection that sends nothing within protocolDetectionTimeout", async (t) => {
    const { listener, port } = await start(t, { handler: versionHandler, protocolDetectionTimeout: 100 });
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    const started = Date.now();
    await closed(socket);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 90 && elapsed < 2_000, `closed after ${elapsed} ms`);
    await delay(10);
    assert.equal(listener.openConnections(), 0);
  });

  it("drops a connection that stalls in the middle of the preface", async (t) => {
    const { port } = await start(t, { handler: versionHandler, protocolDetectionTimeout: 100 });
    const socket = net.connect(port, "127.0.0.1", () => socket.write(preface.slice(0, 10)));
    socket.on("error", () => {});
    await closed(socket);
  });

  it("forgets a connection that closes before its protocol is known", async (t) => {
    const { listener, port } = await start(t, { handler: versionHandler });
    for (const sent of ["", "PRI * HTTP"]) {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      if (sent !== "") {
        socket.write(sent);
      }
      await delay(20);
      socket.destroy();
    }
    await delay(50);
    assert.equal(listener.openConnections(), 0);
  });

  it("enforces the HTTP/1.1 headersTimeout on connections it hands over", async (t) => {
    const { port } = await start(t, {
      handler: versionHandler,
      headersTimeout: 200,
      requestTimeout: 400,
      connectionsCheckingInterval: 50,
    });
    const socket = net.connect(port, "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n"));
    socket.on("error", () => {});
    let response = "";
    socket.on("data", (chunk: Buffer) => (response += chunk.toString("latin1")));
    const started = Date.now();
    await closed(socket);
    const elapsed = Date.now() - started;
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed < 2_000, `closed after ${elapsed} ms`);
  });

  it("sends GOAWAY to an open HTTP/2 session on close() and resolves", async (t) => {
    const { listener, port } = await start(t, { handler: versionHandler });
    const session = connectHttp2(t, port);
    assert.equal(await http2Get(session, "/before"), "HTTP/2.0 /before");
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));

    const started = Date.now();
    await listener.close(5_000);
    assert.ok(Date.now() - started < 1_000, "close() waited for an idle session");
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    assert.equal(listener.openConnections(), 0);
  });

  it("destroys an HTTP/2 stream still open when the grace period ends", async (t) => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { listener, port } = await start(t, {
      handler: (req, res) => {
        if (req.url === "/hang") {
          entered();
          return;
        }
        versionHandler(req, res);
      },
    });
    const session = connectHttp2(t, port);
    const stream = session.request({ ":path": "/hang" });
    const streamClosed = new Promise<void>((resolve) => stream.once("close", resolve));
    stream.on("error", () => {});
    stream.end();
    await handlerEntered;

    const started = Date.now();
    await listener.close(150);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 1_500, `close() took ${elapsed} ms`);
    await streamClosed;
    assert.equal(listener.openConnections(), 0);
  });

  it("closes idle HTTP/1.1 keep-alive connections on close() without waiting", async (t) => {
    const { listener, port } = await start(t, { handler: versionHandler, keepAliveTimeout: 30_000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    await http1Get(port, "/a", agent);
    await http1Get(port, "/b", agent);
    assert.equal(listener.openConnections(), 1);

    const started = Date.now();
    await listener.close(5_000);
    assert.ok(Date.now() - started < 1_000, "close() waited for an idle keep-alive connection");
  });

  it("ends a busy HTTP/1.1 keep-alive connection after its response on close()", async (t) => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { listener, port } = await start(t, {
      keepAliveTimeout: 30_000,
      handler: (req, res) => {
        entered();
        setTimeout(() => versionHandler(req, res), 100);
      },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const response = http1Get(port, "/slow", agent);
    await handlerEntered;

    const started = Date.now();
    const closing = listener.close(5_000);
    const { body, headers } = await response;
    await closing;
    assert.equal(body, "HTTP/1.1 /slow");
    assert.equal(headers.connection, "close");
    assert.ok(Date.now() - started < 1_000, "close() waited for the keep-alive timeout");
  });

  it("ends an HTTP/1.1 keep-alive connection whose response was already streaming on close()", async (t) => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { listener, port } = await start(t, {
      keepAliveTimeout: 30_000,
      handler: (_req, res) => {
        const http1Res = res as http.ServerResponse;
        http1Res.writeHead(200, { "content-type": "text/plain" });
        http1Res.write("first ");
        entered();
        setTimeout(() => http1Res.end("last"), 100);
      },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const response = http1Get(port, "/stream", agent);
    await handlerEntered;

    const started = Date.now();
    await listener.close(5_000);
    assert.equal((await response).body, "first last");
    assert.ok(Date.now() - started < 1_000, "close() waited for the keep-alive timeout");
  });

  it("refuses connections after close()", async (t) => {
    const { listener, port } = await start(t, { handler: versionHandler });
    await listener.close(100);
    await assert.rejects(http1Get(port, "/late"), { code: "ECONNREFUSED" });
  });

  it("sends GOAWAY to an HTTP/2 session with no open stream after sessionIdleTimeout", async (t) => {
    const { port } = await start(t, { handler: versionHandler, sessionIdleTimeout: 100 });
    const session = connectHttp2(t, port);
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));
    assert.equal(await http2Get(session, "/x"), "HTTP/2.0 /x");
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
  });

  it("keeps an HTTP/2 session with a long-running stream past sessionIdleTimeout", async (t) => {
    const { port } = await start(t, {
      sessionIdleTimeout: 100,
      handler: (req, res) => {
        setTimeout(() => versionHandler(req, res), 300);
      },
    });
    const session = connectHttp2(t, port);
    let sawGoaway = false;
    session.once("goaway", () => (sawGoaway = true));
    assert.equal(await http2Get(session, "/long"), "HTTP/2.0 /long");
    assert.equal(sawGoaway, false);
  });

  it("rejects listen() when the port is taken", async (t) => {
    const { port } = await start(t, { handler: versionHandler });
    const second = createOnePortListener({ handler: versionHandler });
    await assert.rejects(second.listen(port, "127.0.0.1"), { code: "EADDRINUSE" });
    await second.close(100);
  });
});
