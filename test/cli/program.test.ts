import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
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
