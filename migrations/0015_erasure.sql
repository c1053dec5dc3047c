-- Deleted accounts and the erasure of their personal data (`service::erasure`): a row is
-- written with the deletion, removed by a restore, and marked when the grace period
-- (ACCOUNTS_ERASURE_GRACE_DAYS after `deleted_at`) has ended and the account's data keys were
-- destroyed.
CREATE TABLE erasures (
    account_id uuid        PRIMARY KEY,
    deleted_at timestamptz NOT NULL,
    erased_at  timestamptz
);
CREATE INDEX erasures_pending ON erasures (deleted_at) WHERE erased_at IS NULL;
