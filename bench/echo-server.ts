/**
 * The framework ceiling: a bare node:http2 server in its own process that
 * answers every POST, once the request body has arrived, with a fixed valid
 * answer. gRPC requests (content-type application/grpc*) get headers, one
 * length-prefixed RecordUsageResponse and trailers with grpc-status 0;
 * Connect requests get HTTP 200 and the bare message. No routing, no
 * decoding, no interceptors, no storage: what is left is the HTTP/2 work a
 * unary call costs in Node on this machine.
 */
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { failChild } from "./processes.js";
import { fixedAnswer } from "./request-bodies.js";

const grpcAnswer = fixedAnswer("grpc");
const connectAnswer = fixedAnswer("bare");

const server = http2.createServer({ settings: { maxConcurrentStreams: 250, initialWindowSize: 4 * 1024 * 1024 } });
server.on("connection", (socket: Socket) => socket.setNoDelay(true));
server.on("session", (session) => session.setLocalWindowSize(32 * 1024 * 1024));
server.on("stream", (stream, headers) => {
  const grpc = String(headers["content-type"] ?? "").startsWith("application/grpc");
  stream.on("error", () => undefined);
  stream.resume();
  stream.on("end", () => {
    if (stream.destroyed) return;
    if (grpc) {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(grpcAnswer);
    } else {
      stream.respond({ ":status": 200, "content-type": "application/proto" });
      stream.end(connectAnswer);
    }
  });
});
server.on("error", failChild);
server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "listening", port: (server.address() as AddressInfo).port });
});
// The parent ends the echo by letting go of the channel (or by a signal).
process.once("disconnect", () => process.exit(0));
