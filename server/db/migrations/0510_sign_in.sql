-- Sign-in that holds (issue 17): user names unique without regard to case, every sign-in
-- attempt kept with its account and address, account locks, and revoked tokens.

-- Two names that differ only in case ('admin', 'Admin') cannot both exist. Existing
-- duplicates are not guessed at: the migration stops and names them, so an admin renames or
-- removes one (UPDATE users SET username = ... / DELETE) and starts the server again.
DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(names, '; ') INTO clash FROM (
        SELECT string_agg(username, ', ' ORDER BY username) AS names
        FROM users GROUP BY lower(username) HAVING count(*) > 1
    ) AS groups;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'user names that differ only in case: %', clash
            USING HINT = 'rename or delete all but one of each group, then start again';
    END IF;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower ON users (lower(username));

-- Replaced by sign_in_locks (which also counts names that do not exist, so a lock says
-- nothing about whether an account does).
ALTER TABLE users DROP COLUMN IF EXISTS failed_logins;

-- Every attempt: outcome 'ok', 'wrong' (wrong name, password, or a disabled account),
-- 'locked' (account locked, password not checked), 'throttled' (address over its limit),
-- 'busy' (hashing pool full). username is what was typed, not necessarily an account.
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    username  text NOT NULL,
    address   text NOT NULL,
    outcome   text NOT NULL CHECK (outcome IN ('ok', 'wrong', 'locked', 'throttled', 'busy'))
);
CREATE INDEX IF NOT EXISTS sign_in_attempts_address ON sign_in_attempts (address, at);
CREATE INDEX IF NOT EXISTS sign_in_attempts_name ON sign_in_attempts (lower(username), at);

-- Failures per name (lower case) in the current window, and the lock they led to.
CREATE TABLE IF NOT EXISTS sign_in_locks (
    name_key      text PRIMARY KEY,
    failures      integer NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL,
    locked_until  timestamptz
);

-- Tokens signed out before they expire (by their jti); rows are kept until then.
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti         text PRIMARY KEY,
    username    text NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expiry ON revoked_tokens (expires_at);
