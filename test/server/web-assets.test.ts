import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createWebAssets } from "../../src/server/web-assets.js";

async function serve(root: string): Promise<{ url: string; server: Server }> {
  const assets = createWebAssets(root);
  const server = createServer((request, response) => {
    if (!assets.handle(request, response)) {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe("the dashboard's files", () => {
  const built = mkdtempSync(join(tmpdir(), "tally-web-"));
  const empty = mkdtempSync(join(tmpdir(), "tally-web-empty-"));
  writeFileSync(join(built, "index.html"), "<!doctype html><title>Tally</title>");
  writeFileSync(join(built, "app.js"), "console.log(1)");
  after(() => {
    rmSync(built, { recursive: true });
    rmSync(empty, { recursive: true });
  });

  it("serves the page at / and its assets with their types and a strict CSP", async () => {
    const { url, server } = await serve(built);
    try {
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
      assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.doesNotMatch(page.headers.get("content-security-policy") ?? "", /unsafe-inline/);
      assert.equal(await page.text(), "<!doctype html><title>Tally</title>");
      assert.equal((await fetch(`${url}/app.js`)).headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal((await fetch(`${url}/../../etc/passwd`)).status, 404);
      assert.equal((await fetch(`${url}/app.css`)).status, 404);
      assert.equal((await fetch(`${url}/`, { method: "POST" })).status, 404);
    } finally {
      server.close();
    }
  });

  it("says how to build the page when it is not built", async () => {
    const { url, server } = await serve(empty);
    try {
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 503);
      assert.match(await page.text(), /run `npm run build`/);
    } finally {
      server.close();
    }
  });
});
