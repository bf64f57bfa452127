-- A command nobody answers must not stay "sent" for ever: past METERLINK_COMMAND_TTL_S the
-- expire_commands job marks it 'expired' and stamps expired_at. A result that still arrives
-- later is recorded (status 'ok'/'error'); expired_at stays, saying the answer came late.
ALTER TABLE gateway_commands ADD COLUMN IF NOT EXISTS expired_at timestamptz;
CREATE INDEX IF NOT EXISTS gateway_commands_open ON gateway_commands (coalesce(sent_at, created_at))
    WHERE status IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS gateway_commands_by_gateway ON gateway_commands (gateway_id, created_at DESC);
