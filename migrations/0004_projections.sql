-- The projector engine's bookkeeping. Each projection's tables live in a schema of their own,
-- `projection_<name>`, built from `projections/<name>.sql`.
CREATE TABLE projections (
    name            text        PRIMARY KEY,
    -- SHA-256 of the definition the live tables were built with; another hash means rebuild.
    definition_hash text        NOT NULL,
    -- Counts rebuilds; failures are recorded per generation.
    generation      bigint      NOT NULL,
    -- Commit-safe cursor of the last event applied (see store::event_log).
    transaction_id  xid8        NOT NULL,
    position        bigint      NOT NULL,
    -- JetStream sequence of the last message applied from NATS (0: none yet).
    stream_sequence bigint      NOT NULL DEFAULT 0,
    rebuilt_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Events a projection could not apply, with the database's error. The projection goes on
-- without them; an operator fixes the definition and rebuilds.
CREATE TABLE projection_failures (
    projection text        NOT NULL,
    generation bigint      NOT NULL,
    position   bigint      NOT NULL,
    event_id   uuid        NOT NULL,
    event_type text        NOT NULL,
    error      text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, generation, position)
);

-- Every definition each projection was built with. A projector never rebuilds with a definition
-- that was live before and has since been replaced (an old version of the service still
-- running during a deploy); `accounts rebuild` still can.
CREATE TABLE projection_history (
    projection      text        NOT NULL,
    definition_hash text        NOT NULL,
    generation      bigint      NOT NULL,
    built_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, generation)
);
