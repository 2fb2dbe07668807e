/**
 * The schema, as an append-only list of migrations. Migration N brings a
 * database from user_version N-1 to N; a released migration is never edited.
 * Every table carries tenant_id so that every read and every idempotency key
 * is scoped to the caller's tenant.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE customers (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id)
  );
  CREATE UNIQUE INDEX customers_by_external_id ON customers (tenant_id, external_id) WHERE external_id <> '';

  CREATE TABLE meters (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    unit TEXT NOT NULL,
    aggregation TEXT NOT NULL CHECK (aggregation IN ('sum', 'count', 'max')),
    precision INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, key),
    UNIQUE (tenant_id, request_id)
  );

  CREATE TABLE prices (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_period TEXT NOT NULL,
    tiers TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, meter_key, currency_code, version),
    UNIQUE (tenant_id, request_id)
  );

  CREATE TABLE usage_records (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    quantity TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    requested_event_time INTEGER,
    create_time INTEGER NOT NULL,
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
    void_time INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
  ) WITHOUT ROWID;

  CREATE TABLE usage_totals (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    quantity_sum TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    quantity_max TEXT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    create_time INTEGER NOT NULL,
    revoke_time INTEGER
  ) WITHOUT ROWID;
  `,
  `
  -- Listings in creation order read a tenant's rows through these, instead of sorting them all.
  CREATE INDEX customers_by_tenant ON customers (tenant_id, seq);
  CREATE INDEX meters_by_tenant ON meters (tenant_id, seq);
  CREATE INDEX prices_by_tenant ON prices (tenant_id, seq);
  CREATE INDEX prices_by_meter ON prices (tenant_id, meter_key, seq);

  -- What each tenant holds of each resource its quota counts (src/domain/quotas.ts), kept by the
  -- writes that create them, in their transaction.
  CREATE TABLE tenant_counts (
    tenant_id TEXT NOT NULL,
    resource TEXT NOT NULL CHECK (resource IN ('customers', 'meters', 'prices', 'apiKeys')),
    count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, resource)
  ) WITHOUT ROWID;
  INSERT INTO tenant_counts SELECT tenant_id, 'customers', count(*) FROM customers GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'meters', count(*) FROM meters GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'prices', count(*) FROM prices GROUP BY tenant_id;
  INSERT INTO tenant_counts SELECT tenant_id, 'apiKeys', count(*) FROM api_keys GROUP BY tenant_id;

  -- Customer search: a trigram index (FTS5) of id, external_id and display_name, kept by a trigger.
  CREATE VIRTUAL TABLE customer_search USING fts5(
    id, external_id, display_name, content = 'customers', content_rowid = 'seq', tokenize = 'trigram'
  );
  INSERT INTO customer_search (customer_search) VALUES ('rebuild');
  CREATE TRIGGER customers_searchable AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (rowid, id, external_id, display_name) VALUES (new.seq, new.id, new.external_id, new.display_name);
  END;
  `,
  `
  -- Pricing models: every price stored before them was graduated, and has no package size.
  ALTER TABLE prices ADD COLUMN model TEXT NOT NULL DEFAULT 'graduated' CHECK (model IN ('graduated', 'volume', 'package'));
  ALTER TABLE prices ADD COLUMN package_size TEXT;
  `,
  `
  -- Issue 18: UNIQUE_COUNT and LATEST aggregations, dimensions, dimension and customer prices.
  -- SQLite cannot alter a CHECK or a table's UNIQUE constraint, so meters and prices are rebuilt
  -- (same rows, same seq): existing meters get no dimensions, existing prices are catalog prices
  -- without dimension_values, so every version keeps its number in its series.
  CREATE TABLE meters_next (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    unit TEXT NOT NULL,
    aggregation TEXT NOT NULL CHECK (aggregation IN ('sum', 'count', 'max', 'unique_count', 'latest')),
    precision INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    unique_attribute TEXT NOT NULL DEFAULT '',
    dimensions TEXT NOT NULL DEFAULT '[]',
    UNIQUE (tenant_id, key),
    UNIQUE (tenant_id, request_id)
  );
  INSERT INTO meters_next (seq, tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id)
    SELECT seq, tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id FROM meters;
  DROP TABLE meters;
  ALTER TABLE meters_next RENAME TO meters;
  CREATE INDEX meters_by_tenant ON meters (tenant_id, seq);

  CREATE TABLE prices_next (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_period TEXT NOT NULL,
    tiers TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT 'graduated' CHECK (model IN ('graduated', 'volume', 'package')),
    package_size TEXT,
    -- dimension_values as JSON of their entries sorted by key ('' for none); customer_id '' for the catalog.
    dimension_key TEXT NOT NULL DEFAULT '',
    customer_id TEXT NOT NULL DEFAULT '',
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, meter_key, currency_code, dimension_key, customer_id, version),
    UNIQUE (tenant_id, request_id)
  );
  INSERT INTO prices_next (seq, tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id, model, package_size)
    SELECT seq, tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id, model, package_size FROM prices;
  DROP TABLE prices;
  ALTER TABLE prices_next RENAME TO prices;
  CREATE INDEX prices_by_tenant ON prices (tenant_id, seq);
  CREATE INDEX prices_by_meter ON prices (tenant_id, meter_key, seq);

  -- A meter's own totals gain the distinct count (UNIQUE_COUNT) and the latest event (LATEST).
  ALTER TABLE usage_totals ADD COLUMN distinct_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE usage_totals ADD COLUMN latest_record_id TEXT;
  ALTER TABLE usage_totals ADD COLUMN latest_time INTEGER;
  ALTER TABLE usage_totals ADD COLUMN latest_quantity TEXT;
  -- A dimensioned meter's combinations with live usage (its bill lines), bounded by --max-dimension-combinations.
  ALTER TABLE usage_totals ADD COLUMN combination_count INTEGER NOT NULL DEFAULT 0;

  -- The totals of each combination of a dimensioned meter's values (dimension_key: the values as a JSON array).
  CREATE TABLE usage_dimension_totals (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    dimension_key TEXT NOT NULL,
    quantity_sum TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    quantity_max TEXT NOT NULL,
    distinct_count INTEGER NOT NULL,
    latest_record_id TEXT,
    latest_time INTEGER,
    latest_quantity TEXT,
    combination_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key, dimension_key)
  ) WITHOUT ROWID;

  -- UNIQUE_COUNT: how many live events hold each value, in the meter's totals (dimension_key '')
  -- and in its combination's; a value's count going 0 -> 1 or 1 -> 0 moves distinct_count.
  CREATE TABLE usage_distinct_values (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    dimension_key TEXT NOT NULL,
    value TEXT NOT NULL,
    live_count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, meter_key, dimension_key, value)
  ) WITHOUT ROWID;
  `,
  `
  -- Whether a customer has prices of its own at all (most have none: their bills then look up catalog prices only).
  CREATE INDEX prices_by_customer ON prices (tenant_id, customer_id) WHERE customer_id <> '';
  `,
  `
  -- The usage feed (WatchUsage): one change per record and per void, written in their transaction. seq is
  -- the commit order: a writer numbers the changes inside its BEGIN IMMEDIATE transaction, after the last
  -- number kept below, and SQLite commits one such transaction at a time. One b-tree, keyed for a tenant's
  -- feed; a customer's feed is that one, filtered (the store examines a bounded window of it per read).
  CREATE TABLE usage_changes (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    record_seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('recorded', 'voided')),
    PRIMARY KEY (tenant_id, seq)
  ) WITHOUT ROWID;
  -- The ledger written before the feed existed joins it: its records in their order, then its voids.
  INSERT INTO usage_changes (tenant_id, seq, customer_id, record_seq, kind)
    SELECT tenant_id, row_number() OVER (ORDER BY seq), customer_id, seq, 'recorded' FROM usage_records;
  INSERT INTO usage_changes (tenant_id, seq, customer_id, record_seq, kind)
    SELECT r.tenant_id, (SELECT count(*) FROM usage_records) + row_number() OVER (ORDER BY v.void_time, r.seq), r.customer_id, r.seq, 'voided'
    FROM usage_voids v JOIN usage_records r ON r.tenant_id = v.tenant_id AND r.id = v.record_id;
  -- The highest seq handed out, kept by each transaction that writes changes.
  CREATE TABLE usage_change_sequence (last INTEGER NOT NULL);
  INSERT INTO usage_change_sequence (last) SELECT count(*) FROM usage_changes;

  -- Alerts: a threshold on a customer's meter quantity, or on its bill total (meter_key '').
  CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    threshold TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id)
  );
  CREATE INDEX alerts_by_customer ON alerts (tenant_id, customer_id, seq);
  -- An alert fires at most once per period: the unique key makes a second crossing insert nothing.
  CREATE TABLE alert_events (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    period TEXT NOT NULL,
    value TEXT NOT NULL,
    crossed_time INTEGER NOT NULL,
    UNIQUE (tenant_id, alert_id, period)
  );
  CREATE INDEX alert_events_by_tenant ON alert_events (tenant_id, seq);
  `,
  `
  -- Usage limits (issue 19): the limit in force per (customer, meter), read by the writer in each usage
  -- write's transaction, and every SetUsageLimit request_id with what it set ('' = removed), for replays.
  CREATE TABLE usage_limits (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    usage_limit TEXT NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, meter_key)
  ) WITHOUT ROWID;
  CREATE TABLE usage_limit_requests (
    tenant_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_key TEXT NOT NULL,
    usage_limit TEXT NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
  ) WITHOUT ROWID;
  `,
  `
  -- Credits and bill revisions (issue 19; src/domain/credits.ts, src/domain/bill-revisions.ts).
  -- A grant's remaining_amount counts finalized bills only: each finalization that uses a grant adds a
  -- credit_uses row (one per grant and period, never two) and lowers it, in the transaction that stores
  -- the bill's revision 1.
  CREATE TABLE credit_grants (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    expire_time INTEGER,
    reason TEXT NOT NULL,
    remaining_amount TEXT NOT NULL,
    create_time INTEGER NOT NULL,
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
  ) WITHOUT ROWID;
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
    create_time INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, period, revision)
  ) WITHOUT ROWID;
  -- The background finalizer looks for recent periods with usage and no revision.
  CREATE INDEX usage_totals_by_period ON usage_totals (period, tenant_id, customer_id);
  `,
];
