import { readFileSync } from "node:fs";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { extname, join } from "node:path";
import { PACKAGE_ROOT } from "../package-info.js";

type Request = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[0];
type Response = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[1];

/** Where `npm run build` writes the dashboard. */
export const WEB_ROOT = join(PACKAGE_ROOT, "dist/web");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The page may load only its own scripts and styles and talk only to this server. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * Serves the built dashboard (index.html at "/", its assets by name) from
 * `root`, read once at start. Returns false for any other path.
 */
export function createWebAssets(root: string = WEB_ROOT) {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ["index.html", "app.js", "app.js.map", "app.css"]) {
    try {
      files.set(`/${name}`, { body: readFileSync(join(root, name)), type: CONTENT_TYPES[extname(name)]! });
    } catch {
      // Not built: "/" explains how to build it.
    }
  }
  return {
    handle(request: Request, response: Response): boolean {
      if (request.method !== "GET" && request.method !== "HEAD") return false;
      const path = new URL(request.url ?? "/", "http://tally").pathname;
      const file = files.get(path === "/" ? "/index.html" : path);
      if (file === undefined) {
        if (path !== "/") return false;
        response.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
        response.end("The dashboard is not built: run `npm run build` (npm ci, npm start and npm test do it).\n");
        return true;
      }
      response.writeHead(200, { "content-type": file.type, "cache-control": "no-cache", ...SECURITY_HEADERS });
      if (request.method === "HEAD") response.end();
      else response.end(file.body);
      return true;
    },
  };
}
