-- Administrators and owners, kept with the role changes that make them (inline), so that the
-- rule "the last owner cannot be demoted or deleted" holds under concurrency.
CREATE TABLE privileged_accounts (
    account_id uuid PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('admin', 'owner'))
);
CREATE INDEX privileged_accounts_role ON privileged_accounts (role);
