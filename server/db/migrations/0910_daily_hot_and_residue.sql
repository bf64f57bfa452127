-- Daily hot storage and the residue table (issue 20, deploy/SCALING.md "History storage").
-- Compaction moves every reading before the compact zone's start out of ``readings``: the
-- encodable interval readings into ``readings_compact``, the rest (events, clock checks,
-- off-grid timestamps, values with no exact scale) into ``readings_cold``. The hot table's
-- days then hold no row and are dropped whole, returning their index space (a DELETE
-- leaves emptied btree pages behind until the whole cluster's xmin horizon passes).

-- What compaction cannot encode, as ``readings`` stores it (same columns and key; carries
-- meter_id, distributed by it under Citus, colocated with readings).
CREATE TABLE IF NOT EXISTS readings_cold (
    meter_id     text NOT NULL,
    quantity     text NOT NULL,
    ts           timestamptz NOT NULL,
    value        double precision NOT NULL,
    kind         text NOT NULL,
    source       text NOT NULL,
    quality      text[] NOT NULL DEFAULT '{}',
    gateway_id   text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity, ts)
);
-- day-range scans over every meter (day-close checks, retention): rows arrive day by day
CREATE INDEX IF NOT EXISTS readings_cold_ts ON readings_cold USING brin (ts);

DO $$
DECLARE
    part   text;
    lo     timestamptz;
    hi     timestamptz;
    cut    timestamptz;
    newest timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- one-day chunks for new data (existing chunks keep their size): a chunk is
        -- dropped once compaction's edge passes its end
        EXECUTE 'SELECT set_chunk_time_interval(''readings'', interval ''1 day'')';
        RETURN;
    END IF;
    -- plain PostgreSQL: a yearly partition holding today is cut at a UTC midnight after
    -- every reading it holds (at least the day after tomorrow); ensure_partitions creates
    -- the local days after the cut. A CHECK of the new bounds, validated first, spares
    -- ATTACH its scan; DETACH and ATTACH run in this one transaction, so no reader sees
    -- the partition missing.
    FOR part, lo, hi IN
        SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                        'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') b
        WHERE i.inhparent = 'readings'::regclass AND b IS NOT NULL
    LOOP
        cut := date_trunc('day', now(), 'UTC') + interval '2 days';
        CONTINUE WHEN hi <= cut OR lo >= cut;
        EXECUTE format('SELECT max(ts) FROM %I', part) INTO newest;
        IF newest IS NOT NULL AND newest >= cut THEN
            cut := date_trunc('day', newest, 'UTC') + interval '1 day';
        END IF;
        CONTINUE WHEN hi <= cut;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L) '
                       'NOT VALID', part, part || '_cut', lo, cut);
        EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', part, part || '_cut');
        EXECUTE format('ALTER TABLE readings DETACH PARTITION %I', part);
        EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, cut);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_cut');
    END LOOP;
END
$$;

-- Every reading (hot, compacted and residue) with lo <= ts < hi, in the columns of
-- ``readings``; as in 0800 with the residue as a third branch.
CREATE OR REPLACE FUNCTION readings_between(lo timestamptz, hi timestamptz)
RETURNS TABLE (meter_id text, quantity text, ts timestamptz, value double precision,
               kind text, source text, quality text[], gateway_id text,
               received_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.meter_id, r.quantity, r.ts, r.value, r.kind, r.source, r.quality,
           r.gateway_id, r.received_at
    FROM readings r WHERE r.ts >= lo AND r.ts < hi
    UNION ALL
    SELECT r.meter_id, r.quantity, r.ts, r.value, r.kind, r.source, r.quality,
           r.gateway_id, r.received_at
    FROM readings_cold r WHERE r.ts >= lo AND r.ts < hi
    UNION ALL
    SELECT x.meter_id, x.quantity, x.ts, x.value, 'interval', x.source, x.quality,
           x.gateway_id, x.received_at
    FROM (
        SELECT c.meter_id, k.quantity,
               c.day_start + (p.i - 1) * interval '15 minutes' AS ts,
               (c.vbase + p.v)::double precision
                 / ('{1,10,100,1000,10000,100000,1000000}'::double precision[])[c.scale + 1]
                 AS value,
               coalesce(e.x->>'s', c.source) AS source,
               CASE WHEN e.x ? 'q' THEN ARRAY(SELECT jsonb_array_elements_text(e.x->'q'))
                    ELSE '{}'::text[] END AS quality,
               CASE WHEN e.x ? 'g' THEN e.x->>'g' ELSE c.gateway_id END AS gateway_id,
               c.day_start + ((p.i - 1) * c.rstep + c.rbase
                 + coalesce((e.x->>'r')::bigint, c.rd[p.i])) * interval '1 second'
                 AS received_at
        FROM readings_compact c
        JOIN quantity_keys k ON k.key = c.qkey
        CROSS JOIN LATERAL unnest(coalesce(c.v2::bigint[], c.v4::bigint[], c.v8))
             WITH ORDINALITY p(v, i)
        LEFT JOIN LATERAL (SELECT c.extra -> (p.i - 1)::text AS x) e ON true
        WHERE c.day_start > lo - interval '26 hours' AND c.day_start < hi
          AND p.v IS NOT NULL
    ) x
    WHERE x.ts >= lo AND x.ts < hi
$$;
