-- Per-stream data keys (envelope encryption of personal data, see `src/personal.rs`). Each key
-- is a random 256-bit ChaCha20-Poly1305 key, stored sealed by a key derived from the service's
-- secret key (`wrapped`, text of `SecretBox::seal_text`), never in the log. The log holds only
-- the key's id beside each sealed value. Erasing destroys `wrapped`: what it sealed can never be
-- read again, while the events keep their facts. A stream has at most one live key; after an
-- erasure a new key may be made for the same stream (a code stream of an address that is used
-- again), and the old one stays erased.
CREATE TABLE data_keys (
    key_id     uuid        PRIMARY KEY,
    stream_id  uuid        NOT NULL,
    wrapped    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at  timestamptz,
    CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
);
CREATE UNIQUE INDEX data_keys_live_stream ON data_keys (stream_id) WHERE erased_at IS NULL;

-- Snapshots held personal data in clear; they are written sealed from now on. They are a cache
-- of the log: the next command of each stream writes its snapshot again.
DELETE FROM stream_snapshots;
