import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

const run = promisify(execFile);

/**
 * An installed Tally without tsx: package.json, bin/ and a copy of dist/ in a
 * scratch directory whose node_modules links every installed package except
 * tsx. dist/ is copied, not linked, so that its imports resolve from the
 * scratch directory (Node follows a symlink to its real path first).
 */
function installWithoutTsx(path: string): void {
  assert.ok(existsSync("dist/src/cli/program.js"), "dist/ is not built: run `npm run build` (npm test's pretest does)");
  cpSync("package.json", join(path, "package.json"));
  cpSync("bin", join(path, "bin"), { recursive: true });
  cpSync("dist", join(path, "dist"), { recursive: true });
  const installed = realpathSync("node_modules");
  mkdirSync(join(path, "node_modules"));
  for (const name of readdirSync(installed)) {
    if (name === "tsx" || name.startsWith(".")) continue;
    symlinkSync(join(installed, name), join(path, "node_modules", name));
  }
}

describe("the compiled build", () => {
  const scratch = scratchDirectory("tally-compiled-");
  const app = join(scratch.path, "app");
  let tally: TallyProcess | undefined;

  before(() => {
    mkdirSync(app);
    installWithoutTsx(app);
    assert.ok(!existsSync(join(app, "node_modules", "tsx")));
  });

  after(async () => {
    if (tally !== undefined && tally.child.exitCode === null && tally.child.signalCode === null) {
      tally.child.kill("SIGKILL");
      await tally.exited;
    }
    scratch.cleanup();
  });

  it("tally --version runs without tsx installed", async () => {
    const { stdout } = await run(process.execPath, ["bin/tally.js", "--version"], { cwd: app, timeout: 30_000 });
    assert.match(stdout, /^\d+\.\d+\.\d+(-[\w.]+)?\n$/);
  });

  it("tally serve starts, answers /healthz and writes through its SQLite writer thread without tsx installed", async () => {
    tally = await startTallyProcess(join(scratch.path, "tally.db"), [], {}, app);
    const healthz = await fetch(`${tally.url}/healthz`);
    assert.equal(healthz.status, 200);
    assert.equal(await healthz.text(), "SERVING\n");

    const call = (method: string, body: unknown) =>
      fetch(`${tally!.url}/billing.v1.CustomerService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_KEY}` },
        body: JSON.stringify(body),
      });
    const created = await call("CreateCustomer", { requestId: "compiled-1", customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
    assert.equal(created.status, 200, await created.clone().text());
    const { customer } = (await created.json()) as { customer: { id: string } };
    const fetched = await call("GetCustomer", { id: customer.id });
    assert.equal(fetched.status, 200);
    assert.equal(((await fetched.json()) as { customer: { externalId: string } }).customer.externalId, "acme");

    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
  });
});
