-- The anomaly archive, re-read requests and job runs.
CREATE TABLE IF NOT EXISTS anomalies (
    id           bigserial PRIMARY KEY,
    rule         text NOT NULL,
    meter_id     text,            -- null for area rules (line loss)
    area_id      text,
    first_date   date NOT NULL,
    last_date    date NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}',
    evidence     jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'confirmed', 'dismissed', 'closed')),
    comment      text,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    updated_by   text,
    updated_at   timestamptz
);
-- one ongoing record per subject and rule: a continuing anomaly is updated, not repeated
CREATE UNIQUE INDEX IF NOT EXISTS anomalies_ongoing
    ON anomalies (rule, coalesce(meter_id, ''), coalesce(area_id, ''))
    WHERE status IN ('open', 'confirmed');
CREATE INDEX IF NOT EXISTS anomalies_by_date ON anomalies (last_date, rule);

CREATE TABLE IF NOT EXISTS rule_params (
    rule            text NOT NULL,
    customer_class  text NOT NULL DEFAULT '*',
    params          jsonb NOT NULL,
    updated_by      text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, customer_class)
);

CREATE TABLE IF NOT EXISTS reread_requests (
    meter_id      text NOT NULL,
    data_date     date NOT NULL,
    gateway_id    text NOT NULL,
    command_id    text NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, data_date)
);

CREATE TABLE IF NOT EXISTS job_runs (
    id           bigserial PRIMARY KEY,
    job          text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'ok', 'error',
                                                                    'skipped')),
    detail       jsonb
);
