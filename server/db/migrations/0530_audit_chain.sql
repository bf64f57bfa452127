-- Tamper evidence for the audit log (issue 17): every row carries its place in one chain
-- (chain_seq 1, 2, 3 ... without gaps), the hash of the row before it (prev_hash) and its
-- own hash (row_hash = SHA-256 of prev_hash and the row's content). A BEFORE INSERT trigger
-- fills them, so every writer is chained without calling anything new. Editing a row breaks
-- its hash, deleting one leaves a gap, and `meterlink-server audit-verify` finds both.
--
-- SHA-256 is PostgreSQL's built-in sha256() (since 11): no extension needed (pgcrypto is
-- available on both test servers, but a managed database may not allow CREATE EXTENSION).
-- Inserts are serialised by a transaction-level advisory lock held until the inserting
-- transaction ends, so concurrent writers chain one after the other in the order they
-- commit; chain_seq, not id, is the chain's order (ids are taken before the lock).

ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_seq bigint;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS prev_hash bytea;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS row_hash bytea;
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_chain_seq ON audit_log (chain_seq);
-- the API's listing: newest first, filtered by time or actor
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, at);

-- The end of the chain: the last row's place and hash (one row, set once per transaction).
CREATE TABLE IF NOT EXISTS audit_chain_head (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_seq   bigint NOT NULL DEFAULT 0,
    last_id    bigint,
    last_hash  bytea
);
INSERT INTO audit_chain_head (one) VALUES (true) ON CONFLICT DO NOTHING;

-- What a row's hash covers: its place, id, time (as epoch seconds, whatever the session's
-- time zone), who, what, which record and the before/after values, as one canonical JSON
-- array (jsonb's text form is deterministic), after the previous row's hash.
CREATE OR REPLACE FUNCTION audit_row_hash(r audit_log, prev bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(coalesce(prev, ''::bytea) || convert_to(jsonb_build_array(
        r.chain_seq, r.id, extract(epoch FROM r.at), r.actor, r.action, r.entity,
        r.entity_id, r.before, r.after)::text, 'UTF8'))
$$;

-- Inserts wait for each other on a transaction-level advisory lock, so the row before is
-- the newest committed one (each query of this VOLATILE function sees what was committed
-- before it ran, under the application's READ COMMITTED). Looked up by the chain_seq index:
-- no row is updated per insert (updating the head row for every insert of a long
-- transaction, an import say, would make each lookup walk all its versions).
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(1835819381);  -- 'mlau'
    SELECT a.chain_seq, a.row_hash INTO last_seq, last_hash FROM audit_log a
     WHERE a.chain_seq IS NOT NULL ORDER BY a.chain_seq DESC LIMIT 1;
    NEW.chain_seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := last_hash;
    NEW.row_hash := audit_row_hash(NEW, last_hash);
    RETURN NEW;
END $$;

-- The head records the chain's end once per transaction, at commit (a deferred trigger;
-- the advisory lock is still held then), so rows deleted from the end show too.
CREATE OR REPLACE FUNCTION audit_log_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('meterlink.audit_head_set', true) = 'yes' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('meterlink.audit_head_set', 'yes', true);
    UPDATE audit_chain_head h SET last_seq = a.chain_seq, last_id = a.id, last_hash = a.row_hash
      FROM (SELECT chain_seq, id, row_hash FROM audit_log WHERE chain_seq IS NOT NULL
             ORDER BY chain_seq DESC LIMIT 1) a
     WHERE h.one;
    RETURN NULL;
END $$;

-- The log is append-only for the application: an UPDATE, DELETE or TRUNCATE is refused.
-- (The table's owner can still disable this trigger; the chain is what shows it then.)
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Chain the rows already there, in id order, before the triggers exist.
LOCK TABLE audit_log IN EXCLUSIVE MODE;
DO $$
DECLARE
    r audit_log%ROWTYPE;
    seq bigint := 0;
    prev bytea := NULL;
    last bigint := NULL;
BEGIN
    IF (SELECT last_seq FROM audit_chain_head) = 0 THEN
        FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
            seq := seq + 1;
            r.chain_seq := seq;
            r.prev_hash := prev;
            r.row_hash := audit_row_hash(r, prev);
            UPDATE audit_log SET chain_seq = r.chain_seq, prev_hash = r.prev_hash,
                   row_hash = r.row_hash WHERE id = r.id;
            prev := r.row_hash;
            last := r.id;
        END LOOP;
        UPDATE audit_chain_head SET last_seq = seq, last_id = last, last_hash = prev;
    END IF;
END $$;

DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
DROP TRIGGER IF EXISTS audit_log_head ON audit_log;
CREATE CONSTRAINT TRIGGER audit_log_head AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_head();
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
