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
// connection is eventually closed by the server. The server runs with short
// HTTP/1.1 timeouts (--headers-timeout 3s, --request-timeout 8s; the defaults
// are 10 s and 60 s) so the test takes seconds; telling HTTP/1.1 from HTTP/2
// has its fixed 10 s. Each kind gets its timeout plus 30 s before the test
// calls a connection left open.

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
    // Its 100 slow connections come from one address: more than the default --max-connections-per-peer.
    tally = await startFaultServer(db, { args: ["--headers-timeout", "3s", "--request-timeout", "8s", "--max-connections-per-peer", "200"] });
    ({ customerId } = await createCatalogFixture(keyedClients("grpc", tally.url)));
  });

  /** Calls over every protocol, each answered while the slow connections wait; the number served. */
  async function serveBeside(label: string): Promise<number> {
    let served = 0;
    for (const protocol of ["grpc", "connect-json-h1", "connect-binary-h2", "grpc-web-h1"] as const) {
      const clients = keyedClients(protocol, tally.url);
      for (let i = 0; i < 5; i++) {
        const requestId = `beside-${label}-${protocol}-${i}`;
        const { record } = await clients.usage.recordUsage({ requestId, customerId, meterKey: "calls", quantity: "1" });
        assert.equal(record?.requestId, requestId);
        served++;
      }
      const { bill } = await clients.billing.getCurrentBill({ customerId });
      assert.ok(bill !== undefined);
    }
    assert.equal(await healthz(tally.url), 200);
    return served;
  }

  /** Waits (up to `waitMs`) for every slow connection to be closed; the kinds still open, counted. */
  async function leftOpen(slow: SlowConnection[], waitMs: number): Promise<Record<string, number>> {
    const deadline = Date.now() + waitMs;
    while (slow.some((connection) => !connection.closed) && Date.now() < deadline) await delay(500);
    const open: Record<string, number> = {};
    for (const connection of slow.filter((candidate) => !candidate.closed)) open[connection.kind] = (open[connection.kind] ?? 0) + 1;
    return open;
  }

  after(async () => {
    for (const session of sessions) session.destroy();
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("over HTTP/1.1, or before choosing a protocol, do not hang the server or other callers, and are each closed", async (t) => {
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
    await delay(2 * TRICKLE_MS);

    const served = await serveBeside("h1");
    const openWhileServing = slow.filter((connection) => !connection.closed).length;
    t.diagnostic(`${openWhileServing} of ${slow.length} slow connections were still open while ${served} calls were served beside them`);
    assert.ok(openWhileServing >= slow.length / 2, "the slow connections were closed before the other callers were served: this proves nothing");

    assert.deepEqual(await leftOpen(slow, 40_000), {}, "slow connections the server never closed");
    assert.equal(tally.child.exitCode, null);
    assert.equal(await healthz(tally.url), 200);
  });

  // --request-timeout bounds an HTTP/2 stream's request too (streaming RPCs
  // aside): a unary call whose message trickles in is reset when it runs out.
  it("over HTTP/2, trickling a unary call's message, do not hang other callers, and are each closed", async (t) => {
    const slow: SlowConnection[] = [];
    for (let i = 0; i < 10; i++) {
      const { connection, session } = trickleHttp2Stream(tally.url);
      slow.push(connection);
      sessions.push(session);
    }
    await delay(2 * TRICKLE_MS);
    const served = await serveBeside("h2");
    t.diagnostic(`${slow.filter((connection) => !connection.closed).length} of ${slow.length} slow streams were still open while ${served} calls were served beside them`);
    assert.deepEqual(await leftOpen(slow, 20_000), {}, "slow streams the server never closed");
  });

  it("recorded only the calls served beside them", async () => {
    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    const audit = auditDatabase(db);
    assert.deepEqual(audit.integrity, ["ok"]);
    assert.deepEqual([...audit.usage.keys()].filter((requestId) => !requestId.startsWith("beside-")), []);
    assert.equal(audit.usage.size, 40);
  });
});
