-- Compact history (issue 20): closed days older than the hot window move from ``readings``
-- (one row per reading) into ``readings_compact`` (one row per meter, quantity and day, the
-- day's 15-minute slots as an array of scaled integers). server.db.compact owns the layout;
-- ``readings_between`` reads both as if they were one table.

-- Quantities by a small integer (a compact row's key; a reference table under Citus).
CREATE TABLE IF NOT EXISTS quantity_keys (
    key       smallint PRIMARY KEY,
    quantity  text NOT NULL UNIQUE
);

-- One row per meter, quantity and local day. Slot i (array index i + 1) is the reading at
-- day_start + i * 15 min; a NULL element is an absent slot (PostgreSQL keeps a null bitmap,
-- one bit a slot). value = (vbase + v[i]) / 10^scale, exactly (values that do not
-- round-trip stay in ``readings``); v is the narrowest of v2 / v4 / v8 the day's range
-- fits (a residential register's day fits 2 bytes a point), the other two are NULL.
-- Arrival, to the whole second: received_at = day_start + (i * rstep + rbase + rd[i])
-- seconds, rstep 900 when the readings came as they were taken (rd then holds each one's
-- delay about rbase), 0 when the day came at once (a backfill: rd about one instant).
-- ``source`` and ``gateway_id`` are the row's common ones; a slot that differs (another
-- source or gateway, quality flags, an arrival beyond rd's range) has an entry in
-- ``extra``: {"<slot>": {"s": .., "g": .., "q": [..], "r": seconds}}. Distributed by
-- meter_id under Citus (colocated with readings).
CREATE TABLE IF NOT EXISTS readings_compact (
    meter_id    text NOT NULL,
    qkey        smallint NOT NULL,
    day_start   timestamptz NOT NULL,
    scale       smallint NOT NULL DEFAULT 0 CHECK (scale BETWEEN 0 AND 6),
    source      text,
    gateway_id  text,
    vbase       bigint NOT NULL DEFAULT 0,
    v2          smallint[],
    v4          integer[],
    v8          bigint[],
    rbase       integer NOT NULL DEFAULT 0,
    rstep       smallint NOT NULL DEFAULT 0,
    rd          smallint[],
    extra       jsonb,
    PRIMARY KEY (meter_id, qkey, day_start)
);
-- day-range scans over every meter (the day-close checks of a compacted day, retention):
-- rows are written in day order, so a BRIN index finds them for a few bytes
CREATE INDEX IF NOT EXISTS readings_compact_day ON readings_compact USING brin (day_start);

-- Where the compact zone ends: readings before ``before_ts`` (local midnight of ``before``)
-- are merged into readings_compact by ingestion; it never moves back.
CREATE TABLE IF NOT EXISTS compaction_state (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    before     date,
    before_ts  timestamptz
);
INSERT INTO compaction_state (id) VALUES (true) ON CONFLICT DO NOTHING;

-- Every reading (hot and compacted) with lo <= ts < hi, in the columns of ``readings``.
-- An SQL function of one SELECT: PostgreSQL inlines it, so conditions on meter_id,
-- quantity and kind reach both tables' indexes.
CREATE OR REPLACE FUNCTION readings_between(lo timestamptz, hi timestamptz)
RETURNS TABLE (meter_id text, quantity text, ts timestamptz, value double precision,
               kind text, source text, quality text[], gateway_id text,
               received_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.meter_id, r.quantity, r.ts, r.value, r.kind, r.source, r.quality,
           r.gateway_id, r.received_at
    FROM readings r WHERE r.ts >= lo AND r.ts < hi
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
