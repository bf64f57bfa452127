-- Re-reading tells the truth (issue 18, item 3).
-- A backfill that read none of its meter-days is an 'error', one that read some a 'partial'
-- (the gateway answered, but not every meter-day came back).
ALTER TABLE gateway_commands DROP CONSTRAINT IF EXISTS gateway_commands_status_check;
ALTER TABLE gateway_commands ADD CONSTRAINT gateway_commands_status_check
    CHECK (status IN ('pending', 'sent', 'ok', 'partial', 'error', 'expired'));
-- Whether the meter-day had no daily freeze when it was asked: only those count as
-- "recovered" once a freeze arrives (a staff re-read of a day already read recovers nothing).
ALTER TABLE reread_requests ADD COLUMN IF NOT EXISTS missing_when_asked boolean NOT NULL DEFAULT true;
