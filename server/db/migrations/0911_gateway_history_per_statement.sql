-- The meters' gateway history (0440) written once per statement instead of once per row.
-- The row trigger ran one INSERT into meter_gateway_history per meter, and each of those
-- statements fired meter_gateway_history_version, so an import of N meters updated the one
-- archive_version row N times in one transaction: every update walks the row's growing
-- chain of versions, and 100,000 meters took more than 10 minutes (1,000,000 did not end).
-- Now each statement on meters writes its history rows in one INSERT / UPDATE each, from
-- its transition tables, by the same rules as 0440's row trigger, and bumps the version once.

CREATE OR REPLACE FUNCTION meters_gateway_history_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO meter_gateway_history (meter_id, gateway_id, valid_from)
    SELECT n.id, n.gateway_id, n.gateway_since FROM new_rows n WHERE n.gateway_id IS NOT NULL;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION meters_gateway_history_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- a move (or leaving every gateway): the open stay ends on the new gateway_since, and a
    -- stay on the new gateway begins then
    UPDATE meter_gateway_history h SET valid_to = greatest(h.valid_from, n.gateway_since)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.gateway_id IS DISTINCT FROM o.gateway_id
       AND h.meter_id = n.id AND h.valid_to IS NULL;
    INSERT INTO meter_gateway_history (meter_id, gateway_id, valid_from)
    SELECT n.id, n.gateway_id, n.gateway_since
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.gateway_id IS DISTINCT FROM o.gateway_id AND n.gateway_id IS NOT NULL;
    -- a correction of when the current stay began: the previous stay ends then
    UPDATE meter_gateway_history h SET valid_to = greatest(h.valid_from, n.gateway_since)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.gateway_id IS NOT DISTINCT FROM o.gateway_id AND n.gateway_id IS NOT NULL
       AND n.gateway_since IS DISTINCT FROM o.gateway_since
       AND h.meter_id = n.id AND h.valid_to = o.gateway_since;
    UPDATE meter_gateway_history h SET valid_from = n.gateway_since
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.gateway_id IS NOT DISTINCT FROM o.gateway_id AND n.gateway_id IS NOT NULL
       AND n.gateway_since IS DISTINCT FROM o.gateway_since
       AND h.meter_id = n.id AND h.valid_to IS NULL;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS meters_gateway_history ON meters;
DROP TRIGGER IF EXISTS meters_gateway_history_inserted ON meters;
CREATE TRIGGER meters_gateway_history_inserted AFTER INSERT ON meters
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION meters_gateway_history_inserted();
-- (a trigger with transition tables cannot name columns: it sees every UPDATE of meters,
-- and one that changes neither gateway_id nor gateway_since writes nothing)
DROP TRIGGER IF EXISTS meters_gateway_history_updated ON meters;
CREATE TRIGGER meters_gateway_history_updated AFTER UPDATE ON meters
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION meters_gateway_history_updated();
DROP FUNCTION IF EXISTS meters_gateway_history();
