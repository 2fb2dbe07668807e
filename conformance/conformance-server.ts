/**
 * The server under test of `npm run test:conformance` (scripts/conformance.sh):
 * connectconformance --mode server starts this program once for each server
 * configuration. It reads one size-prefixed ServerCompatRequest from stdin,
 * starts Tally (its own one-port listener, interceptor chain and gRPC unary
 * fast path) with the ConformanceService mounted beside the billing services,
 * on a scratch SQLite database, writes one size-prefixed ServerCompatResponse
 * (host and port) to stdout, and stops on SIGTERM.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { defaultServeConfig } from "../src/config.js";
import { startTally } from "../src/main.js";
import { conformanceService } from "./conformance-service.js";
import { ServerCompatRequestSchema, ServerCompatResponseSchema } from "./gen/connectrpc/conformance/v1/server_compat_pb.js";
import { ConformanceService } from "./gen/connectrpc/conformance/v1/service_pb.js";

async function readSizePrefixed(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    const all = Buffer.concat(chunks);
    if (all.length >= 4 && all.length >= 4 + all.readUInt32BE(0)) return all.subarray(4, 4 + all.readUInt32BE(0));
  }
  throw new Error("stdin ended before a whole ServerCompatRequest arrived");
}

const request = fromBinary(ServerCompatRequestSchema, await readSizePrefixed());
const scratch = mkdtempSync(join(tmpdir(), "tally-conformance-"));
const config = {
  ...defaultServeConfig(),
  host: "127.0.0.1",
  port: 0,
  db: join(scratch, "tally.db"),
  logLevel: "warn",
  rateLimit: 0,
  shutdownGrace: 1000,
  // The runner's clients all connect from 127.0.0.1, a new connection for
  // many of its cases, several cases at once: one peer with many
  // connections, as a proxy would be. The per-peer default (64) is for the
  // open internet.
  maxConnectionsPerPeer: 1000,
};
if (request.messageReceiveLimit > 0) config.maxMessageBytes = request.messageReceiveLimit;
let pemCert: Uint8Array = new Uint8Array(0);
if (request.useTls) {
  if (request.serverCreds === undefined) throw new Error("use_tls without server_creds");
  config.tlsCert = join(scratch, "cert.pem");
  config.tlsKey = join(scratch, "key.pem");
  writeFileSync(config.tlsCert, request.serverCreds.cert);
  writeFileSync(config.tlsKey, request.serverCreds.key);
  pemCert = request.serverCreds.cert;
  if (request.clientTlsCert.length > 0) {
    config.tlsClientCa = join(scratch, "client-ca.pem");
    writeFileSync(config.tlsClientCa, request.clientTlsCert);
  }
}

const logger = pino({ level: config.logLevel }, pino.destination(2));
const tally = await startTally(config, logger, { publicServices: [{ service: ConformanceService, implementation: conformanceService }] });

const response = toBinary(ServerCompatResponseSchema, create(ServerCompatResponseSchema, { host: "127.0.0.1", port: tally.port, pemCert }));
const prefix = Buffer.alloc(4);
prefix.writeUInt32BE(response.length, 0);
process.stdout.write(Buffer.concat([prefix, response]));

process.once("SIGTERM", () => {
  tally.stop().then(
    () => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      rmSync(scratch, { recursive: true, force: true });
      process.exit(1);
    },
  );
});
