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

  it("keeps prices stored before pricing models as graduated, with their tiers", async () => {
    const path = newPath().replace("nested/dir/", "");
    const pricingModels = MIGRATIONS.findIndex((migration) => migration.includes("ADD COLUMN model"));
    const db = new Database(path);
    for (const migration of MIGRATIONS.slice(0, pricingModels)) db.exec(migration);
    db.pragma(`user_version = ${pricingModels}`);
    db.prepare(
      `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id)
       VALUES ('default', 'price_old', 'calls', 'USD', 1, '2026-10', '[["100","0.1"],[null,"0.05"]]', 1, 'p1')`,
    ).run();
    db.close();
    const store = openSqliteStore({ path });
    const [price] = (await store.listPrices("default", "", { limit: 10, after: null })).items;
    await store.close();
    assert.equal(price?.model, "graduated");
    assert.equal(price?.packageSize, null);
    assert.deepEqual(price?.tiers.map((tier) => [tier.upTo?.toString() ?? null, tier.unitAmount.toString(), tier.flatAmount]), [
      ["100", "0.1", null],
      [null, "0.05", null],
    ]);
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
