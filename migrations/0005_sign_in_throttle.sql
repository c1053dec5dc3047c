-- Sign-in protection: consecutive failed sign-ins per identifier (known or not; keyed by a hash
-- of the normalized identifier), and the captcha challenges already spent.
CREATE TABLE sign_in_throttle (
    identifier_hash bytea       PRIMARY KEY,
    failures        integer     NOT NULL,
    last_failure_at timestamptz NOT NULL
);

CREATE TABLE captcha_spent (
    challenge  text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- Fixed-window rate limits (codes sent per client address, ...), keyed by a hash.
CREATE TABLE rate_limits (
    key          bytea       PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL
);
