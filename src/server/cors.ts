import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { cors as connectCors } from "@connectrpc/connect";

type Request = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[0];
type Response = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[1];

/**
 * Cross-origin rules for browsers. A page served by Tally itself (same
 * origin) always gets through; another origin only when it is on the
 * allowlist, and then with the headers Connect and gRPC-Web need. A
 * cross-origin request from any other origin is refused with 403 by the
 * server itself (not merely hidden by the browser), so a foreign page can
 * neither read nor write. Callers that send no Origin (grpcurl, SDKs) are
 * not affected.
 */
export function createCorsPolicy(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins.map((origin) => origin.replace(/\/$/, "")));
  return {
    /** Answers the request (preflight or refusal) and returns true, or adds CORS headers and returns false. */
    handle(request: Request, response: Response): boolean {
      const origin = request.headers.origin;
      if (origin === undefined || isSameOrigin(request, origin)) return false;
      if (!allowed.has(origin)) {
        response.writeHead(403, { "content-type": "text/plain; charset=utf-8", vary: "Origin" });
        response.end(`origin ${origin} is not allowed (see --cors-origins)\n`);
        return true;
      }
      response.setHeader("access-control-allow-origin", origin);
      response.setHeader("vary", "Origin");
      if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
        response.writeHead(204, {
          "access-control-allow-methods": connectCors.allowedMethods.join(", "),
          "access-control-allow-headers": [...connectCors.allowedHeaders, "Authorization"].join(", "),
          "access-control-max-age": "7200",
        });
        response.end();
        return true;
      }
      response.setHeader("access-control-expose-headers", connectCors.exposedHeaders.join(", "));
      return false;
    },
  };
}

/** Whether the Origin names this very server, as the request reached it. */
function isSameOrigin(request: Request, origin: string): boolean {
  const host = request.headers[":authority"] ?? request.headers.host;
  if (typeof host !== "string") return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
