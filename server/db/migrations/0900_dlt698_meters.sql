-- DL/T 698.45 meters in the archive (issue 21): the protocol value 'dlt698' is accepted.
ALTER TABLE meters DROP CONSTRAINT IF EXISTS meters_protocol_check;
ALTER TABLE meters ADD CONSTRAINT meters_protocol_check
    CHECK (protocol IN ('dlt645-2007', 'dlt645-1997', 'modbus', 'dlt698'));
