import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Command } from "commander";
import {
  booleanEnvironment,
  DEFAULT_TIME_RULES,
  defaultServeConfig,
  duration,
  formatDuration,
  SERVE_DEFAULTS,
  type ServeConfig,
  serveOptions,
} from "../src/config.js";

describe("config", () => {
  it("every flag of tally serve with a default takes it from SERVE_DEFAULTS, and every default has its flag and TALLY_* variable", () => {
    const config = defaultServeConfig() as unknown as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)),
      { ...SERVE_DEFAULTS },
    );
    for (const option of serveOptions()) assert.match(option.envVar ?? "", /^TALLY_[A-Z_]+$/, `${option.flags} has a TALLY_* variable`);
  });

  it("every setting has its row in the README's configuration table (flag and variable)", () => {
    const readme = readFileSync("README.md", "utf8");
    const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
    const rows = table.split("\n").filter((line) => line.startsWith("| `--"));
    for (const option of serveOptions()) {
      const row = rows.find((line) => line.split("|")[1]!.includes(`\`${option.long}\``));
      assert.ok(row !== undefined, `${option.long} has a row`);
      assert.ok(row.includes(`\`${option.envVar}`), `${option.long}'s row names ${option.envVar}`);
    }
  });

  it("the time rules' default finalize grace is the setting's", () => {
    assert.equal(DEFAULT_TIME_RULES.finalizeGraceMs, SERVE_DEFAULTS.finalizeGrace);
  });

  it("formatDuration writes what duration reads", () => {
    for (const text of ["72h", "30m", "10s", "250ms", "0ms"]) assert.equal(formatDuration(duration(text)), text);
  });
});

/** The settings `tally serve` would run with, given these arguments and TALLY_* variables. */
async function parseServe(args: string[], environment: Record<string, string>): Promise<ServeConfig> {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith("TALLY_")) delete process.env[name];
  Object.assign(process.env, environment);
  try {
    let parsed: ServeConfig | undefined;
    const program = new Command("tally").exitOverride();
    const serve = program.command("serve").exitOverride();
    for (const option of serveOptions()) serve.addOption(option);
    serve.hook("preAction", booleanEnvironment);
    serve.action((config: ServeConfig) => {
      parsed = config;
    });
    await program.parseAsync(["node", "tally", "serve", ...args]);
    return parsed!;
  } finally {
    process.env = saved;
  }
}

describe("on/off settings", () => {
  it("serve on the gRPC fast path by default", async () => {
    assert.equal(defaultServeConfig().grpcFastPath, true);
    assert.equal((await parseServe([], {})).grpcFastPath, true);
  });

  it("read their TALLY_* variable by its value, not by whether it is set", async () => {
    assert.equal((await parseServe([], { TALLY_GRPC_FAST_PATH: "0" })).grpcFastPath, false);
    assert.equal((await parseServe([], { TALLY_GRPC_FAST_PATH: "off" })).grpcFastPath, false);
    assert.equal((await parseServe([], { TALLY_GRPC_FAST_PATH: "1" })).grpcFastPath, true);
    assert.equal((await parseServe([], { TALLY_DEMO: "false" })).demo, false);
    assert.equal((await parseServe([], { TALLY_DEMO: "true" })).demo, true);
    assert.equal((await parseServe([], { TALLY_PUBLIC_REFLECTION: "0" })).publicReflection, false);
  });

  it("let a flag win over the variable", async () => {
    assert.equal((await parseServe(["--no-grpc-fast-path"], { TALLY_GRPC_FAST_PATH: "1" })).grpcFastPath, false);
    assert.equal((await parseServe(["--demo"], { TALLY_DEMO: "false" })).demo, true);
  });

  it("refuse a value that is neither on nor off, naming the variable", async () => {
    await assert.rejects(parseServe([], { TALLY_GRPC_FAST_PATH: "maybe" }), /TALLY_GRPC_FAST_PATH="maybe" is neither on/);
  });
});
