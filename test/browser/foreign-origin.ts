import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A page on another origin than Tally's, and how to stop it. */
export interface ForeignOrigin {
  /** e.g. "http://127.0.0.1:41234" */
  origin: string;
  /** The probe page that calls `tallyUrl` from this origin, its POST carrying `apiKey`. */
  probeUrl(tallyUrl: string, apiKey: string): string;
  close(): Promise<void>;
}

/** What the probe page saw, read with `window.probeResult`. */
export interface ProbeResult {
  /** A Connect GET without a key (a "simple" request: no preflight). */
  get: string;
  /** A Connect JSON POST with the key (preflighted). */
  post: string;
}

// Served as a file, not inline, to mirror a real third-party page. It calls
// Tally the way a foreign page would, with fetch, once without a preflight
// (GET, so without a key) and once with one (JSON POST with the key), and
// says what each saw.
const PROBE_SCRIPT = `
const params = new URLSearchParams(location.search);
const tally = params.get("tally");
const key = params.get("key");
const method = "/billing.v1.CustomerService/ListCustomers";
const outcome = (promise) => promise.then(
  async (response) => response.ok ? "ok:" + (await response.json()).customers.length : "status:" + response.status,
  (error) => "failed:" + error.name,
);
Promise.all([
  outcome(fetch(tally + method + "?connect=v1&encoding=json&message=" + encodeURIComponent("{}"))),
  outcome(fetch(tally + method, { method: "POST", headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization: "Bearer " + key }, body: "{}" })),
]).then(([get, post]) => { window.probeResult = { get, post }; });
`;

/**
 * A second local HTTP server, on another port of 127.0.0.1 and so another
 * origin, serving a page whose script calls Tally cross-origin.
 */
export async function startForeignOrigin(): Promise<ForeignOrigin> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://probe").pathname;
    if (path === "/probe.js") {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      response.end(PROBE_SCRIPT);
    } else if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end('<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>probe</title><script src="/probe.js"></script></head><body></body></html>');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    probeUrl: (tallyUrl, apiKey) => `${origin}/?${new URLSearchParams({ tally: tallyUrl, key: apiKey })}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
