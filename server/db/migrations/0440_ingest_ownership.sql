-- Who may write a meter's readings, and since when (issue 16: a gateway could write any
-- meter). A reading is accepted only from the gateway the meter was assigned to on the
-- reading's data date (server.ingest.screening); the archive keeps the assignment's history.

-- The day the meter's current assignment began (its installation day unless a move says
-- otherwise; the day it left its last gateway when gateway_id is null).
ALTER TABLE meters ADD COLUMN IF NOT EXISTS gateway_since date;
UPDATE meters SET gateway_since = installed_on
 WHERE gateway_id IS NOT NULL AND gateway_since IS NULL;

-- One row per stay of a meter on a gateway: [valid_from, valid_to) in data dates of the
-- utility's time zone, valid_to null while it lasts. Written only by the trigger below.
CREATE TABLE IF NOT EXISTS meter_gateway_history (
    id           bigserial PRIMARY KEY,
    meter_id     text NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    gateway_id   text NOT NULL,
    valid_from   date NOT NULL,
    valid_to     date,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX IF NOT EXISTS meter_gateway_history_meter
    ON meter_gateway_history (meter_id, valid_from);
INSERT INTO meter_gateway_history (meter_id, gateway_id, valid_from)
SELECT m.id, m.gateway_id, m.gateway_since FROM meters m
 WHERE m.gateway_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM meter_gateway_history h WHERE h.meter_id = m.id);

-- A move without a date takes effect today (the database session's date: the API and the
-- importer pass gateway_since when staff give one); a PUT that leaves gateway_since out
-- keeps it.
CREATE OR REPLACE FUNCTION meters_gateway_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.gateway_id IS NOT NULL AND NEW.gateway_since IS NULL THEN
            NEW.gateway_since := NEW.installed_on;
        END IF;
    ELSIF NEW.gateway_id IS DISTINCT FROM OLD.gateway_id THEN
        IF NEW.gateway_since IS NULL
           OR NEW.gateway_since IS NOT DISTINCT FROM OLD.gateway_since THEN
            NEW.gateway_since := greatest(current_date, NEW.installed_on);
        END IF;
    ELSIF NEW.gateway_since IS NULL THEN
        NEW.gateway_since := OLD.gateway_since;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION meters_gateway_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.gateway_id IS NOT NULL THEN
            INSERT INTO meter_gateway_history (meter_id, gateway_id, valid_from)
            VALUES (NEW.id, NEW.gateway_id, NEW.gateway_since);
        END IF;
    ELSIF NEW.gateway_id IS DISTINCT FROM OLD.gateway_id THEN
        UPDATE meter_gateway_history SET valid_to = greatest(valid_from, NEW.gateway_since)
         WHERE meter_id = NEW.id AND valid_to IS NULL;
        IF NEW.gateway_id IS NOT NULL THEN
            INSERT INTO meter_gateway_history (meter_id, gateway_id, valid_from)
            VALUES (NEW.id, NEW.gateway_id, NEW.gateway_since);
        END IF;
    ELSIF NEW.gateway_since IS DISTINCT FROM OLD.gateway_since AND NEW.gateway_id IS NOT NULL THEN
        -- a correction of when the current stay began: the previous stay ends then
        UPDATE meter_gateway_history SET valid_to = greatest(valid_from, NEW.gateway_since)
         WHERE meter_id = NEW.id AND valid_to = OLD.gateway_since;
        UPDATE meter_gateway_history SET valid_from = NEW.gateway_since
         WHERE meter_id = NEW.id AND valid_to IS NULL;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS meters_gateway_since ON meters;
CREATE TRIGGER meters_gateway_since BEFORE INSERT OR UPDATE OF gateway_id, gateway_since
    ON meters FOR EACH ROW EXECUTE FUNCTION meters_gateway_since();
DROP TRIGGER IF EXISTS meters_gateway_history ON meters;
CREATE TRIGGER meters_gateway_history AFTER INSERT OR UPDATE OF gateway_id, gateway_since
    ON meters FOR EACH ROW EXECUTE FUNCTION meters_gateway_history();

-- What ingestion caches about the archive is valid while this row is unchanged: every
-- change of what the screening reads bumps n (the token tells a re-created database from
-- the one a cache was filled from).
CREATE TABLE IF NOT EXISTS archive_version (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    n      bigint NOT NULL DEFAULT 1,
    token  text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text)
);
INSERT INTO archive_version DEFAULT VALUES ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION bump_archive_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE archive_version SET n = n + 1;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS meters_archive_version ON meters;
CREATE TRIGGER meters_archive_version
    AFTER INSERT OR DELETE OR UPDATE OF id, protocol, modbus_profile, gateway_id, gateway_since,
        installed_on, removed_on, rated_voltage, rated_current, ct_ratio, pt_ratio, phases
    ON meters FOR EACH STATEMENT EXECUTE FUNCTION bump_archive_version();
DROP TRIGGER IF EXISTS meters_archive_version_truncate ON meters;
CREATE TRIGGER meters_archive_version_truncate AFTER TRUNCATE ON meters
    FOR EACH STATEMENT EXECUTE FUNCTION bump_archive_version();
DROP TRIGGER IF EXISTS meter_gateway_history_version ON meter_gateway_history;
CREATE TRIGGER meter_gateway_history_version
    AFTER INSERT OR DELETE OR UPDATE ON meter_gateway_history
    FOR EACH STATEMENT EXECUTE FUNCTION bump_archive_version();

-- Quarantined readings say why (a person reads it), which batch brought them, and one
-- gateway's quarantined reading does not hide another's for the same meter and instant.
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS reason text;
UPDATE quarantine SET reason = 'meter not in the archive' WHERE reason IS NULL;
ALTER TABLE quarantine ALTER COLUMN reason SET NOT NULL;
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS batch_id text;
UPDATE quarantine SET gateway_id = '' WHERE gateway_id IS NULL;
ALTER TABLE quarantine ALTER COLUMN gateway_id SET NOT NULL;
ALTER TABLE quarantine DROP CONSTRAINT IF EXISTS quarantine_pkey;
ALTER TABLE quarantine ADD PRIMARY KEY (meter_id, quantity, ts, gateway_id);
CREATE INDEX IF NOT EXISTS quarantine_received ON quarantine (received_at);

-- A job that ran but of which a part failed (an anomaly scan with a failing rule: the other
-- rules' findings are saved, the detail names the failed rule).
ALTER TABLE job_runs DROP CONSTRAINT IF EXISTS job_runs_outcome_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_outcome_check
    CHECK (outcome IN ('running', 'ok', 'partial', 'error', 'skipped'));
