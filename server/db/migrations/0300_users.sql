-- Users of the API and dashboard, with their role. Passwords are stored as Argon2id hashes
-- only. token_generation is bumped to revoke every token issued before a change.
CREATE TABLE IF NOT EXISTS users (
    username          text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role              text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash     text NOT NULL,
    display_name      text,
    active            boolean NOT NULL DEFAULT true,
    token_generation  integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_login_at     timestamptz,
    failed_logins     integer NOT NULL DEFAULT 0
);
