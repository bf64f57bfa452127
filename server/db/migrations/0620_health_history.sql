-- What each gateway said, and when, so a failed meter-day's reason is the one true on that
-- day, not the gateway's state now (issue 18, item 4). Both logs keep only changes: a row
-- when a gateway's online state changes, and a row when a meter's state or error changes
-- (an error is kept only while the meter is not 'ok': a meter that reads again is clear).
CREATE TABLE IF NOT EXISTS gateway_online_log (
    gateway_id  text NOT NULL,
    ts          timestamptz NOT NULL,
    online      boolean NOT NULL,
    -- a will may carry the time of the status it ends: both rows stay (offline sorts last)
    PRIMARY KEY (gateway_id, ts, online)
);

CREATE TABLE IF NOT EXISTS meter_health_log (
    meter_id    text NOT NULL,
    ts          timestamptz NOT NULL,
    gateway_id  text NOT NULL,
    state       text NOT NULL,
    last_error  text,
    PRIMARY KEY (meter_id, ts)
);
