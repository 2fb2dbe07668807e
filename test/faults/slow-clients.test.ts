import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { RecordUsageRequestSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { auditDatabase } from "../support/crash-audit.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { AUTHORIZATION, healthz, keyedClients, killIfRunning, startFaultServer } from "./fault-harness.js";
import { envelope } from "./raw-wire.js";

// Slow clients (slowloris and its relatives) must not hang the server or the
// callers beside them: while a crowd of connections trickles a byte a second,
// or sends nothing, other callers are served on every protocol, and each slow
// connection is eventually closed by the server. The limits assumed are the
// listener's defaults: HTTP/1.1 headers within 10 s and a whole request within
// 60 s, 10 s to tell HTTP/1.1 from HTTP/2, and an HTTP/2 stream's request
// within the same 60 s as HTTP/1.1's. This test waits up to half as long
// again plus 30 s before it calls a connection left open.

/** One slow connection and when (if ever) the server closed it. */
interface SlowConnection {
  kind: string;
  closed: boolean;
  /** Bytes the connection sent before the server closed it. */
  sent: number;
}

const TRICKLE_MS = 1_000;
const RECORD_USAGE = "/billing.v1.UsageService/RecordUsage";

/** A TCP connection that writes `prefix` at once, then one byte of `drip` a second until the server closes it. */
function trickle(port: number, kind: string, prefix: string, drip: string): SlowConnection {
  const connection: SlowConnection = { kind, closed: false, sent: 0 };
  const socket = net.connect(port, "127.0.0.1");
  let at = 0;
  const timer = setInterval(() => {
    if (drip === "" || socket.destroyed) return;
    socket.write(drip[at++ % drip.length]!);
    connection.sent++;
  }, TRICKLE_MS);
  socket.on("connect", () => {
    if (prefix !== "") socket.write(prefix);
    connection.sent += prefix.length;
  });
  socket.on("data", () => {});
  socket.on("error", () => {});
  socket.on("close", () => {
    clearInterval(timer);
    connection.closed = true;
  });
  return connection;
}

/** An HTTP/2 RecordUsage stream that sends its headers, then a byte of its message a second, never ending. */
function trickleHttp2Stream(baseUrl: string): { connection: SlowConnection; session: http2.ClientHttp2Session } {
  const connection: SlowConnection = { kind: "HTTP/2 stream trickling its message", closed: false, sent: 0 };
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": RECORD_USAGE, "content-type": "application/grpc", te: "trailers", authorization: AUTHORIZATION });
  const message = envelope(
    toBinary(RecordUsageRequestSchema, create(RecordUsageRequestSchema, { requestId: "slow-h2", customerId: "acme", meterKey: "calls", quantity: "1" })),
  );
  let at = 0;
  // Never the last byte: the message stays incomplete for as long as the server waits.
  const timer = setInterval(() => {
    if (stream.closed || at >= message.length - 1) return;
    stream.write(message.subarray(at, ++at));
    connection.sent++;
  }, TRICKLE_MS);
  stream.on("error", () => {});
  stream.on("data", () => {});
  stream.on("close", () => {
    clearInterval(timer);
    connection.closed = true;
  });
  return { connection, session };
}

describe("slow clients", () => {
  const scratch = scratchDirectory("tally-slow-");
  const db = join(scratch.path, "tally.db");
  let tally: TallyProcess;
  let customerId: string;
  const sessions: http2.ClientHttp2Session[] = [];

  before(async () => {
    tally = await startFaultServer(db);
    ({ customerId } = await createCatalogFixture(keyedClients("grpc", tally.url)));
  });

  after(async () => {
    for (const session of sessions) session.destroy();
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("do not hang the server or other callers, and are each closed by the server", async (t) => {
    const port = tally.port;
    const requestHead = `POST ${RECORD_USAGE} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: ${AUTHORIZATION}\r\n`;
    const slow: SlowConnection[] = [
      // Headers one byte a second, never finished (slowloris).
      ...Array.from({ length: 40 }, () => trickle(port, "HTTP/1.1 headers trickling", requestHead, "x-slow-header-padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n")),
      // Complete headers, then the body a byte a second (slow POST).
      ...Array.from({ length: 20 }, () =>
        trickle(port, "HTTP/1.1 body trickling", `${requestHead}content-length: 100000\r\n\r\n`, '{"requestId":"slow-body","customerId":"acme"'),
      ),
      // Connections that say nothing, or stop halfway through HTTP/2's preface.
      ...Array.from({ length: 20 }, () => trickle(port, "silent connection", "", "")),
      ...Array.from({ length: 20 }, () => trickle(port, "half an HTTP/2 preface", "PRI * HTTP/2.0\r\n", "")),
    ];
    for (let i = 0; i < 10; i++) {
      const { connection, session } = trickleHttp2Stream(tally.url);
      slow.push(connection);
      sessions.push(session);
    }
    await delay(2 * TRICKLE_MS);

    // Meanwhile other callers are served on every protocol, while the slow
    // connections are still open.
    for (const protocol of ["grpc", "connect-json-h1", "connect-binary-h2", "grpc-web-h1"] as const) {
      const clients = keyedClients(protocol, tally.url);
      for (let i = 0; i < 5; i++) {
        const { record } = await clients.usage.recordUsage({ requestId: `beside-slow-${protocol}-${i}`, customerId, meterKey: "calls", quantity: "1" });
        assert.equal(record?.requestId, `beside-slow-${protocol}-${i}`);
      }
      const { bill } = await clients.billing.getCurrentBill({ customerId });
      assert.ok(bill !== undefined);
    }
    assert.equal(await healthz(tally.url), 200);
    const openWhileServing = slow.filter((connection) => !connection.closed).length;
    t.diagnostic(`${openWhileServing} of ${slow.length} slow connections were still open while 20 calls were served beside them`);
    assert.ok(openWhileServing >= slow.length / 2, "the slow connections were closed before the other callers were served: this proves nothing");

    // Each slow connection is closed by the server, none left hanging.
    const deadline = Date.now() + 120_000;
    while (slow.some((connection) => !connection.closed) && Date.now() < deadline) await delay(1_000);
    const open = new Map<string, number>();
    for (const connection of slow.filter((candidate) => !candidate.closed)) open.set(connection.kind, (open.get(connection.kind) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(open), {}, "slow connections the server never closed");
    assert.equal(tally.child.exitCode, null);
    assert.equal(await healthz(tally.url), 200);
  });

  it("recorded only the calls served beside them", async () => {
    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    const audit = auditDatabase(db);
    assert.deepEqual(audit.integrity, ["ok"]);
    assert.deepEqual([...audit.usage.keys()].every((requestId) => requestId.startsWith("beside-slow-")), true);
    assert.equal(audit.usage.size, 20);
  });
});
