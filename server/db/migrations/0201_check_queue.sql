-- Meter-days whose data arrived and whose anomaly rules have not run since (the ingest path
-- fills it in the same transaction as the readings; the incremental check job empties it).
CREATE TABLE IF NOT EXISTS check_queue (
    meter_id   text NOT NULL,
    data_date  date NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, data_date)
);
