import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { storeContract } from "./store-contract.js";

const directory = mkdtempSync(join(tmpdir(), "tally-store-"));
after(() => rmSync(directory, { recursive: true, force: true }));
let databases = 0;
const newPath = () => join(directory, `nested/dir/${++databases}.db`);

storeContract("SQLite", {
  async freshDatabase(quotas) {
    const path = newPath();
    return async () => openSqliteStore({ path, quotas });
  },
});

describe("SQLite store", () => {
  it("creates its directory, runs in WAL with synchronous=FULL, and migrates once", async () => {
    const path = newPath();
    const store = openSqliteStore({ path });
    await store.close();
    const reopened = openSqliteStore({ path }); // migrations already applied: must not re-run
    await reopened.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("user_version", { simple: true }), MIGRATIONS.length);
    db.close();
  });

  it("refuses a database from a newer Tally", () => {
    const path = newPath();
    openSqliteStore({ path }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openSqliteStore({ path }), /newer than this Tally/);
  });
});
