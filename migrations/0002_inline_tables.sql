-- Inline tables: state that must be strongly consistent with the log, written in the same
-- transaction as the events that cause it, always after the event INSERT (the INSERT must be
-- the transaction's first write so that its transaction id orders it correctly in the log).

-- Normalized identifiers (email, username, phone) and the account stream that holds each.
-- The primary key makes concurrent sign-ups with one email race on one row: exactly one wins.
CREATE TABLE unique_claims (
    kind       text        NOT NULL CHECK (kind IN ('email', 'username', 'phone')),
    value      text        NOT NULL,
    stream_id  uuid        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);
CREATE INDEX unique_claims_stream ON unique_claims (stream_id);

-- Signed-in sessions. Only the SHA-256 of a token is kept: a leaked table signs nobody in.
CREATE TABLE sessions (
    id           uuid        PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE,
    account_id   uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    user_agent   text,
    ip           text,
    ended_at     timestamptz,
    end_reason   text,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_live_by_account ON sessions (account_id, created_at) WHERE ended_at IS NULL;

-- Idempotency keys. A key is claimed inside the command's transaction, so a command runs at
-- most once per key; the answer is stored (sealed, since it may hold a session token) right
-- after, and replayed to retries with the same request.
CREATE TABLE idempotency (
    scope               bytea       NOT NULL,
    key                 text        NOT NULL,
    request_fingerprint bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    response_status     smallint,
    response_position   bigint,
    response_body       bytea,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
