import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { clientsFor, TEST_ADMIN_KEY, transportFor } from "../support/clients.js";
import { assertRefused, refusal } from "../support/errors.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

const run = promisify(execFile);

/** Runs `tally keys ...`; its stdout, stderr and exit code. */
async function keys(db: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/tally.js", "keys", ...args, "--db", db], { timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe("tally keys, against a running server", () => {
  const scratch = scratchDirectory();
  const db = join(scratch.path, "tally.db");
  let server: TallyProcess;
  before(async () => {
    server = await startTallyProcess(db);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    scratch.cleanup();
  });

  it("creates a key the running server accepts at once, lists it, and revokes it", async () => {
    const created = await keys(db, "create", "--role", "read", "--tenant", "default", "--name", "dashboard");
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trimEnd().split("\n").at(-1)!;
    assert.match(key, /^tally_k[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/, "the last line is the key alone");

    const reader = clientsFor(transportFor("connect-json-h1", server.url, key));
    assert.deepEqual((await reader.customers.listCustomers({})).customers, []);
    await assertRefused(
      reader.usage.recordUsage({ requestId: "r", customerId: "acme", meterKey: "m", quantity: "1" }),
      Code.PermissionDenied,
      "ROLE_NOT_PERMITTED",
    );

    const id = /^tally_(k[0-9a-f]{16})_/.exec(key)![1]!;
    const listed = await keys(db, "list");
    const row = listed.stdout.split("\n").find((line) => line.startsWith(id));
    assert.ok(row !== undefined, listed.stdout);
    assert.deepEqual(row.split(/\s+/).slice(1, 3), ["read", "default"]);
    assert.ok(!listed.stdout.includes(key), "the key itself is never listed");

    const revoked = await keys(db, "revoke", id);
    assert.equal(revoked.code, 0, revoked.stderr);
    // The server trusts a key it verified for up to 5 seconds.
    let code: Code | undefined;
    for (let attempt = 0; attempt < 40 && code !== Code.Unauthenticated; attempt++) {
      code = (await refusal(reader.customers.listCustomers({})).catch(() => ({ code: undefined }))).code;
      if (code !== Code.Unauthenticated) await delay(250);
    }
    assert.equal(code, Code.Unauthenticated, "a revoked key is refused");
    assert.match((await keys(db, "list")).stdout, new RegExp(`${id}\\s+read\\s+default\\s+\\S+\\s+20\\d\\d-`), "list shows when it was revoked");

    const unknown = await keys(db, "revoke", "k0000000000000000");
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no API key has id "k0000000000000000"/);
  });

  it("refuses an unknown role or a malformed tenant", async () => {
    const role = await keys(db, "create", "--role", "owner");
    assert.notEqual(role.code, 0);
    assert.match(role.stderr, /Allowed choices are ingest, read, admin/);
    const tenant = await keys(db, "create", "--role", "read", "--tenant", "a b");
    assert.notEqual(tenant.code, 0);
    assert.match(tenant.stderr, /is not a tenant/);
  });

  it("never writes a key to the log", async () => {
    const created = await keys(db, "create", "--role", "admin");
    const key = created.stdout.trimEnd().split("\n").at(-1)!;
    const admin = clientsFor(transportFor("grpc", server.url, key));
    await admin.customers.createCustomer({ requestId: "c1", customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
    await clientsFor(transportFor("grpc", server.url)).customers.getCustomer({ id: "acme" });
    await refusal(clientsFor(transportFor("grpc", server.url, `${key}x`)).customers.getCustomer({ id: "acme" }));
    await delay(200); // the log is written asynchronously
    const log = JSON.stringify(server.logs);
    assert.ok(server.logs.some((line) => line.msg === "call"), "calls are logged");
    assert.ok(!log.includes(key.slice(20)), "no stored key in the log");
    assert.ok(!log.includes(TEST_ADMIN_KEY), "no bootstrap key in the log");
  });
});

describe("tally keys, without a server", () => {
  const scratch = scratchDirectory();
  after(() => scratch.cleanup());

  it("refuses a --db that does not exist (a typo would make a new, empty database), unless --create", async () => {
    const typo = join(scratch.path, "typo.db");
    for (const args of [["create", "--role", "read"], ["list"], ["revoke", "k0000000000000000"]]) {
      const refused = await keys(typo, ...args);
      assert.equal(refused.code, 1, `${args[0]}: ${refused.stderr}`);
      assert.equal(refused.stderr.trim(), `tally: no database at "${typo}"; check --db (TALLY_DB or TALLY_DATABASE_URL), or pass --create to make a new one`);
      assert.ok(!existsSync(typo), `${args[0]} made no database`);
    }
    const created = await keys(typo, "create", "--role", "read", "--create");
    assert.equal(created.code, 0, created.stderr);
    assert.ok(existsSync(typo));
    assert.match((await keys(typo, "list")).stdout, /read\s+default/);
  });
});
