/**
 * The PostgreSQL schema, as an append-only list of migrations. Migration N
 * brings a database from version N-1 to N (recorded in
 * tally_schema_migrations); a released migration is never edited. The tables
 * mirror the SQLite adapter's: every table carries tenant_id, so every read
 * and every idempotency key is scoped to the caller's tenant. Quantities and
 * totals are TEXT holding the domain's exact decimal strings (no float ever
 * touches them); tiers and attributes are JSON text (JSONB cannot hold
 * "\u0000", which a valid attribute may); times are epoch milliseconds in BIGINT.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE customers (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id)
  );
  CREATE UNIQUE INDEX customers_by_external_id ON customers (tenant_id, external_id) WHERE external_id <> '';

  CREATE TABLE meters (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    unit TEXT NOT NULL,
    aggregation TEXT NOT NULL CHECK (aggregation IN ('sum', 'count', 'max')),
    "precision" INTEGER NOT NULL,
    create_time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, key),
    UNIQUE (tenant_id, request_id)
  );

  CREATE TABLE prices (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_period TEXT NOT NULL,
    tiers TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, meter_key, currency_code, version),
    UNIQUE (tenant_id, request_id)
  );

  CREATE TABLE usage_records (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    quantity TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    requested_event_time BIGINT,
    create_time BIGINT NOT NULL,
    period TEXT NOT NULL,
    attributes TEXT NOT NULL,
    UNIQUE (tenant_id, request_id),
    UNIQUE (tenant_id, id)
  );
  CREATE INDEX usage_records_by_customer ON usage_records (tenant_id, customer_id, seq);
  CREATE INDEX usage_records_by_period ON usage_records (tenant_id, customer_id, period, meter_key);

  CREATE TABLE usage_voids (
    tenant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    void_time BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
  );

  CREATE TABLE usage_totals (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    quantity_sum TEXT NOT NULL,
    event_count BIGINT NOT NULL,
    quantity_max TEXT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key)
  );
  `,
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    create_time BIGINT NOT NULL,
    revoke_time BIGINT
  );
  `,
];
