-- Collection facts per meter and month (issue 19, scale): which days of the month have the
-- meter's forward-active daily freeze (read_bits), and which of those were read without
-- re-reading (first_bits: no reread_requests row that was asked while the day was missing).
-- Bit d-1 stands for day d of the month. The collection reports, the organisation tree, the
-- area lists, the drill-down and the trend count bits here instead of the freeze rows:
-- a month report reads one row per meter instead of one per meter-day, and the trend sums
-- bit positions (see server/checks/collection_facts.py).
--
-- The rows are kept by triggers on daily_freeze and reread_requests, in the statement that
-- changes them, so every writer (ingest, re-reads, retention, a hand-written INSERT) keeps
-- them true with nothing to schedule and nothing to lag. Adding and clearing bits are
-- single-row bit operations under the row's lock, so concurrent statements compose.
-- Due days are not stored: they come from the archive when a report is asked, so an archive
-- edit needs nothing here.

CREATE TABLE IF NOT EXISTS collection_month (
    month       date NOT NULL,     -- the month's first day
    meter_id    text NOT NULL,
    read_bits   integer NOT NULL DEFAULT 0,
    first_bits  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (month, meter_id),
    CHECK (month = date_trunc('month', month)::date),
    CHECK (first_bits & ~read_bits = 0)
);

-- the bit of a day in its month's row
CREATE OR REPLACE FUNCTION collection_day_bit(d date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1 << (extract(day FROM d)::int - 1) $$;

-- the bits of the days from a to b (inclusive) in the row of the month starting on m: bit
-- positions a - m to b - m, clipped to the row's 0..30 (integer arithmetic only: it runs for
-- every row a report reads; a position past the month's last day holds no bit anyway)
CREATE OR REPLACE FUNCTION collection_day_mask(m date, a date, b date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN greatest(a - m, 0) > least(b - m, 30) THEN 0
           ELSE ((1::bigint << (least(b - m, 30) + 1))
                 - (1::bigint << greatest(a - m, 0)))::integer END
$$;

-- the rows of these meter-days locked in key order, as collection_freezes_added takes them,
-- before an UPDATE that would take them in any order: statements on the same meters queue
-- behind each other instead of deadlocking
CREATE OR REPLACE FUNCTION collection_lock_rows(ms text[], ds date[]) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM collection_month c
        WHERE (c.month, c.meter_id) IN (SELECT date_trunc('month', k.d)::date, k.m
                                        FROM unnest(ms, ds) AS k(m, d))
        ORDER BY c.month, c.meter_id FOR UPDATE) x
$$;

-- freezes stored for these meter-days (forward active only): set their bits; the first-pass
-- bit unless the day was asked again while it was missing
CREATE OR REPLACE FUNCTION collection_freezes_added(ms text[], ds date[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO collection_month AS c (month, meter_id, read_bits, first_bits)
    SELECT date_trunc('month', k.d)::date, k.m, bit_or(collection_day_bit(k.d)),
           coalesce(bit_or(collection_day_bit(k.d))
                    FILTER (WHERE NOT coalesce(rr.missing_when_asked, false)), 0)
    FROM unnest(ms, ds) AS k(m, d)
    LEFT JOIN reread_requests rr ON rr.meter_id = k.m AND rr.data_date = k.d
    GROUP BY 1, 2
    ORDER BY 1, 2  -- rows locked in key order: two batches of the same meters never deadlock
    ON CONFLICT (month, meter_id) DO UPDATE
       SET read_bits = c.read_bits | excluded.read_bits,
           first_bits = (c.first_bits & ~excluded.read_bits) | excluded.first_bits
$$;

-- freezes gone from these meter-days: clear their bits
CREATE OR REPLACE FUNCTION collection_freezes_removed(ms text[], ds date[]) RETURNS void
LANGUAGE sql AS $$
    SELECT collection_lock_rows(ms, ds);
    UPDATE collection_month c
       SET read_bits = c.read_bits & ~x.bits, first_bits = c.first_bits & ~x.bits
      FROM (SELECT date_trunc('month', k.d)::date AS month, k.m, bit_or(collection_day_bit(k.d))
                   AS bits
              FROM unnest(ms, ds) AS k(m, d) GROUP BY 1, 2) x
     WHERE c.month = x.month AND c.meter_id = x.m
$$;

-- re-read requests changed for these meter-days: their first-pass bits again, from what is
-- stored now (a freeze, and no request asked while the day was missing)
CREATE OR REPLACE FUNCTION collection_first_pass_again(ms text[], ds date[]) RETURNS void
LANGUAGE sql AS $$
    SELECT collection_lock_rows(ms, ds);
    UPDATE collection_month c
       SET first_bits = (c.first_bits & ~x.touched) | (x.first & c.read_bits)
      FROM (SELECT date_trunc('month', k.d)::date AS month, k.m,
                   bit_or(collection_day_bit(k.d)) AS touched,
                   coalesce(bit_or(collection_day_bit(k.d)) FILTER (
                       WHERE f.meter_id IS NOT NULL
                         AND NOT coalesce(rr.missing_when_asked, false)), 0) AS first
              FROM (SELECT DISTINCT m, d FROM unnest(ms, ds) AS u(m, d)) k
              LEFT JOIN daily_freeze f ON f.meter_id = k.m AND f.data_date = k.d
                   AND f.quantity = 'energy_import_total'
              LEFT JOIN reread_requests rr ON rr.meter_id = k.m AND rr.data_date = k.d
             GROUP BY 1, 2) x
     WHERE c.month = x.month AND c.meter_id = x.m
$$;

CREATE OR REPLACE FUNCTION collection_freeze_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_freezes_added(array_agg(n.meter_id), array_agg(n.data_date))
       FROM new_rows n WHERE n.quantity = 'energy_import_total' HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_freeze_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_freezes_removed(array_agg(o.meter_id), array_agg(o.data_date))
       FROM old_rows o WHERE o.quantity = 'energy_import_total' HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- an UPDATE that moves a freeze to another meter, day or quantity: the old key's bits go,
-- the new key's come (an UPDATE of the value alone changes nothing here)
CREATE OR REPLACE FUNCTION collection_freeze_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_freezes_removed(array_agg(g.meter_id), array_agg(g.data_date))
       FROM (SELECT o.meter_id, o.data_date FROM old_rows o
              WHERE o.quantity = 'energy_import_total'
             EXCEPT SELECT n.meter_id, n.data_date FROM new_rows n
              WHERE n.quantity = 'energy_import_total') g HAVING count(*) > 0;
    PERFORM collection_freezes_added(array_agg(g.meter_id), array_agg(g.data_date))
       FROM (SELECT n.meter_id, n.data_date FROM new_rows n
              WHERE n.quantity = 'energy_import_total'
             EXCEPT SELECT o.meter_id, o.data_date FROM old_rows o
              WHERE o.quantity = 'energy_import_total') g HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_freezes_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM collection_month;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_reread_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_first_pass_again(array_agg(n.meter_id), array_agg(n.data_date))
       FROM new_rows n HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_reread_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_first_pass_again(array_agg(g.meter_id), array_agg(g.data_date))
       FROM (SELECT n.meter_id, n.data_date FROM new_rows n
             UNION ALL SELECT o.meter_id, o.data_date FROM old_rows o) g HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_reread_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM collection_first_pass_again(array_agg(o.meter_id), array_agg(o.data_date))
       FROM old_rows o HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_rereads_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE collection_month SET first_bits = read_bits WHERE first_bits <> read_bits;
    RETURN NULL;
END $$;

-- (a trigger with transition tables serves one event: one trigger per event)
DROP TRIGGER IF EXISTS collection_freeze_inserted ON daily_freeze;
CREATE TRIGGER collection_freeze_inserted AFTER INSERT ON daily_freeze
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_freeze_inserted();
DROP TRIGGER IF EXISTS collection_freeze_deleted ON daily_freeze;
CREATE TRIGGER collection_freeze_deleted AFTER DELETE ON daily_freeze
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_freeze_deleted();
DROP TRIGGER IF EXISTS collection_freeze_updated ON daily_freeze;
CREATE TRIGGER collection_freeze_updated AFTER UPDATE ON daily_freeze
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_freeze_updated();
DROP TRIGGER IF EXISTS collection_freezes_truncated ON daily_freeze;
CREATE TRIGGER collection_freezes_truncated AFTER TRUNCATE ON daily_freeze
    FOR EACH STATEMENT EXECUTE FUNCTION collection_freezes_truncated();

DROP TRIGGER IF EXISTS collection_reread_inserted ON reread_requests;
CREATE TRIGGER collection_reread_inserted AFTER INSERT ON reread_requests
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_reread_inserted();
DROP TRIGGER IF EXISTS collection_reread_updated ON reread_requests;
CREATE TRIGGER collection_reread_updated AFTER UPDATE ON reread_requests
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_reread_updated();
DROP TRIGGER IF EXISTS collection_reread_deleted ON reread_requests;
CREATE TRIGGER collection_reread_deleted AFTER DELETE ON reread_requests
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collection_reread_deleted();
DROP TRIGGER IF EXISTS collection_rereads_truncated ON reread_requests;
CREATE TRIGGER collection_rereads_truncated AFTER TRUNCATE ON reread_requests
    FOR EACH STATEMENT EXECUTE FUNCTION collection_rereads_truncated();

-- what a site stored before this migration, in one pass
INSERT INTO collection_month (month, meter_id, read_bits, first_bits)
SELECT date_trunc('month', f.data_date)::date, f.meter_id, bit_or(collection_day_bit(f.data_date)),
       coalesce(bit_or(collection_day_bit(f.data_date))
                FILTER (WHERE NOT coalesce(rr.missing_when_asked, false)), 0)
FROM daily_freeze f
LEFT JOIN reread_requests rr ON rr.meter_id = f.meter_id AND rr.data_date = f.data_date
WHERE f.quantity = 'energy_import_total'
GROUP BY 1, 2
ON CONFLICT (month, meter_id) DO UPDATE
   SET read_bits = excluded.read_bits, first_bits = excluded.first_bits;
