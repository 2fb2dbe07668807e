import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { demoKeysFor } from "../src/demo-banner.js";
import { scratchDirectory } from "./support/tally-process.js";

describe("the demo's keys", () => {
  const scratch = scratchDirectory();
  after(() => scratch.cleanup());

  it("survive a restart of the same SQLite demo database, kept beside it for its owner only", () => {
    const db = join(scratch.path, "tally.db");
    const first = demoKeysFor(db, true);
    assert.match(first.admin, /^tally_demo_[A-Za-z0-9_-]{32}$/);
    assert.notEqual(first.admin, first.read);
    assert.equal(first.file, `${db}.demo-keys`);
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    assert.deepEqual(demoKeysFor(db, true), first, "the same pair on the next start");
    assert.notEqual(demoKeysFor(join(scratch.path, "other.db"), true).admin, first.admin, "another database, another pair");
  });

  it("are made anew when the file is gone or not a pair of demo keys, and each start on PostgreSQL", () => {
    const db = join(scratch.path, "broken.db");
    writeFileSync(`${db}.demo-keys`, '{"admin":"guessable","read":"x"}');
    const made = demoKeysFor(db, true);
    assert.match(made.admin, /^tally_demo_/);
    assert.equal(JSON.parse(readFileSync(`${db}.demo-keys`, "utf8")).admin, made.admin);
    const postgres = demoKeysFor("postgres://tally@127.0.0.1/tally", false);
    assert.equal(postgres.file, undefined);
    assert.notEqual(demoKeysFor("postgres://tally@127.0.0.1/tally", false).admin, postgres.admin);
  });
});
