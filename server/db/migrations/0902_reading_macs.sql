-- The MAC an ESAM meter returned with a value, and the random number (RN) the reader sent
-- (issue 21): DL/T 698.45 meters with an ESAM answer frozen data only through SECURITY
-- plaintext + MAC, which only the utility's security module can verify. The pair is kept,
-- as received, beside the readings that carry one (side tables: a reading without a MAC
-- costs nothing), keyed like them; such readings carry the quality flag 'unverified'.
-- meter_id first in every key (distributed by meter_id under Citus, colocated with
-- readings and daily_freeze).

-- Readings in ``readings`` or, once compacted, ``readings_compact`` (keyed by instant, so
-- compaction moves nothing here); retention deletes a MAC once its reading is gone
-- (server.db.partitions.drop_old).
CREATE TABLE IF NOT EXISTS reading_macs (
    meter_id  text NOT NULL,
    quantity  text NOT NULL,
    ts        timestamptz NOT NULL,
    mac       bytea NOT NULL CHECK (octet_length(mac) BETWEEN 1 AND 64),
    rn        bytea CHECK (octet_length(rn) BETWEEN 1 AND 64),
    PRIMARY KEY (meter_id, quantity, ts)
);
-- retention's day-range scan: rows arrive roughly in time order
CREATE INDEX IF NOT EXISTS reading_macs_ts ON reading_macs USING brin (ts);

-- Daily freezes, by data date like ``daily_freeze``; a freeze deleted takes its MAC along.
CREATE TABLE IF NOT EXISTS freeze_macs (
    meter_id   text NOT NULL,
    quantity   text NOT NULL,
    data_date  date NOT NULL,
    mac        bytea NOT NULL CHECK (octet_length(mac) BETWEEN 1 AND 64),
    rn         bytea CHECK (octet_length(rn) BETWEEN 1 AND 64),
    PRIMARY KEY (meter_id, quantity, data_date),
    FOREIGN KEY (meter_id, data_date, quantity)
        REFERENCES daily_freeze (meter_id, data_date, quantity) ON DELETE CASCADE
);
