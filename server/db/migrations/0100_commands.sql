-- Commands to gateways (read now, backfill, time sync...) and their results.
CREATE TABLE IF NOT EXISTS gateway_commands (
    id            text PRIMARY KEY,
    gateway_id    text NOT NULL,
    name          text NOT NULL,
    args          jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'ok', 'error', 'expired')),
    requested_by  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    finished_at   timestamptz,
    result        jsonb,
    error         text
);
CREATE INDEX IF NOT EXISTS gateway_commands_pending ON gateway_commands (status, created_at);
