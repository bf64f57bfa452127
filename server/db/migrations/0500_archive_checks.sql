-- The archive refuses what it cannot use (issue 17), as server.archive.validate does for
-- the API and the import: ids in the wire's grammar (addressable in a URL, an MQTT topic and
-- a command), finite numbers in range, bounded text. NaN passed `CHECK (ct_ratio > 0)`
-- (numeric NaN sorts above every number), and switched off a whole area's line loss; an
-- upper bound refuses NaN and Infinity alike, and `<> 'NaN'` says so plainly.
-- NOT VALID: rows already stored are left for staff to correct (any change to such a row
-- must then correct it too); every new or changed row is checked.
ALTER TABLE meters
    ADD CONSTRAINT meters_id_grammar CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$') NOT VALID,
    ADD CONSTRAINT meters_ct_ratio_range
        CHECK (ct_ratio <> 'NaN' AND ct_ratio > 0 AND ct_ratio <= 100000) NOT VALID,
    ADD CONSTRAINT meters_pt_ratio_range
        CHECK (pt_ratio <> 'NaN' AND pt_ratio > 0 AND pt_ratio <= 100000) NOT VALID,
    ADD CONSTRAINT meters_rated_voltage_range
        CHECK (rated_voltage > 0 AND rated_voltage <= 1000000) NOT VALID,
    ADD CONSTRAINT meters_rated_current_range
        CHECK (rated_current > 0 AND rated_current <= 100000) NOT VALID,
    ADD CONSTRAINT meters_contracted_kw_range
        CHECK (contracted_kw >= 0 AND contracted_kw <= 10000000) NOT VALID,
    ADD CONSTRAINT meters_text_bounds CHECK (
        coalesce(char_length(bus), 0) <= 64
        AND coalesce(char_length(customer_name), 0) <= 200
        AND coalesce(char_length(customer_phone), 0) <= 64
        AND coalesce(char_length(customer_address), 0) <= 500
        AND coalesce(char_length(modbus_profile), 0) <= 64) NOT VALID;

ALTER TABLE areas
    ADD CONSTRAINT areas_id_grammar CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$') NOT VALID,
    ADD CONSTRAINT areas_capacity_range
        CHECK (capacity_kva > 0 AND capacity_kva <= 10000000) NOT VALID,
    ADD CONSTRAINT areas_name_bound CHECK (char_length(name) <= 200) NOT VALID;

ALTER TABLE gateways
    ADD CONSTRAINT gateways_id_grammar CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$') NOT VALID,
    ADD CONSTRAINT gateways_name_bound CHECK (char_length(name) <= 200) NOT VALID;

ALTER TABLE org_units
    ADD CONSTRAINT org_units_id_grammar CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$') NOT VALID,
    ADD CONSTRAINT org_units_name_bound CHECK (char_length(name) <= 200) NOT VALID;
