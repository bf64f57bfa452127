-- A dead letter keeps at most the first 64 KiB of its payload (a publisher must not be able
-- to fill the database disk), with the whole payload's size and SHA-256 so it can still be
-- identified and matched against the sender's copy.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS payload_size bigint;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS payload_sha256 text;
UPDATE dead_letters SET payload_size = octet_length(payload),
                        payload_sha256 = encode(sha256(payload), 'hex')
 WHERE payload IS NOT NULL AND payload_size IS NULL;
UPDATE dead_letters SET payload = substring(payload from 1 for 65536)
 WHERE octet_length(payload) > 65536;
