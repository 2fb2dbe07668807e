import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_TIME_RULES, defaultServeConfig, duration, formatDuration, SERVE_DEFAULTS, serveOptions } from "../src/config.js";

describe("config", () => {
  it("every flag of tally serve with a default takes it from SERVE_DEFAULTS, and every default has its flag and TALLY_* variable", () => {
    const config = defaultServeConfig() as unknown as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)),
      { ...SERVE_DEFAULTS },
    );
    for (const option of serveOptions()) assert.match(option.envVar ?? "", /^TALLY_[A-Z_]+$/, `${option.flags} has a TALLY_* variable`);
  });

  it("the time rules' default finalize grace is the setting's", () => {
    assert.equal(DEFAULT_TIME_RULES.finalizeGraceMs, SERVE_DEFAULTS.finalizeGrace);
  });

  it("formatDuration writes what duration reads", () => {
    for (const text of ["72h", "30m", "10s", "250ms", "0ms"]) assert.equal(formatDuration(duration(text)), text);
  });
});
