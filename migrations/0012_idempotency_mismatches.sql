-- How many other requests came under a key: past a few, the key answers only
-- `422 idempotency_key_reused`, its stored answer never again, so that a key cannot be used to
-- find the body that replays it (a confirmation code, say) by trying bodies.
ALTER TABLE idempotency ADD COLUMN mismatches integer NOT NULL DEFAULT 0;
