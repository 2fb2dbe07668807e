import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ListUsageRecordsRequestSchema, ListUsageRecordsResponseSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { AUTHORIZATION, healthz, keyedClients, killIfRunning, startFaultServer, worstEventLoopDelayMs } from "./fault-harness.js";
import { bodyOf, envelope, sendRaw, WIRE_PROTOCOLS } from "./raw-wire.js";

// Attacks on the server's resources rather than its input: connections by
// the hundred, health watches by the thousand, connections that never open a
// stream or never read their answers, and clients that leave half-way. Each
// must hit a limit (a documented setting) instead of the file limit or the
// memory, while other callers are served. The attackers connect from other
// loopback addresses (127.0.0.2 and up, each a peer of its own) than the
// test's own clients (127.0.0.1), so the per-peer limit can be seen at work.
//
// Figures for the README (memory per idle connection and per open stream,
// the worst event-loop delay under each attack) are printed as diagnostics;
// the delay is the server's own: the maximum of
// perf_hooks.monitorEventLoopDelay since the previous scrape of /metrics.

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
const LIST_USAGE_RECORDS = "/billing.v1.UsageService/ListUsageRecords";
const EMPTY_MESSAGE = envelope(new Uint8Array(0));

const HEADERS_TIMEOUT_MS = 2_000;
const SESSION_IDLE_TIMEOUT_MS = 8_000;
const SLOW_READER_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 400;
const MAX_PER_PEER = 64;
const MAX_WATCH_STREAMS = 400;

/** The server's resident memory, in bytes. */
function rssOf(tally: TallyProcess): number {
  const status = readFileSync(`/proc/${tally.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;

/** An HTTP/2 session from `localAddress`, whose errors are expected. */
function sessionFrom(baseUrl: string, localAddress: string, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(baseUrl, { localAddress, settings } as http2.SecureClientSessionOptions);
  session.on("error", () => {});
  return session;
}

/** What a raw gRPC call saw: its HTTP status and grpc-status (0 when the stream failed), and whether a message arrived. */
interface RawCall {
  httpStatus: number;
  grpcStatus: string | undefined;
  /** Resolves once the first message (or the status) arrived. */
  answered: Promise<void>;
  /** Resolves when the stream closes. */
  closed: Promise<void>;
  stream: http2.ClientHttp2Stream;
}

/** A gRPC call with a raw body on `session`; no authorization when `keyed` is false. */
function rawGrpc(session: http2.ClientHttp2Session, path: string, body: Uint8Array, keyed = false): RawCall {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...(keyed ? { authorization: AUTHORIZATION } : {}),
  });
  const call = { httpStatus: 0, grpcStatus: undefined, stream } as RawCall;
  let answer!: () => void;
  call.answered = new Promise((resolve) => (answer = resolve));
  call.closed = new Promise((resolve) => stream.once("close", resolve));
  stream.on("error", () => {});
  stream.on("response", (headers) => {
    call.httpStatus = Number(headers[":status"]);
    if (headers["grpc-status"] !== undefined) {
      call.grpcStatus = String(headers["grpc-status"]);
      answer();
    }
  });
  stream.on("data", () => answer());
  stream.on("trailers", (trailers) => {
    call.grpcStatus = String(trailers["grpc-status"]);
    answer();
  });
  void call.closed.then(() => answer());
  stream.end(body);
  return call;
}

/** Resolves true once `socket` (or session) is closed, false if still open after `withinMs`. */
function closedWithin(emitter: net.Socket | http2.ClientHttp2Session, withinMs: number): Promise<boolean> {
  if (emitter.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    emitter.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe("resource limits", () => {
  const scratch = scratchDirectory("tally-limits-");
  const db = join(scratch.path, "tally.db");
  let tally: TallyProcess;
  let customerId: string;
  const sessions: http2.ClientHttp2Session[] = [];
  const sockets: net.Socket[] = [];

  before(async () => {
    tally = await startFaultServer(db, {
      args: [
        ["--max-connections", MAX_CONNECTIONS],
        ["--max-connections-per-peer", MAX_PER_PEER],
        ["--max-watch-streams", MAX_WATCH_STREAMS],
        ["--headers-timeout", `${HEADERS_TIMEOUT_MS}ms`],
        ["--session-idle-timeout", `${SESSION_IDLE_TIMEOUT_MS}ms`],
        ["--slow-reader-timeout", `${SLOW_READER_TIMEOUT_MS}ms`],
      ].flatMap(([flag, value]) => [String(flag), String(value)]),
    });
    ({ customerId } = await createCatalogFixture(keyedClients("grpc", tally.url)));
  });

  after(async () => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("health Watch streams: one past --max-watch-streams is RESOURCE_EXHAUSTED, and health still answers", async (t) => {
    await worstEventLoopDelayMs(tally.url);
    const rssBefore = rssOf(tally);
    const watchers = Array.from({ length: 4 }, () => sessionFrom(tally.url, "127.0.0.2"));
    sessions.push(...watchers);
    const watches: RawCall[] = [];
    for (let i = 0; i < MAX_WATCH_STREAMS; i++) watches.push(rawGrpc(watchers[i % watchers.length]!, HEALTH_WATCH, EMPTY_MESSAGE));
    await Promise.all(watches.map((watch) => watch.answered));
    assert.deepEqual(
      watches.filter((watch) => watch.grpcStatus !== undefined || watch.httpStatus !== 200).length,
      0,
      "every watch up to the limit is open",
    );
    const perStream = (rssOf(tally) - rssBefore) / MAX_WATCH_STREAMS;

    const extra = rawGrpc(watchers[0]!, HEALTH_WATCH, EMPTY_MESSAGE);
    await extra.answered;
    assert.equal(extra.grpcStatus, String(Code.ResourceExhausted), "the watch past the limit is refused");
    const check = rawGrpc(watchers[1]!, HEALTH_CHECK, EMPTY_MESSAGE);
    await check.closed;
    assert.equal(check.grpcStatus, "0", "Check still answers");
    assert.equal(await healthz(tally.url), 200);

    // Closing watches frees their places.
    for (const session of watchers) session.destroy();
    await delay(500);
    const again = sessionFrom(tally.url, "127.0.0.2");
    sessions.push(again);
    const watch = rawGrpc(again, HEALTH_WATCH, EMPTY_MESSAGE);
    await watch.answered;
    assert.equal(watch.grpcStatus, undefined, "a watch is taken again once others closed");
    again.destroy();
    t.diagnostic(`memory per open Watch stream: ${kib(perStream)} (${MAX_WATCH_STREAMS} streams on 4 connections); worst event-loop delay ${await worstEventLoopDelayMs(tally.url)} ms`);
  });

  it("idle connections: limited per peer and in all, closed once idle, and their places given to others", async (t) => {
    await worstEventLoopDelayMs(tally.url);
    const rssBefore = rssOf(tally);
    /** Opens `count` sessions from `localAddress`, each making one Check; the number of Checks answered. */
    async function openIdle(localAddress: string, count: number): Promise<{ opened: http2.ClientHttp2Session[]; served: number }> {
      const opened = Array.from({ length: count }, () => sessionFrom(tally.url, localAddress));
      sessions.push(...opened);
      const checks = opened.map((session) => rawGrpc(session, HEALTH_CHECK, EMPTY_MESSAGE));
      await Promise.all(checks.map((check) => check.closed));
      return { opened, served: checks.filter((check) => check.grpcStatus === "0").length };
    }
    // Five peers at their limit: 320 connections, within --max-connections.
    const crowd: http2.ClientHttp2Session[] = [];
    for (const peer of ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"]) {
      const { opened, served } = await openIdle(peer, MAX_PER_PEER);
      assert.equal(served, MAX_PER_PEER, `${peer}: every connection within the per-peer limit is served`);
      crowd.push(...opened);
    }
    const perConnection = (rssOf(tally) - rssBefore) / crowd.length;

    // One peer over its limit: only its first connections are served.
    const greedy = await openIdle("127.0.0.8", MAX_PER_PEER + 36);
    assert.equal(greedy.served, MAX_PER_PEER, "a peer gets no more than --max-connections-per-peer connections");
    // Another peer, with the server at --max-connections: the rest are refused.
    const late = await openIdle("127.0.0.9", MAX_PER_PEER);
    assert.ok(late.served <= MAX_CONNECTIONS - 6 * MAX_PER_PEER, `${late.served} connections served past --max-connections`);
    const refusals = tally.logs.filter((entry) => entry.msg === "connections refused").map((entry) => entry.limit);
    assert.ok(refusals.includes("max-connections-per-peer") && refusals.includes("max-connections"), `refusals logged: ${JSON.stringify(refusals)}`);

    // The idle connections are closed after --session-idle-timeout, and a new client is served again.
    const idle = [...crowd, ...greedy.opened, ...late.opened];
    const closed = await Promise.all(idle.map((session) => closedWithin(session, SESSION_IDLE_TIMEOUT_MS + 10_000)));
    assert.equal(closed.filter((was) => !was).length, 0, "idle connections the server kept");
    assert.equal(await healthz(tally.url), 200);
    t.diagnostic(
      `memory per idle HTTP/2 connection: ${kib(perConnection)} (${crowd.length} connections); worst event-loop delay ${await worstEventLoopDelayMs(tally.url)} ms`,
    );
  });

  it("a connection that sends only the HTTP/2 preface, or never ends a HEADERS frame, is closed after --headers-timeout", async () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    // HEADERS on stream 1 with END_STREAM but not END_HEADERS (flags 0x1): a header block the client never finishes.
    const block = Buffer.from([0x83, 0x86, 0x84]); // :method POST, :scheme http, :path /
    const headers = Buffer.concat([Buffer.from([0, 0, block.length, 1, 0x1, 0, 0, 0, 1]), block]);
    const connect = (bytes: Buffer) => {
      const socket = net.connect({ port: tally.port, host: "127.0.0.1", localAddress: "127.0.0.10" }, () => socket.write(bytes));
      socket.on("error", () => {});
      socket.on("data", () => {});
      sockets.push(socket);
      return socket;
    };
    const prefaceOnly = connect(Buffer.concat([preface, settings]));
    const unfinishedHeaders = connect(Buffer.concat([preface, settings, headers]));
    // Well before --session-idle-timeout: these connections never had a stream, so it does not apply.
    const within = HEADERS_TIMEOUT_MS + 3_000;
    assert.deepEqual(await Promise.all([closedWithin(prefaceOnly, within), closedWithin(unfinishedHeaders, within)]), [true, true]);
  });

  it("a connection whose client sent GOAWAY or ended its side is destroyed, though a stream of it is open", async () => {
    // GOAWAY with a Watch open: the server must not wait for the watch to end.
    const leaving = sessionFrom(tally.url, "127.0.0.11");
    sessions.push(leaving);
    const watch = rawGrpc(leaving, HEALTH_WATCH, EMPTY_MESSAGE);
    await watch.answered;
    leaving.goaway(http2.constants.NGHTTP2_NO_ERROR);

    // FIN with an answer the client never let through (flow-control window 0).
    const socket = net.connect({ port: tally.port, host: "127.0.0.1", localAddress: "127.0.0.11" });
    socket.on("error", () => {});
    sockets.push(socket);
    const ending = http2.connect(tally.url, { createConnection: () => socket, settings: { initialWindowSize: 0 } });
    ending.on("error", () => {});
    sessions.push(ending);
    const list = rawGrpc(ending, HEALTH_WATCH, EMPTY_MESSAGE);
    await new Promise((resolve) => list.stream.once("response", resolve));
    socket.end();

    assert.deepEqual(
      await Promise.all([closedWithin(leaving, SESSION_IDLE_TIMEOUT_MS + 5_000), closedWithin(socket, 5_000)]),
      [true, true],
      "[GOAWAY, FIN] connections released",
    );
  });

  it("slow readers: answers nobody reads are bounded in all by --max-buffered-response-bytes, and their connections closed", async (t) => {
    // About 3 MiB per answer: 300 records with 32 attributes of 256 characters.
    const clients = keyedClients("grpc", tally.url);
    const attributes = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`attribute-${i}`, "v".repeat(256)]));
    for (let batch = 0; batch < 3; batch++) {
      await clients.usage.batchRecordUsage({
        requests: Array.from({ length: 100 }, (_, i) => ({ requestId: `slow-reader-${batch}-${i}`, customerId, meterKey: "calls", quantity: "1", attributes })),
      });
    }
    const listing = envelope(toBinary(ListUsageRecordsRequestSchema, create(ListUsageRecordsRequestSchema, { customerId, pageSize: 300 })));
    const answerBytes = toBinary(ListUsageRecordsResponseSchema, await clients.usage.listUsageRecords({ customerId, pageSize: 300 })).length;

    await worstEventLoopDelayMs(tally.url);
    const rssBefore = rssOf(tally);
    const listed = () => tally.logs.filter((entry) => entry.msg === "call" && entry.method === "billing.v1.UsageService/ListUsageRecords");
    const listedBefore = listed().length;
    // 40 connections that never open their flow-control window, two big answers asked on each.
    const readers = Array.from({ length: 40 }, () => sessionFrom(tally.url, "127.0.0.12", { initialWindowSize: 0 }));
    sessions.push(...readers);
    const calls = readers.flatMap((session) => Array.from({ length: 2 }, () => rawGrpc(session, LIST_USAGE_RECORDS, listing, true)));
    // Every call has ended on the server (its answer made or refused) once it is logged.
    while (listed().length < listedBefore + calls.length) await delay(100);
    const codes = listed().slice(listedBefore).map((entry) => entry.code);
    const held = codes.filter((code) => code === "ok").length;
    const busy = codes.filter((code) => code === "ResourceExhausted").length;
    const added = rssOf(tally) - rssBefore;
    t.diagnostic(`40 slow readers asking ${calls.length} answers of ${mib(answerBytes)}: ${held} held for them, ${busy} refused RESOURCE_EXHAUSTED; memory added: ${mib(added)}`);
    assert.equal(held + busy, calls.length, `answers: ${JSON.stringify(codes)}`);
    assert.ok(busy > 0, "no big answer was refused while slow readers held the buffers");
    // At most the limit (64 MiB), plus the answers made while the last check passed.
    assert.ok(held * answerBytes <= 64 * 1024 * 1024 + 8 * answerBytes, `${held} answers held`);

    // Meanwhile reads are refused with a retry delay, while writes and health go on.
    await assert.rejects(clients.usage.listUsageRecords({ customerId, pageSize: 1 }), (error: unknown) => {
      assert.ok(error instanceof ConnectError && error.code === Code.ResourceExhausted, String(error));
      assert.match(error.message, /not read/);
      return true;
    });
    const { record } = await clients.usage.recordUsage({ requestId: "beside-slow-readers", customerId, meterKey: "calls", quantity: "1" });
    assert.equal(record?.requestId, "beside-slow-readers");
    assert.equal(await healthz(tally.url), 200);

    // The slow readers are closed after --slow-reader-timeout, and reads are served again.
    const closed = await Promise.all(readers.map((session) => closedWithin(session, SLOW_READER_TIMEOUT_MS + 10_000)));


    assert.equal(closed.filter((was) => !was).length, 0, "slow readers the server kept");
    await delay(100);
    const { records } = await clients.usage.listUsageRecords({ customerId, pageSize: 1 });
    assert.equal(records.length, 1);
    t.diagnostic(`worst event-loop delay under 40 slow readers: ${await worstEventLoopDelayMs(tally.url)} ms`);
  });

  it("an unknown procedure is UNIMPLEMENTED on every protocol, and a wrong HTTP method names the allowed ones", async () => {
    const unknown = "/billing.v1.UsageService/NoSuchMethod";
    for (const protocol of WIRE_PROTOCOLS) {
      const answer = await sendRaw(tally.url, protocol, unknown, bodyOf(protocol, new Uint8Array(0)));
      assert.equal(answer.code, "unimplemented", `${protocol}: ${JSON.stringify(answer)}`);
    }
    // No interceptor runs for a procedure the server does not have, so the server counts it itself, under one label.
    const metrics = await (await fetch(`${tally.url}/metrics`)).text();
    for (const [protocol, least] of [["grpc", 1], ["grpc-web", 2], ["connect", 4]] as const) {
      const line = metrics.split("\n").find((candidate) => candidate.startsWith(`tally_rpc_calls_total{method="(unknown)",protocol="${protocol}",code="Unimplemented"} `));
      assert.ok(line !== undefined && Number(line.split(" ").at(-1)) >= least, `${protocol} unknown procedures counted: ${line}`);
    }
    const wrongMethod = await fetch(`${tally.url}/billing.v1.UsageService/RecordUsage`, { method: "GET" });
    await wrongMethod.arrayBuffer();
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    const put = await fetch(`${tally.url}/billing.v1.UsageService/ListUsageRecords`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    await put.arrayBuffer();
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST");
  });

  // An oversize message is refused without reading it all; a gRPC-Web client
  // on an HTTP/1.1 keep-alive connection must then get an answer to its next
  // request, or be told the connection closes and see it closed.
  it("gRPC-Web over HTTP/1.1 keep-alive: after an oversize refusal, the next request is answered or the connection closed", async () => {
    const head = (length: number) =>
      `POST /billing.v1.UsageService/RecordUsage HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/grpc-web+proto\r\nauthorization: ${AUTHORIZATION}\r\ncontent-length: ${length}\r\n\r\n`;
    const next = Buffer.concat([Buffer.from(head(5), "latin1"), Buffer.from(envelope(new Uint8Array(0)))]);
    /** Sends `first` then `next` on one connection; the answers seen, and whether the server closed it. */
    async function exchange(first: Buffer): Promise<{ answers: string[]; closed: boolean }> {
      const socket = net.connect(tally.port, "127.0.0.1");
      sockets.push(socket);
      socket.on("error", () => {});
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      socket.write(first);
      socket.write(next);
      const closed = await closedWithin(socket, 5_000);
      socket.destroy();
      return { answers: received.match(/grpc-status: \d+/g) ?? [], closed };
    }
    // The envelope claims 5 MiB but the body is short: the rest is read, and the connection kept.
    const declared = Buffer.alloc(105);
    declared.writeUInt32BE(5 * 1024 * 1024, 1);
    const short = await exchange(Buffer.concat([Buffer.from(head(declared.length), "latin1"), declared]));
    assert.deepEqual(short.answers, ["grpc-status: 8", "grpc-status: 3"], "both requests answered: RESOURCE_EXHAUSTED, then INVALID_ARGUMENT");
    // A whole 5 MiB message: answered, then the connection is closed rather than left silent.
    const big = Buffer.alloc(5 + 5 * 1024 * 1024);
    big.writeUInt32BE(5 * 1024 * 1024, 1);
    const whole = await exchange(Buffer.concat([Buffer.from(head(big.length), "latin1"), big]));
    assert.equal(whole.answers[0], "grpc-status: 8");
    assert.ok(whole.answers.length === 2 || whole.closed, "the next request was neither answered nor the connection closed");
  });
});
