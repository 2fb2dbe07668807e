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
  `
  -- Listings in creation order read a tenant's rows through these, instead of sorting them all.
  CREATE INDEX customers_by_tenant ON customers (tenant_id, seq);
  CREATE INDEX meters_by_tenant ON meters (tenant_id, seq);
  CREATE INDEX prices_by_tenant ON prices (tenant_id, seq);
  CREATE INDEX prices_by_meter ON prices (tenant_id, meter_key, seq);

  -- What each tenant holds of each resource its quota counts (src/domain/quotas.ts), kept by the
  -- writes that create them, in their transaction (the row is locked until it commits).
  CREATE TABLE tenant_counts (
    tenant_id TEXT NOT NULL,
    resource TEXT NOT NULL CHECK (resource IN ('customers', 'meters', 'prices', 'apiKeys')),
    count BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, resource)
  );
  INSERT INTO tenant_counts SELECT tenant_id, 'customers', count(*) FROM customers GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'meters', count(*) FROM meters GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'prices', count(*) FROM prices GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'apiKeys', count(*) FROM api_keys GROUP BY tenant_id;

  -- Customer search: a trigram index (pg_trgm, in PostgreSQL's contrib; trusted, so the database's
  -- owner may create it) of id, external_id and display_name together.
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX customers_search ON customers USING gin ((id || ' ' || external_id || ' ' || display_name) gin_trgm_ops);
  `,
  `
  -- Pricing models: every price stored before them was graduated, and has no package size.
  ALTER TABLE prices ADD COLUMN model TEXT NOT NULL DEFAULT 'graduated' CHECK (model IN ('graduated', 'volume', 'package'));
  ALTER TABLE prices ADD COLUMN package_size TEXT;
  `,
];
