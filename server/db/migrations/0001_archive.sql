-- The archive: organisation units, transformer areas (台区), concentrators (gateways), meters,
-- and the audit log of every change to it.
CREATE TABLE IF NOT EXISTS org_units (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    parent_id  text REFERENCES org_units(id)
);

CREATE TABLE IF NOT EXISTS areas (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    org_unit_id      text REFERENCES org_units(id),
    master_meter_id  text,
    capacity_kva     numeric,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS gateways (
    id           text PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    area_id      text REFERENCES areas(id),
    org_unit_id  text REFERENCES org_units(id),
    online       boolean NOT NULL DEFAULT false,
    known        boolean NOT NULL DEFAULT true,  -- false: seen on the broker, not in the archive
    last_seen    timestamptz,
    status       jsonb,
    status_at    timestamptz,
    version      text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS meters (
    id                 text PRIMARY KEY,
    address            text NOT NULL,
    protocol           text NOT NULL CHECK (protocol IN ('dlt645-2007', 'dlt645-1997', 'modbus')),
    modbus_profile     text,
    modbus_unit        integer,
    gateway_id         text REFERENCES gateways(id),
    bus                text,
    area_id            text REFERENCES areas(id),
    customer_class     text NOT NULL DEFAULT 'residential'
                       CHECK (customer_class IN ('residential', 'commercial', 'industrial',
                                                 'agricultural', 'other')),
    customer_name      text,
    customer_phone     text,
    customer_address   text,
    rated_voltage      numeric,
    rated_current      numeric,
    ct_ratio           numeric NOT NULL DEFAULT 1 CHECK (ct_ratio > 0),
    pt_ratio           numeric NOT NULL DEFAULT 1 CHECK (pt_ratio > 0),
    contracted_kw      numeric,
    is_generation      boolean NOT NULL DEFAULT false,
    is_area_master     boolean NOT NULL DEFAULT false,
    installed_on       date NOT NULL,
    removed_on         date,
    replaces_meter_id  text REFERENCES meters(id),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (removed_on IS NULL OR removed_on >= installed_on)
);
CREATE INDEX IF NOT EXISTS meters_gateway ON meters (gateway_id);
CREATE INDEX IF NOT EXISTS meters_area ON meters (area_id);

CREATE TABLE IF NOT EXISTS audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text,
    before     jsonb,
    after      jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_entity ON audit_log (entity, entity_id, at);
