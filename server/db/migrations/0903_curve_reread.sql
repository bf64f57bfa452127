-- Curve re-reading (曲线补抄, issue 21): a DL/T 698.45 meter keeps its 15-minute curve in its
-- minute freeze (5002), so a day's missed points can be asked again with a backfill_curve
-- command. One row per meter-day asked, pointing at the command that asks it last (the
-- earlier commands stay in gateway_commands with their items and results), as
-- reread_requests does for daily freezes; how many of the day's points were stored when it
-- was asked, so what the re-read recovered can be told.
CREATE TABLE IF NOT EXISTS curve_reread_requests (
    meter_id          text NOT NULL,
    data_date         date NOT NULL,
    gateway_id        text NOT NULL,
    command_id        text NOT NULL,
    requested_by      text NOT NULL,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    points_when_asked integer NOT NULL CHECK (points_when_asked >= 0),
    PRIMARY KEY (meter_id, data_date)
);
CREATE INDEX IF NOT EXISTS curve_reread_requests_command ON curve_reread_requests (command_id);
