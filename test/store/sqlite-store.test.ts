import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { feedContract } from "./feed-contract.js";
import { type StoreHarness, storeContract } from "./store-contract.js";
import { usageLimitsContract } from "./usage-limits-contract.js";

const directory = mkdtempSync(join(tmpdir(), "tally-store-"));
after(() => rmSync(directory, { recursive: true, force: true }));
let databases = 0;
const newPath = () => join(directory, `nested/dir/${++databases}.db`);

const sqliteHarness: StoreHarness = {
  async freshDatabase(quotas, options) {
    const path = newPath();
    return async () => openSqliteStore({ path, quotas, ...options });
  },
};
storeContract("SQLite", sqliteHarness);
feedContract("SQLite", sqliteHarness);

usageLimitsContract("SQLite", {
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

  it("keeps meters, prices and running totals stored before dimensions: no dimensions, catalog prices numbered on, totals still valid", async () => {
    const path = newPath().replace("nested/dir/", "");
    const dimensions = MIGRATIONS.findIndex((migration) => migration.includes("usage_dimension_totals"));
    const db = new Database(path);
    for (const migration of MIGRATIONS.slice(0, dimensions)) db.exec(migration);
    db.pragma(`user_version = ${dimensions}`);
    db.exec(`
      INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id) VALUES ('default', 'cus_1', '', 'A', 'USD', 1, 'c1');
      INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id) VALUES ('default', 'peak', 'Peak', 'seat', 'max', 0, 1, 'm1');
      INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id)
        VALUES ('default', 'price_1', 'peak', 'USD', 1, '2026-10', '[[null,"2"]]', 1, 'p1'), ('default', 'price_2', 'peak', 'USD', 2, '2026-10', '[[null,"3"]]', 1, 'p2');
      INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time, requested_event_time, create_time, period, attributes)
        VALUES ('default', 'rec_a', 'a', 'cus_1', 'peak', '4', 1, NULL, 1, '2026-11', '{"region":"eu"}'),
               ('default', 'rec_b', 'b', 'cus_1', 'peak', '9', 2, NULL, 2, '2026-11', '{}');
      INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max) VALUES ('default', 'cus_1', '2026-11', 'peak', '13', 2, '9');
    `);
    db.close();
    const store = openSqliteStore({ path });
    try {
      const meter = await store.findMeter("default", "peak");
      assert.deepEqual([meter?.aggregation, meter?.dimensions, meter?.uniqueAttribute], ["max", [], ""]);
      const [totals] = await store.usageTotals("default", "cus_1", "2026-11");
      assert.deepEqual([totals?.sum.toString(), totals?.count, totals?.max.toString(), totals?.distinct, totals?.latest, totals?.dimensionValues], ["13", 2, "9", 0, null, []]);
      const [effective] = await store.effectivePrices("default", "USD", "2026-11", [{ meterKey: "peak", dimensionKey: "", customerId: "" }]);
      assert.deepEqual([effective?.id, effective?.dimensionValues, effective?.customerId], ["price_2", {}, ""]);
      const next = await store.createPrice("default", "p3", { ...effective!, id: "price_3", createTime: 2 });
      assert.equal(next.kind === "created" && next.value.version, 3);
      await store.voidUsage("default", "rec_b", "wrong", 3);
      const [after] = await store.usageTotals("default", "cus_1", "2026-11");
      assert.deepEqual([after?.sum.toString(), after?.count, after?.max.toString()], ["4", 1, "4"]);
    } finally {
      await store.close();
    }
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
