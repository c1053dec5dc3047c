-- Which key-encryption key wrapped each data key (the first 8 bytes of its SHA-256, in hex), so
-- that a rotation (`accounts keys rewrap`) finds the data keys still wrapped by an older one.
-- NULL: wrapped before this was recorded, by the key derived from the service's secret key.
ALTER TABLE data_keys ADD COLUMN wrapped_by text;
CREATE INDEX data_keys_wrapped_by ON data_keys (wrapped_by) WHERE wrapped IS NOT NULL;
