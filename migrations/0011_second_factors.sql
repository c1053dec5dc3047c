-- Second factors (issue 17): how each session was signed in, and the challenges that a sign-in
-- on an account with a second factor answers with it.

-- The factors a session was signed in with (`password` or `code`, then `totp` or
-- `recovery_code`), and when it proved a second factor (its step-up window starts there).
ALTER TABLE sessions
    ADD COLUMN methods text[] NOT NULL DEFAULT '{}',
    ADD COLUMN second_factor_at timestamptz;

-- Sessions of before: their first factor, from their SessionStarted event.
UPDATE sessions s SET methods = ARRAY[coalesce(e.data->>'method', 'password')]
FROM events e
WHERE e.stream_id = s.account_id AND e.event_type = 'SessionStarted'
  AND e.data->>'session_id' = s.id::text;

-- A first factor proven, waiting for the second: single-use, short-lived, and dead after
-- `failures` reaches the limit. The client holds the token; only its SHA-256 is kept.
CREATE TABLE mfa_challenges (
    token_hash bytea       PRIMARY KEY,
    id         uuid        NOT NULL UNIQUE,
    account_id uuid        NOT NULL,
    identifier text        NOT NULL,
    method     text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    failures   integer     NOT NULL DEFAULT 0,
    spent_at   timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);
