import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { build } from "esbuild";

describe("the client library in browsers", () => {
  it("bundles for the browser through the package's ./client export with no Node built-ins", async () => {
    const result = await build({
      stdin: {
        contents: `import { createBillingClient } from "tally/client"; export const client = createBillingClient({ baseUrl: "https://tally.example" });`,
        resolveDir: process.cwd(),
        loader: "ts",
      },
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((input) => input.endsWith("clients/typescript/src/browser.ts")), "the browser condition was not used");
    assert.ok(!inputs.some((input) => input.includes("connect-node")), "connect-node reached the browser bundle");
    assert.ok(inputs.some((input) => input.includes("connect-web")));
  });
});
