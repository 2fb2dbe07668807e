import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type Request = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[0];
type Response = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[1];

/** gRPC's UNIMPLEMENTED. */
const UNIMPLEMENTED = 12;

/** What a caller in grpc-web's text mode is told; gRPC's grpc-message allows printable ASCII. */
export const GRPC_WEB_TEXT_REFUSAL =
  "application/grpc-web-text is not served: use gRPC-Web's binary mode (application/grpc-web+proto), " +
  "e.g. protoc-gen-grpc-web with mode=grpcweb, or Connect";

/**
 * Google's grpc-web npm client sends `application/grpc-web-text` (base64
 * framing) unless its stubs were generated with mode=grpcweb. connect-node
 * speaks binary gRPC-Web only and would answer HTTP 415, which that client
 * reports as UNKNOWN "http status code: 415". This answers such a call the
 * way gRPC-Web reports a status without a body (HTTP 200, grpc-status and
 * grpc-message headers), so the client shows UNIMPLEMENTED and the message
 * naming the binary mode. Returns false for any other request.
 */
export function refuseGrpcWebText(request: Request, response: Response): boolean {
  const contentType = request.headers["content-type"];
  if (request.method !== "POST" || contentType === undefined || !contentType.startsWith("application/grpc-web-text")) return false;
  request.resume();
  response.writeHead(200, {
    "content-type": "application/grpc-web-text+proto",
    "grpc-status": String(UNIMPLEMENTED),
    "grpc-message": GRPC_WEB_TEXT_REFUSAL,
  });
  response.end();
  return true;
}
