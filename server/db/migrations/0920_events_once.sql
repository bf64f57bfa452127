-- Events and clock checks stored once (issue 20). Ingestion writes them to ``readings``
-- and, for the event pages and rules, to ``meter_events``; compaction moved the reading to
-- ``readings_cold`` and left the copy, so every compacted event was stored twice (266 B +
-- 218 B, about 2 B of the 12 B a reading budget). From now on a compacted event lives in
-- ``readings_cold`` only: compaction deletes its ``meter_events`` copy (same key, same
-- value), retention hands it back to ``meter_events`` when it removes the reading (events
-- were always kept past the readings' retention), and every reader of events reads
-- ``meter_events_all``.

CREATE OR REPLACE VIEW meter_events_all AS
    SELECT e.meter_id, e.ts, e.quantity, e.value, e.gateway_id, e.received_at
    FROM meter_events e
    UNION ALL
    SELECT c.meter_id, c.ts, c.quantity, c.value, c.gateway_id, c.received_at
    FROM readings_cold c
    WHERE c.kind IN ('event', 'clock')
      AND NOT EXISTS (SELECT 1 FROM meter_events o WHERE o.meter_id = c.meter_id
                      AND o.quantity = c.quantity AND o.ts = c.ts);

-- the copies of events compacted before this migration
DELETE FROM meter_events e
USING readings_cold c
WHERE c.meter_id = e.meter_id AND c.quantity = e.quantity AND c.ts = e.ts
  AND c.kind IN ('event', 'clock') AND c.value = e.value;
