-- Keyed pseudonyms (`src/domain/pseudonyms.rs`): code streams are named by an HMAC of their
-- target under a key of the service's, and the throttle and rate-limit keys of identifiers and
-- client addresses likewise. Rows keyed the old way would never be found again.
DELETE FROM sign_in_throttle;
DELETE FROM rate_limits;

-- Data keys that seal for a time only (`personal::key_lifetime`): code streams get a new key
-- each day (`seals_until`), and each is destroyed once its retention ends (`erase_after`). A
-- key that stopped sealing, or whose stream's account was deleted, is retired (`retired_at`):
-- it opens what it sealed until it is destroyed, and the stream's next write makes a new one.
ALTER TABLE data_keys
    ADD COLUMN seals_until timestamptz,
    ADD COLUMN erase_after timestamptz,
    ADD COLUMN retired_at  timestamptz;
DROP INDEX data_keys_live_stream;
CREATE UNIQUE INDEX data_keys_live_stream ON data_keys (stream_id)
    WHERE erased_at IS NULL AND retired_at IS NULL;
CREATE INDEX data_keys_erase_after ON data_keys (erase_after)
    WHERE erased_at IS NULL AND erase_after IS NOT NULL;

-- The code streams named the old way (a UUIDv5 of the target, which anyone could compute) are
-- left behind: their keys are destroyed now, as their retention would have, and their
-- snapshots deleted. A code sent before this migration can no longer be used.
UPDATE data_keys SET wrapped = NULL, erased_at = now()
WHERE erased_at IS NULL
  AND stream_id IN (SELECT DISTINCT stream_id FROM events WHERE stream_type = 'code');
DELETE FROM stream_snapshots
WHERE stream_id IN (SELECT DISTINCT stream_id FROM events WHERE stream_type = 'code');
