-- A stream's state as of one of its versions, written in the transaction of the command that
-- reached that version, so that a command or a read loads it and only the events after it. The
-- log stays the truth: a snapshot of another format (another build's state type or `evolve`) is
-- ignored, and the next command writes one of its own; deleting rows here loses nothing.
CREATE TABLE stream_snapshots (
    stream_id   uuid        PRIMARY KEY,
    stream_type text        NOT NULL,
    version     bigint      NOT NULL CHECK (version > 0),
    position    bigint      NOT NULL,
    format      text        NOT NULL,
    state       jsonb       NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now()
);
