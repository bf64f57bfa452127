-- Readings: a TimescaleDB hypertable where the extension is loaded, native range partitions
-- by year otherwise (created on demand by server.db.partitions.ensure_partitions). The same
-- queries serve both. The primary key makes a repeated reading a no-op.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries', true) LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        CREATE TABLE IF NOT EXISTS readings (
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
        PERFORM create_hypertable('readings', 'ts', chunk_time_interval => interval '7 days',
                                  if_not_exists => true);
    ELSE
        CREATE TABLE IF NOT EXISTS readings (
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
        ) PARTITION BY RANGE (ts);
    END IF;
END
$$;

-- Daily-freeze registers by data date (the day a freeze at local 00:00 of D+1 closes).
CREATE TABLE IF NOT EXISTS daily_freeze (
    meter_id     text NOT NULL,
    data_date    date NOT NULL,
    quantity     text NOT NULL,
    value        double precision NOT NULL,
    freeze_ts    timestamptz NOT NULL,
    source       text NOT NULL,
    gateway_id   text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, data_date, quantity)
);
CREATE INDEX IF NOT EXISTS daily_freeze_date ON daily_freeze (data_date, quantity);

CREATE TABLE IF NOT EXISTS meter_events (
    meter_id     text NOT NULL,
    ts           timestamptz NOT NULL,
    quantity     text NOT NULL,
    value        double precision NOT NULL,
    gateway_id   text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity, ts)
);

-- A repeat of a stored reading with a different value: kept aside for staff, never applied.
CREATE TABLE IF NOT EXISTS reading_conflicts (
    id            bigserial PRIMARY KEY,
    meter_id      text NOT NULL,
    quantity      text NOT NULL,
    ts            timestamptz NOT NULL,
    stored_value  double precision NOT NULL,
    new_value     double precision NOT NULL,
    kind          text NOT NULL,
    gateway_id    text,
    batch_id      text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meter_id, quantity, ts, new_value)
);

-- Messages or readings that could not be stored as they came, with the reason.
CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    gateway_id   text,
    reason       text NOT NULL,
    payload      bytea
);
CREATE INDEX IF NOT EXISTS dead_letters_at ON dead_letters (received_at);

-- Readings of meters the archive does not know (yet): listed for staff, not dropped.
CREATE TABLE IF NOT EXISTS quarantine (
    meter_id     text NOT NULL,
    quantity     text NOT NULL,
    ts           timestamptz NOT NULL,
    value        double precision NOT NULL,
    kind         text NOT NULL,
    source       text NOT NULL,
    gateway_id   text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity, ts)
);
