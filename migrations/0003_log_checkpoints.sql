-- Where each reader that tails the log has got to (the relay; later the projectors), as a
-- commit-safe cursor: the transaction id and position of the last event it finished with.
CREATE TABLE log_checkpoints (
    reader         text        PRIMARY KEY,
    transaction_id xid8        NOT NULL,
    position       bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
