-- users: public profiles, for GET /v1/users/{id}, GET /v1/users?ids= and
-- GET /v1/users/lookup?username=. Privacy is stored here and applied by the queries.
--
-- How a projection file reads (see src/projector/definition.rs): first the tables, then one
-- section per event type, headed `-- on <EventType>` (several types: `-- on A, B`). Each
-- statement of a section runs with `$1` bound to the event's envelope as jsonb, the same JSON
-- the relay publishes: {id, type, schema_version, stream_type, stream_id, version, position,
-- recorded_at, data, metadata}. A statement ends with `;` at the end of a line. Editing this
-- file makes the projector rebuild the tables from the log and swap them in.

CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    username      text,
    display_name  text,
    email         text,
    email_verified boolean    NOT NULL DEFAULT false,
    phone         text,
    avatar_url    text,
    cover_url     text,
    bio           text,
    gender        text        NOT NULL DEFAULT 'unknown',
    birthday      date,
    country       text,
    province      text,
    city          text,
    role          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'active',
    featured      boolean     NOT NULL DEFAULT false,
    -- Second factors: TOTP on, passkeys registered, and whether any is (what admins filter by).
    totp_enabled  boolean     NOT NULL DEFAULT false,
    passkeys      integer     NOT NULL DEFAULT 0,
    mfa_enabled   boolean     GENERATED ALWAYS AS (totp_enabled OR passkeys > 0) STORED,
    -- The domain's defaults (domain::account::Privacy): contact details and birthday hidden.
    show_phone    boolean     NOT NULL DEFAULT false,
    show_email    boolean     NOT NULL DEFAULT false,
    show_birthday boolean     NOT NULL DEFAULT false,
    show_follows  boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- Version of the account stream's last event applied.
    version       bigint      NOT NULL
);
-- Deleted accounts' rows, kept whole (as jsonb, without the generated column) for a restore
-- within the grace period, and deleted when their personal data is erased.
CREATE TABLE users_deleted (
    id  uuid  PRIMARY KEY,
    row jsonb NOT NULL
);
CREATE INDEX users_username ON users (lower(username));
-- For GET /v1/admin/users: prefix search, exact email, each filter with the default order.
CREATE INDEX users_username_prefix ON users (lower(username) text_pattern_ops);
CREATE INDEX users_display_name ON users (lower(display_name) text_pattern_ops);
CREATE INDEX users_email ON users (lower(email) text_pattern_ops);
CREATE INDEX users_phone ON users (phone text_pattern_ops);
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_updated ON users (updated_at, id);
CREATE INDEX users_display_name_order ON users (display_name, id);
CREATE INDEX users_role_created ON users (role, created_at);
CREATE INDEX users_status_created ON users (status, created_at);
CREATE INDEX users_featured_created ON users (featured, created_at);
CREATE INDEX users_verified_created ON users (email_verified, created_at);
CREATE INDEX users_mfa_created ON users (mfa_enabled, created_at);

-- on AccountRegistered
INSERT INTO users (id, username, display_name, email, phone, role, created_at, updated_at, version)
SELECT ($1->>'stream_id')::uuid, d->>'username', d->>'display_name', d->>'email', d->>'phone',
       d->>'role', (d->>'at')::timestamptz, (d->>'at')::timestamptz, ($1->>'version')::bigint
FROM (SELECT $1->'data' AS d) AS event;

-- on ProfileUpdated
-- jsonb_populate_record keeps each column the change does not name and takes the new value
-- (null: cleared) of each one it does. (A change whose personal data is erased names none.)
UPDATE users AS u
SET (display_name, avatar_url, cover_url, bio, gender, birthday, country, province, city,
     updated_at, version)
  = (SELECT c.display_name, c.avatar_url, c.cover_url, c.bio, c.gender, c.birthday, c.country,
            c.province, c.city, ($1->'data'->>'at')::timestamptz, ($1->>'version')::bigint
     FROM jsonb_populate_record(u, coalesce($1->'data'->'changes', '{}')) AS c)
WHERE u.id = ($1->>'stream_id')::uuid AND u.version < ($1->>'version')::bigint;

-- on UsernameChanged
UPDATE users
SET username = $1->'data'->>'username',
    updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on PrivacyChanged
UPDATE users
SET show_phone = ($1->'data'->'privacy'->>'show_phone')::boolean,
    show_email = ($1->'data'->'privacy'->>'show_email')::boolean,
    show_birthday = ($1->'data'->'privacy'->>'show_birthday')::boolean,
    show_follows = ($1->'data'->'privacy'->>'show_follows')::boolean,
    updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on AccountDeleted
WITH deleted AS (DELETE FROM users WHERE id = ($1->>'stream_id')::uuid RETURNING *)
INSERT INTO users_deleted (id, row)
SELECT id, to_jsonb(deleted) - 'mfa_enabled' FROM deleted
ON CONFLICT (id) DO UPDATE SET row = EXCLUDED.row;

-- on AccountRestored
WITH restored AS (
    DELETE FROM users_deleted WHERE id = ($1->>'stream_id')::uuid RETURNING row
)
INSERT INTO users (id, username, display_name, email, email_verified, phone, avatar_url, cover_url, bio, gender, birthday, country, province, city, role, status, featured, totp_enabled, passkeys, show_phone, show_email, show_birthday, show_follows, created_at, updated_at, version)
SELECT r.id, r.username, r.display_name, r.email, r.email_verified, r.phone, r.avatar_url, r.cover_url, r.bio, r.gender, r.birthday, r.country, r.province, r.city, r.role, r.status, r.featured, r.totp_enabled, r.passkeys, r.show_phone, r.show_email, r.show_birthday, r.show_follows, r.created_at, r.updated_at, r.version
FROM restored, jsonb_populate_record(NULL::users, restored.row) AS r
ON CONFLICT (id) DO NOTHING;
UPDATE users
SET updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on PersonalDataErased
DELETE FROM users_deleted WHERE id = ($1->>'stream_id')::uuid;
DELETE FROM users WHERE id = ($1->>'stream_id')::uuid;

-- on EmailVerified
UPDATE users
SET email_verified = true, updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on EmailChanged
UPDATE users
SET email = $1->'data'->>'email', email_verified = true, updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on PhoneChanged
UPDATE users
SET phone = $1->'data'->>'phone', updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on RoleChanged
UPDATE users
SET role = $1->'data'->>'role', updated_at = ($1->'data'->>'at')::timestamptz,
    version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on AccountBlocked, AccountUnblocked
UPDATE users
SET status = CASE $1->>'type' WHEN 'AccountBlocked' THEN 'blocked' ELSE 'active' END,
    updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on FeaturedChanged
UPDATE users
SET featured = ($1->'data'->>'featured')::boolean,
    updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on TotpEnabled, TotpRemoved
UPDATE users
SET totp_enabled = ($1->>'type' = 'TotpEnabled'),
    updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on SecondFactorsReset
UPDATE users
SET totp_enabled = false, passkeys = 0,
    updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;

-- on PasskeyAdded, PasskeyRemoved
UPDATE users
SET passkeys = greatest(passkeys + CASE WHEN $1->>'type' = 'PasskeyAdded' THEN 1 ELSE -1 END, 0),
    updated_at = ($1->'data'->>'at')::timestamptz, version = ($1->>'version')::bigint
WHERE id = ($1->>'stream_id')::uuid AND version < ($1->>'version')::bigint;
