-- The event log: the single source of truth. Every other table is derived from it.
--
-- `position` orders the whole log; `version` orders one stream, and UNIQUE (stream_id, version)
-- is the optimistic-concurrency guard: two writers that both read version N cannot both append
-- N + 1. `transaction_id` is the writing transaction's id, used by readers that tail the log to
-- read only what no running transaction can still add before (see src/store/event_log.rs).
CREATE TABLE events (
    position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_type    text        NOT NULL,
    stream_id      uuid        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

-- Tailing readers walk the log in commit-safe order.
CREATE INDEX events_commit_order ON events (transaction_id, position);
-- Auditors filter the log by type.
CREATE INDEX events_type ON events (event_type, position);

-- History is never rewritten: an UPDATE, DELETE or TRUNCATE of the log fails, whoever asks.
CREATE FUNCTION events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();
