import Database from "better-sqlite3";
import { DEFAULT_SCOPE } from "../src/domain/store.js";
import { MIGRATIONS } from "../src/store/sqlite/migrations.js";

/** A bulk load of one customer's current period, written straight into a stopped Tally's database. */
export interface BulkUsageOptions {
  /** Tally's database file; the server must not be running on it. */
  dbPath: string;
  /** The customer's Tally id (created through the API beforehand). */
  customerId: string;
  meterKey: string;
  /** How many events, each of quantity "1". */
  events: number;
  /** Events per transaction. Default 100000. */
  chunk?: number;
}

/**
 * Writes `events` usage records for one customer and meter into the current
 * period, and their running totals, exactly as Tally would have after
 * acknowledging them one by one: every row a RecordUsage would insert
 * (unique request_id and id, event times spread over the period so far, no
 * attributes) and the usage_totals row holding their exact sum, count and
 * maximum. The rows are generated inside SQLite (a recursive CTE), so a
 * million take seconds rather than the minutes the API would need.
 *
 * Refuses a database whose schema version is not the one this Tally's
 * migrations produce, so a schema change cannot slip a wrong layout past it.
 */
export function bulkLoadUsage(options: BulkUsageOptions): { seconds: number } {
  const startedAt = performance.now();
  const db = new Database(options.dbPath);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("cache_size = -262144");
    const version = db.pragma("user_version", { simple: true });
    if (version !== MIGRATIONS.length) throw new Error(`database is at schema version ${String(version)}, this Tally writes ${MIGRATIONS.length}`);
    const now = Date.now();
    const period = new Date(now).toISOString().slice(0, 7);
    const periodStart = Date.parse(`${period}-01T00:00:00Z`);
    const span = Math.max(1, now - periodStart);
    const insert = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
       INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                  requested_event_time, create_time, period, attributes)
       SELECT @tenant, printf('rec_bulk%024d', i), printf('bulk-%012d', i), @customerId, @meterKey, '1',
              @periodStart + (i * @span) / @total, @periodStart + (i * @span) / @total, @now, @period, '{}'
       FROM n`,
    );
    const chunk = options.chunk ?? 100_000;
    for (let from = 0; from < options.events; from += chunk) {
      const to = Math.min(options.events, from + chunk);
      db.transaction(() => {
        insert.run({ tenant: DEFAULT_SCOPE, from, to, customerId: options.customerId, meterKey: options.meterKey, periodStart, span, total: options.events, now, period });
      }).immediate();
    }
    db.transaction(() => {
      const existing = db
        .prepare(`SELECT quantity_sum, event_count FROM usage_totals WHERE tenant_id = ? AND customer_id = ? AND period = ? AND meter_key = ?`)
        .get(DEFAULT_SCOPE, options.customerId, period, options.meterKey);
      if (existing !== undefined) throw new Error("the bulk customer already has usage this period");
      db.prepare(
        `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max)
         VALUES (?, ?, ?, ?, ?, ?, '1')`,
      ).run(DEFAULT_SCOPE, options.customerId, period, options.meterKey, String(options.events), options.events);
    }).immediate();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return { seconds: (performance.now() - startedAt) / 1000 };
}

/** A bulk load of one customer's dimensioned and distinct usage in the current period. */
export interface BulkDimensionUsageOptions {
  /** Tally's database file; the server must not be running on it. */
  dbPath: string;
  /** The customer's Tally id (created through the API beforehand). */
  customerId: string;
  /** The SUM meter with dimensions, and its dimension keys in the meter's order. */
  meterKey: string;
  dimensions: string[];
  /** Each combination's attributes; event i gets combinations[i % length]. */
  combinations: Record<string, string>[];
  /** Events of the dimensioned meter, each of quantity "1". */
  events: number;
  /** The UNIQUE_COUNT meter (of attributes.user) and its events, each with a value of its own. */
  uniqueMeterKey: string;
  distinctValues: number;
  /** Events per transaction. Default 100000. */
  chunk?: number;
}

/**
 * Writes what Tally would hold after acknowledging, one by one, `events`
 * events of a dimensioned meter spread over its combinations and
 * `distinctValues` events of a UNIQUE_COUNT meter with a value each: the
 * usage_records rows, each meter's usage_totals row, a usage_dimension_totals
 * row per combination, and a usage_distinct_values row per value (live
 * count 1). Generated inside SQLite (recursive CTEs), as bulkLoadUsage does.
 */
export function bulkLoadDimensionUsage(options: BulkDimensionUsageOptions): { seconds: number } {
  const startedAt = performance.now();
  const db = new Database(options.dbPath);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("cache_size = -262144");
    const version = db.pragma("user_version", { simple: true });
    if (version !== MIGRATIONS.length) throw new Error(`database is at schema version ${String(version)}, this Tally writes ${MIGRATIONS.length}`);
    const now = Date.now();
    const period = new Date(now).toISOString().slice(0, 7);
    const periodStart = Date.parse(`${period}-01T00:00:00Z`);
    const span = Math.max(1, now - periodStart);
    const tenant = DEFAULT_SCOPE;
    // The combinations as a table: k, the event attributes' JSON, and the dimension key (the values as a JSON array, as dimensionKeyOf stores them).
    const combinations = options.combinations.map((attributes, k) => ({
      k,
      attributes: JSON.stringify(attributes),
      dimensionKey: JSON.stringify(options.dimensions.map((dimension) => attributes[dimension]!)),
    }));
    db.exec(`CREATE TEMP TABLE bench_combinations (k INTEGER PRIMARY KEY, attributes TEXT NOT NULL, dimension_key TEXT NOT NULL)`);
    const addCombination = db.prepare(`INSERT INTO bench_combinations VALUES (?, ?, ?)`);
    for (const combination of combinations) addCombination.run(combination.k, combination.attributes, combination.dimensionKey);
    const insertDimensioned = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
       INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                  requested_event_time, create_time, period, attributes)
       SELECT @tenant, printf('rec_bulkdim%021d', i), printf('bulkdim-%012d', i), @customerId, @meterKey, '1',
              @periodStart + (i * @span) / @total, @periodStart + (i * @span) / @total, @now, @period, c.attributes
       FROM n JOIN bench_combinations c ON c.k = n.i % @combinations`,
    );
    const insertDistinct = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
       INSERT INTO usage_records (tenant_id, id, request_id, customer_id, meter_key, quantity, event_time,
                                  requested_event_time, create_time, period, attributes)
       SELECT @tenant, printf('rec_bulkuser%020d', i), printf('bulkuser-%012d', i), @customerId, @meterKey, '1',
              @periodStart + (i * @span) / @total, @periodStart + (i * @span) / @total, @now, @period, printf('{"user":"user-%08d"}', i)
       FROM n`,
    );
    const insertValues = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
       INSERT INTO usage_distinct_values (tenant_id, customer_id, period, meter_key, dimension_key, value, live_count)
       SELECT @tenant, @customerId, @period, @meterKey, '', printf('user-%08d', i), 1 FROM n`,
    );
    const chunk = options.chunk ?? 100_000;
    const common = { tenant, customerId: options.customerId, periodStart, span, now, period };
    for (let from = 0; from < options.events; from += chunk) {
      const to = Math.min(options.events, from + chunk);
      db.transaction(() => insertDimensioned.run({ ...common, from, to, meterKey: options.meterKey, total: options.events, combinations: combinations.length })).immediate();
    }
    for (let from = 0; from < options.distinctValues; from += chunk) {
      const to = Math.min(options.distinctValues, from + chunk);
      db.transaction(() => {
        insertDistinct.run({ ...common, from, to, meterKey: options.uniqueMeterKey, total: options.distinctValues });
        insertValues.run({ tenant, customerId: options.customerId, period, meterKey: options.uniqueMeterKey, from, to });
      }).immediate();
    }
    db.transaction(() => {
      const meterTotals = db.prepare(
        `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max, distinct_count, combination_count)
         VALUES (?, ?, ?, ?, ?, ?, '1', ?, ?)`,
      );
      const combinationsWithUsage = Math.min(combinations.length, options.events);
      meterTotals.run(tenant, options.customerId, period, options.meterKey, String(options.events), options.events, 0, combinationsWithUsage);
      meterTotals.run(tenant, options.customerId, period, options.uniqueMeterKey, String(options.distinctValues), options.distinctValues, options.distinctValues, 0);
      const combinationTotals = db.prepare(
        `INSERT INTO usage_dimension_totals (tenant_id, customer_id, period, meter_key, dimension_key, quantity_sum, event_count, quantity_max, distinct_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, '1', 0)`,
      );
      for (const combination of combinations) {
        // Events k, k + n, k + 2n, ... below `events`.
        const count = Math.max(0, Math.ceil((options.events - combination.k) / combinations.length));
        combinationTotals.run(tenant, options.customerId, period, options.meterKey, combination.dimensionKey, String(count), count);
      }
    }).immediate();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return { seconds: (performance.now() - startedAt) / 1000 };
}
