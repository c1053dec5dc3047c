-- Passkeys (issue 17): the server's half of each WebAuthn ceremony between its start and
-- its finish. A registration or a step-up belongs to the session that began it; a
-- passwordless sign-in to no one until its assertion names an account. Single-use (taken by DELETE ... RETURNING) and
-- short-lived. The client holds the token; only its SHA-256 is kept.
CREATE TABLE passkey_ceremonies (
    token_hash bytea       PRIMARY KEY,
    purpose    text        NOT NULL CHECK (purpose IN ('registration', 'step_up', 'sign_in')),
    account_id uuid,
    session_id uuid,
    state      jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at),
    CHECK ((purpose = 'sign_in') = (session_id IS NULL))
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
-- A session has one ceremony of a purpose at a time: beginning another replaces it.
CREATE UNIQUE INDEX passkey_ceremonies_session ON passkey_ceremonies (session_id, purpose)
    WHERE session_id IS NOT NULL;

-- A second-factor challenge of an account with passkeys also carries the assertion's state
-- (the WebAuthn challenge and the credentials allowed), answered with `passkey_assertion`.
ALTER TABLE mfa_challenges ADD COLUMN passkey_state jsonb;

-- A WebAuthn credential id names one passkey of one account (WebAuthn §7.1: an RP refuses a
-- credential id registered to any user): claimed as identifiers are, freed with the passkey.
ALTER TABLE unique_claims DROP CONSTRAINT unique_claims_kind_check,
    ADD CONSTRAINT unique_claims_kind_check
        CHECK (kind IN ('email', 'username', 'phone', 'passkey'));
