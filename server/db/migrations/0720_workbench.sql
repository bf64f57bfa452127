-- The metering staff's workbench (issue 19): organisation levels, the customer account,
-- search indexes, anomaly assignment, and staff re-read batches kept with their items.

-- 供电单位 (company) above 供电所 (station); null: taken from the unit's depth in the tree.
ALTER TABLE org_units ADD COLUMN IF NOT EXISTS level text;
ALTER TABLE org_units DROP CONSTRAINT IF EXISTS org_units_level_check;
ALTER TABLE org_units ADD CONSTRAINT org_units_level_check
    CHECK (level IS NULL OR level IN ('company', 'station'));
CREATE INDEX IF NOT EXISTS org_units_parent ON org_units (parent_id);
CREATE INDEX IF NOT EXISTS areas_org_unit ON areas (org_unit_id);
CREATE INDEX IF NOT EXISTS gateways_area ON gateways (area_id);

-- The customer's account number (户号) in the utility's customer system.
ALTER TABLE meters ADD COLUMN IF NOT EXISTS customer_account text;
ALTER TABLE meters DROP CONSTRAINT IF EXISTS meters_customer_account_bound;
ALTER TABLE meters ADD CONSTRAINT meters_customer_account_bound
    CHECK (char_length(customer_account) <= 64) NOT VALID;

-- Search by meter id, address, account or customer name, by substring: trigram indexes
-- where pg_trgm exists (a trusted extension since PostgreSQL 13), prefix indexes otherwise.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS meters_search_id ON meters USING gin (lower(id) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS meters_search_address ON meters USING gin (address gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS meters_search_account
            ON meters USING gin (lower(customer_account) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS meters_search_name
            ON meters USING gin (lower(customer_name) gin_trgm_ops);
    ELSE
        CREATE INDEX IF NOT EXISTS meters_search_id ON meters (lower(id) text_pattern_ops);
        CREATE INDEX IF NOT EXISTS meters_search_address ON meters (address text_pattern_ops);
        CREATE INDEX IF NOT EXISTS meters_search_account
            ON meters (lower(customer_account) text_pattern_ops);
        CREATE INDEX IF NOT EXISTS meters_search_name
            ON meters (lower(customer_name) text_pattern_ops);
    END IF;
END
$$;

-- Who works on an anomaly; its history is the audit log (entity 'anomalies').
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS assigned_to text;
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS assigned_at timestamptz;
CREATE INDEX IF NOT EXISTS anomalies_assigned ON anomalies (assigned_to) WHERE assigned_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS anomalies_area ON anomalies (area_id, last_date);
CREATE INDEX IF NOT EXISTS anomalies_meter ON anomalies (meter_id, last_date);

-- A staff re-read request (a list of meter-days) and the command each meter-day went with:
-- the outcome is read back from the commands' stored results and the freezes, after any reload.
CREATE TABLE IF NOT EXISTS reread_batches (
    id            bigserial PRIMARY KEY,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    items         integer NOT NULL CHECK (items > 0)
);
CREATE TABLE IF NOT EXISTS reread_batch_items (
    batch_id    bigint NOT NULL REFERENCES reread_batches(id) ON DELETE CASCADE,
    meter_id    text NOT NULL,
    data_date   date NOT NULL,
    gateway_id  text NOT NULL,
    command_id  text,
    PRIMARY KEY (batch_id, meter_id, data_date)
);
CREATE INDEX IF NOT EXISTS reread_batch_items_meter_day ON reread_batch_items (meter_id, data_date);
