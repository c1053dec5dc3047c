-- Identifiers have one canonical form (UTS #46 A-labels for email domains, E.164 from
-- libphonenumber metadata for phones). The claims stored before are rewritten into that form by
-- the Rust step of this migration (`store::claims::canonicalize_stored`); events keep the
-- spelling they were written with and are read in canonical form (`domain::values`).
--
-- Attempts of every password and code check are counted, per key, before the check runs; the
-- table keeps its name from when it counted sign-in failures only.
COMMENT ON TABLE sign_in_throttle IS
    'Attempts reserved before a password check, per identifier, client address or account (hashed keys)';

-- Deliveries: a message failing for now gives its claim back ('retrying') for JetStream's
-- redelivery to take; one that can never be sent is 'failed' and never tried again.
ALTER TABLE message_deliveries DROP CONSTRAINT message_deliveries_status_check;
ALTER TABLE message_deliveries ADD CONSTRAINT message_deliveries_status_check
    CHECK (status IN ('sending', 'retrying', 'sent', 'skipped', 'failed'));
