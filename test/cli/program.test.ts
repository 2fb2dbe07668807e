import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const PACKAGE = JSON.parse(readFileSync("package.json", "utf8")) as { version: string; bin: { tally: string } };

/** Runs the `tally` bin (the compiled build) with `args`; its stdout, stderr and exit code. */
async function tally(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [PACKAGE.bin.tally, ...args], { timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe("the tally command line", () => {
  it("tally --version (and -V) prints the version in package.json and nothing else", async () => {
    for (const flag of ["--version", "-V"]) {
      const { stdout, stderr, code } = await tally(flag);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, `${PACKAGE.version}\n`);
      assert.equal(stderr, "");
    }
  });

  it("tally --help names every command and the version flag", async () => {
    const { stdout, stderr, code } = await tally("--help");
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Usage: tally \[options\] \[command\]/);
    for (const command of ["serve", "simulate", "keys"]) assert.match(stdout, new RegExp(`^  ${command}\\b`, "m"), `--help lists ${command}`);
    assert.match(stdout, /-V, --version/);
  });

  it("tally serve --help shows each setting with its TALLY_* variable and default", async () => {
    const { stdout, code } = await tally("serve", "--help");
    assert.equal(code, 0);
    const help = stdout.replace(/\s+/g, " "); // commander wraps lines to the terminal's width
    assert.match(help, /--port <port> port to listen on; 0 picks a free port \(default: 8080, env: TALLY_PORT\)/);
    assert.match(help, /--db <path-or-url> .*? \(default: "\.\/data\/tally\.db", env: TALLY_DB\)/);
  });

  it("an unknown command fails with the usage, exit code 1", async () => {
    const { stderr, code } = await tally("serv");
    assert.equal(code, 1);
    assert.match(stderr, /unknown command 'serv'/);
  });
});

// An operator's first hour: a start that cannot succeed says why in one line
// on stderr (no stack trace) and exits 1.
describe("tally serve start-up failures", () => {
  const scratch = mkdtempSync(join(tmpdir(), "tally-startup-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  async function refusedStart(...args: string[]): Promise<string> {
    const { stdout, stderr, code } = await tally("serve", "--log-level", "warn", ...args);
    assert.equal(code, 1, stdout);
    assert.equal(stderr.trimEnd().split("\n").length, 1, `one line: ${stderr}`);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
    return stderr.trim();
  }

  it("a port in use", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      assert.equal(
        await refusedStart("--port", String(port), "--db", join(scratch, "a.db")),
        `tally: cannot listen on 127.0.0.1:${port}: it is already in use; stop what listens there or choose another port with --port (TALLY_PORT), or 0 for any free one`,
      );
    } finally {
      holder.close();
    }
  });

  it("a database whose folder is a file, and a database that is a folder", async () => {
    writeFileSync(join(scratch, "plain-file"), "");
    assert.match(await refusedStart("--port", "0", "--db", join(scratch, "plain-file", "x.db")), /^tally: cannot open the database .*plain-file\/x\.db: ".*plain-file" is a file where a folder is needed; check --db/);
    assert.match(await refusedStart("--port", "0", "--db", scratch), /^tally: cannot open the database .*: SQLite cannot open it .*; check --db/);
  });

  it("a TLS file that is not there, and a PostgreSQL server that is not there (its password hidden)", async () => {
    assert.equal(
      await refusedStart("--port", "0", "--db", join(scratch, "b.db"), "--tls-cert", join(scratch, "missing.pem"), "--tls-key", join(scratch, "missing.key")),
      `tally: cannot read --tls-cert "${join(scratch, "missing.pem")}": no such file`,
    );
    const refused = await refusedStart("--port", "0", "--db", "postgres://tally:secret@127.0.0.1:1/tally");
    assert.match(refused, /^tally: cannot open the database postgres:\/\/tally:\*\*\*@127\.0\.0\.1:1\/tally: nothing accepts connections/);
  });

  it("an on/off variable that is neither", async () => {
    const { stderr, code } = await run(process.execPath, [PACKAGE.bin.tally, "serve", "--port", "0", "--db", join(scratch, "c.db")], {
      env: { ...process.env, TALLY_DEMO: "maybe" },
    }).then(
      (done) => ({ ...done, code: 0 }),
      (failed: { stderr: string; code: number }) => failed,
    );
    assert.equal(code, 1);
    assert.equal(stderr.trim(), 'tally: TALLY_DEMO="maybe" is neither on (1, true, on, yes) nor off (0, false, off, no)');
  });
});
