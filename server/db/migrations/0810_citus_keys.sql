-- Keys a distribution by meter_id can keep (issue 20, deploy/SCALING.md): Citus enforces a
-- primary key or unique constraint of a distributed table only if it contains the
-- distribution column. The two per-meter tables keyed by a surrogate id alone get
-- (meter_id, id); their other unique keys already start with meter_id. The id stays
-- unique by its sequence and keeps an index of its own (the conflicts list pages by id).
DO $$
BEGIN
    IF (SELECT pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conname = 'reading_conflicts_pkey') = 'PRIMARY KEY (id)' THEN
        ALTER TABLE reading_conflicts DROP CONSTRAINT reading_conflicts_pkey,
            ADD CONSTRAINT reading_conflicts_pkey PRIMARY KEY (meter_id, id);
    END IF;
    IF (SELECT pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conname = 'meter_gateway_history_pkey') = 'PRIMARY KEY (id)' THEN
        ALTER TABLE meter_gateway_history DROP CONSTRAINT meter_gateway_history_pkey,
            ADD CONSTRAINT meter_gateway_history_pkey PRIMARY KEY (meter_id, id);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS reading_conflicts_id ON reading_conflicts (id);
