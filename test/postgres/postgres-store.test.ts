import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import { FailureError } from "../../src/domain/failure.js";
import { MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { StoreUnavailableError } from "../../src/domain/store.js";
import { openPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { feedContract } from "../store/feed-contract.js";
import { type StoreHarness, storeContract } from "../store/store-contract.js";
import { usageLimitsContract } from "../store/usage-limits-contract.js";
import { createTestDatabase, queryDatabase } from "../support/postgres.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const postgresHarness: StoreHarness = {
  async freshDatabase(quotas, options) {
    const url = await createTestDatabase();
    return () => openPostgresStore({ url, quotas, ...options });
  },
};
storeContract("PostgreSQL", postgresHarness);
feedContract("PostgreSQL", postgresHarness);

usageLimitsContract("PostgreSQL", {
  async freshDatabase(quotas) {
    const url = await createTestDatabase();
    return () => openPostgresStore({ url, quotas });
  },
});

describe("PostgreSQL store", () => {
  it("migrates once when several processes open a new database at the same moment", async () => {
    const url = await createTestDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ url })));
    await Promise.all(stores.map((store) => store.close()));
    const reopened = await openPostgresStore({ url }); // already migrated: must not re-run
    await reopened.close();
    const versions = await queryDatabase(url, `SELECT version FROM tally_schema_migrations ORDER BY version`);
    assert.deepEqual(versions.map((row) => row.version), MIGRATIONS.map((_, index) => index + 1));
  });

  it("keeps prices stored before pricing models as graduated, with their tiers", async () => {
    const url = await createTestDatabase();
    const pricingModels = MIGRATIONS.findIndex((migration) => migration.includes("ADD COLUMN model"));
    await queryDatabase(url, `CREATE TABLE tally_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    for (const [index, migration] of MIGRATIONS.slice(0, pricingModels).entries()) {
      await queryDatabase(url, migration);
      await queryDatabase(url, `INSERT INTO tally_schema_migrations (version) VALUES ($1)`, [index + 1]);
    }
    await queryDatabase(
      url,
      `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id)
       VALUES ('default', 'price_old', 'calls', 'USD', 1, '2026-10', '[["100","0.1"],[null,"0.05"]]', 1, 'p1')`,
    );
    const store = await openPostgresStore({ url });
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
    const url = await createTestDatabase();
    const dimensions = MIGRATIONS.findIndex((migration) => migration.includes("usage_dimension_totals"));
    await queryDatabase(url, `CREATE TABLE tally_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    for (const [index, migration] of MIGRATIONS.slice(0, dimensions).entries()) {
      await queryDatabase(url, migration);
      await queryDatabase(url, `INSERT INTO tally_schema_migrations (version) VALUES ($1)`, [index + 1]);
    }
    for (const statement of [
      `INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id) VALUES ('default', 'cus_1', '', 'A', 'USD', 1, 'c1')`,
      `INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, "precision", create_time, request_id) VALUES ('default', 'peak', 'Peak', 'seat', 'max', 0, 1, 'm1')`,
      `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id)
         VALUES ('default', 'price_1', 'peak', 'USD', 1, '2026-10', '[[null,"2"]]', 1, 'p1'), ('default', 'price_2', 'peak', 'USD', 2, '2026-10', '[[null,"3"]]', 1, 'p2')`,
      `INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time, requested_event_time, create_time, period, attributes)
         VALUES ('default', 'rec_a', 'a', 'cus_1', 'peak', '4', 1, NULL, 1, '2026-11', '{"region":"eu"}'),
                ('default', 'rec_b', 'b', 'cus_1', 'peak', '9', 2, NULL, 2, '2026-11', '{}')`,
      `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max) VALUES ('default', 'cus_1', '2026-11', 'peak', '13', 2, '9')`,
    ]) {
      await queryDatabase(url, statement);
    }
    const store = await openPostgresStore({ url });
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

  it("refuses a database from a newer Tally", async () => {
    const url = await createTestDatabase();
    await (await openPostgresStore({ url })).close();
    await queryDatabase(url, `INSERT INTO tally_schema_migrations (version) VALUES ($1)`, [MIGRATIONS.length + 1]);
    await assert.rejects(openPostgresStore({ url }), /newer than this Tally/);
  });

  it("refuses a server that does not make commits durable", async () => {
    const url = new URL(await createTestDatabase());
    url.searchParams.set("options", "-c synchronous_commit=off");
    await assert.rejects(openPostgresStore({ url: url.toString() }), /synchronous_commit=off/);
  });

  it("refuses U+0000 in a text field (PostgreSQL's TEXT cannot hold it) as invalid input, and finds nothing by such a key", async () => {
    const store = await openPostgresStore({ url: await createTestDatabase() });
    try {
      await assert.rejects(
        store.createCustomer("default", "c1", { id: "cus_1", externalId: "", displayName: "A\u0000B", currencyCode: "USD", createTime: 1 }),
        (error: unknown) => error instanceof FailureError && error.failure.reason === "INVALID_FIELD",
      );
      assert.equal(await store.findCustomer("default", "cus\u00001"), undefined);
      assert.equal(await store.findUsageByRequestId("default", "r\u0000"), undefined);
      assert.equal((await store.createCustomer("default", "c1", { id: "cus_1", externalId: "", displayName: "AB", currencyCode: "USD", createTime: 1 })).kind, "created");
      await store.createMeter("default", "m1", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 0, uniqueAttribute: "", dimensions: [], createTime: 1 });
      // Only the event with such a request_id is refused, not the others written beside it.
      const event = (requestId: string) => ({
        record: { id: `rec_${requestId.length}`, requestId, customerId: "cus_1", meterKey: "hosting", quantity: Decimal.parse("1")!, eventTime: 1, requestedEventTime: null, createTime: 1, period: "1970-01", attributes: {} },
      });
      const [bad, good] = await Promise.all([store.recordUsage("default", [event("bad\u0000")], false), store.recordUsage("default", [event("good")], false)]);
      assert.equal(bad[0]?.kind === "refused" && bad[0].failure.reason, "INVALID_FIELD");
      assert.equal(good[0]?.kind, "recorded");
    } finally {
      await store.close();
    }
  });

  it("answers STORE_UNAVAILABLE, never a fault or a false success, when the connection breaks or the database is down", async () => {
    const url = new URL(await createTestDatabase());
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) }, 50);
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    const store = await openPostgresStore({ url: viaProxy.toString(), connectTimeoutMs: 2000 });
    const unavailable = (error: unknown) => error instanceof StoreUnavailableError && error.condition === "unreachable";
    const customer = (id: string) => ({ id, externalId: "", displayName: "A", currencyCode: "USD", createTime: 1 });
    try {
      // The answer to a write is lost on the way: the caller hears UNAVAILABLE, and its retry settles it.
      proxy.cutResponses(1);
      await assert.rejects(store.createCustomer("default", "c1", customer("cus_1")), unavailable);
      const retry = await store.createCustomer("default", "c1", customer("cus_2"));
      assert.ok(retry.kind === "created" || (retry.kind === "exists" && retry.value.id === "cus_1"), retry.kind);
      const rows = await queryDatabase(url.toString(), `SELECT id FROM customers WHERE request_id = 'c1'`);
      assert.equal(rows.length, 1);
      // The database is down: reads and writes are UNAVAILABLE, and usage records nothing.
      proxy.setRefusing(true);
      await assert.rejects(store.findCustomer("default", "cus_1"), unavailable);
      await assert.rejects(store.createCustomer("default", "c2", customer("cus_3")), unavailable);
      proxy.setRefusing(false);
      assert.equal((await store.findCustomer("default", rows[0]!.id as string))?.id, rows[0]!.id);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
