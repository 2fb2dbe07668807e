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
  `
  -- Issue 18: UNIQUE_COUNT and LATEST aggregations, dimensions, dimension and customer prices.
  -- Existing meters get no dimensions; existing prices are catalog prices without dimension_values,
  -- so every version keeps its number in its series (meter, currency, dimension_values, customer).
  ALTER TABLE meters DROP CONSTRAINT meters_aggregation_check;
  ALTER TABLE meters ADD CONSTRAINT meters_aggregation_check CHECK (aggregation IN ('sum', 'count', 'max', 'unique_count', 'latest'));
  ALTER TABLE meters ADD COLUMN unique_attribute TEXT NOT NULL DEFAULT '', ADD COLUMN dimensions TEXT NOT NULL DEFAULT '[]';

  -- dimension_values as JSON of their entries sorted by key ('' for none); customer_id '' for the catalog.
  ALTER TABLE prices ADD COLUMN dimension_key TEXT NOT NULL DEFAULT '', ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE prices DROP CONSTRAINT prices_tenant_id_meter_key_currency_code_version_key;
  ALTER TABLE prices ADD CONSTRAINT prices_series_version UNIQUE (tenant_id, meter_key, currency_code, dimension_key, customer_id, version);

  -- A meter's own totals gain the distinct count (UNIQUE_COUNT) and the latest event (LATEST).
  ALTER TABLE usage_totals ADD COLUMN distinct_count BIGINT NOT NULL DEFAULT 0, ADD COLUMN latest_record_id TEXT,
    ADD COLUMN latest_time BIGINT, ADD COLUMN latest_quantity TEXT,
    -- A dimensioned meter's combinations with live usage (its bill lines), bounded by --max-dimension-combinations.
    ADD COLUMN combination_count BIGINT NOT NULL DEFAULT 0;

  -- The totals of each combination of a dimensioned meter's values (dimension_key: the values as a JSON array).
  -- Written only by a transaction holding the lock of the meter's usage_totals row.
  CREATE TABLE usage_dimension_totals (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    dimension_key TEXT NOT NULL,
    quantity_sum TEXT NOT NULL,
    event_count BIGINT NOT NULL,
    quantity_max TEXT NOT NULL,
    distinct_count BIGINT NOT NULL,
    latest_record_id TEXT,
    latest_time BIGINT,
    latest_quantity TEXT,
    combination_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key, dimension_key)
  );

  -- UNIQUE_COUNT: how many live events hold each value, in the meter's totals (dimension_key '')
  -- and in its combination's; a value's count going 0 -> 1 or 1 -> 0 moves distinct_count.
  CREATE TABLE usage_distinct_values (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    dimension_key TEXT NOT NULL,
    value TEXT NOT NULL,
    live_count BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key, dimension_key, value)
  );
  `,
  `
  -- A period's live records are read in keyset pages of (meter_key, seq): the period index gains seq.
  CREATE INDEX usage_records_by_period_seq ON usage_records (tenant_id, customer_id, period, meter_key, seq);
  DROP INDEX usage_records_by_period;
  `,
  `
  -- Whether a customer has prices of its own at all (most have none: their bills then look up catalog prices only).
  CREATE INDEX prices_by_customer ON prices (tenant_id, customer_id) WHERE customer_id <> '';
  `,
  `
  -- The usage feed (WatchUsage): one change per record and per void, written in their transaction, with
  -- that transaction's id. A sequence alone cannot order a feed that several replicas write: a transaction
  -- may take a higher seq and commit before one holding a lower seq, and a reader past the higher one would
  -- skip the lower one for good. Readers take only changes of transactions older than their snapshot's
  -- xmin (every one of those has ended, so no change can still appear among them) in (xid, seq) order.
  CREATE TABLE usage_changes (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    record_seq BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('recorded', 'voided'))
  );
  CREATE INDEX usage_changes_by_tenant ON usage_changes (tenant_id, xid, seq);
  CREATE INDEX usage_changes_by_customer ON usage_changes (tenant_id, customer_id, xid, seq);
  -- The ledger written before the feed existed joins it: its records in their order, then its voids.
  INSERT INTO usage_changes (tenant_id, customer_id, record_seq, kind)
    SELECT tenant_id, customer_id, seq, 'recorded' FROM usage_records ORDER BY seq;
  INSERT INTO usage_changes (tenant_id, customer_id, record_seq, kind)
    SELECT r.tenant_id, r.customer_id, r.seq, 'voided' FROM usage_voids v JOIN usage_records r ON r.tenant_id = v.tenant_id AND r.id = v.record_id
    ORDER BY v.void_time, r.seq;

  -- Alerts: a threshold on a customer's meter quantity, or on its bill total (meter_key '').
  CREATE TABLE alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    threshold TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id)
  );
  CREATE INDEX alerts_by_customer ON alerts (tenant_id, customer_id, seq);
  -- An alert fires at most once per period: the unique key makes a second crossing insert nothing. Read in
  -- (xid, seq) order below the snapshot's xmin, as the usage feed is.
  CREATE TABLE alert_events (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    period TEXT NOT NULL,
    value TEXT NOT NULL,
    crossed_time BIGINT NOT NULL,
    UNIQUE (tenant_id, alert_id, period)
  );
  CREATE INDEX alert_events_by_tenant ON alert_events (tenant_id, xid, seq);
  `,
  `
  -- Usage limits (issue 19): the limit in force per (customer, meter), read under the totals rows' lock in
  -- each usage write's transaction, and every SetUsageLimit request_id with what it set ('' = removed).
  CREATE TABLE usage_limits (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    usage_limit TEXT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, meter_key)
  );
  CREATE TABLE usage_limit_requests (
    tenant_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    usage_limit TEXT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
  );
  `,
  `
  -- Credits and bill revisions (issue 19; src/domain/credits.ts, src/domain/bill-revisions.ts).
  -- A grant's remaining_amount counts finalized bills only: each finalization that uses a grant adds a
  -- credit_uses row (one per grant and period, never two) and lowers it, in the transaction that stores
  -- the bill's revision 1.
  CREATE TABLE credit_grants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    expire_time BIGINT,
    reason TEXT NOT NULL,
    remaining_amount TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id)
  );
  CREATE INDEX credit_grants_by_customer ON credit_grants (tenant_id, customer_id, seq);
  -- What a bill may use: the grants with something left (a used-up grant is never read again).
  CREATE INDEX credit_grants_usable ON credit_grants (tenant_id, customer_id) WHERE remaining_amount <> '0';
  CREATE TABLE credit_uses (
    tenant_id TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (tenant_id, grant_id, period)
  );
  -- Stored bills of finalized periods: revision 1 as finalized, one more per correction. A correction's
  -- revision is inserted with its usage, its bill (and total, credits, amount due) NULL, and written once
  -- right after from the running totals, which nothing else may change meanwhile; then never updated.
  CREATE TABLE bill_revisions (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    revision INTEGER NOT NULL,
    total TEXT,
    credits_applied TEXT,
    amount_due TEXT,
    bill TEXT,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, revision)
  );
  -- The background finalizer looks for recent periods with usage and no revision.
  CREATE INDEX usage_totals_by_period ON usage_totals (period, tenant_id, customer_id);
  `,
];
