-- follows: who follows whom, for GET /v1/users/{id}/followers and /following, the counts on
-- public profiles, and GET /v1/me/following. See projections/users.sql for how a file reads.
-- A deleted account leaves every follow list and follower list.

CREATE TABLE follows (
    follower    uuid        NOT NULL,
    followee    uuid        NOT NULL,
    group_name  text        NOT NULL,
    followed_at timestamptz NOT NULL,
    PRIMARY KEY (follower, followee)
);
CREATE INDEX follows_by_followee ON follows (followee, followed_at DESC);
CREATE INDEX follows_by_follower ON follows (follower, followed_at DESC);

-- Deleted accounts. A follow is decided on its follower's stream: one decided just before its
-- followee (or follower) was deleted can come after the deletion in the log, and must not
-- bring them back into a list.
CREATE TABLE deleted_accounts (
    id uuid PRIMARY KEY
);

-- The follows of deleted accounts (both ways), kept for a restore within the grace period and
-- deleted when their personal data is erased.
CREATE TABLE follows_deleted (
    follower    uuid        NOT NULL,
    followee    uuid        NOT NULL,
    group_name  text        NOT NULL,
    followed_at timestamptz NOT NULL,
    PRIMARY KEY (follower, followee)
);
CREATE INDEX follows_deleted_by_followee ON follows_deleted (followee);

-- on Followed
INSERT INTO follows (follower, followee, group_name, followed_at)
SELECT ($1->'data'->>'follower')::uuid, ($1->'data'->>'followee')::uuid,
       coalesce($1->'data'->>'group', 'default'), ($1->'data'->>'at')::timestamptz
WHERE NOT EXISTS (
    SELECT 1 FROM deleted_accounts
    WHERE id IN (($1->'data'->>'follower')::uuid, ($1->'data'->>'followee')::uuid)
)
ON CONFLICT (follower, followee) DO UPDATE
    SET group_name = EXCLUDED.group_name, followed_at = EXCLUDED.followed_at;

-- on Unfollowed
-- (Also from the follows set aside while an account is deleted: a restore must not bring back
-- a follow its follower ended meanwhile.)
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND followee = ($1->'data'->>'followee')::uuid;
DELETE FROM follows_deleted
WHERE follower = ($1->'data'->>'follower')::uuid AND followee = ($1->'data'->>'followee')::uuid;

-- on FollowGroupDeleted
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND group_name = $1->'data'->>'name';
DELETE FROM follows_deleted
WHERE follower = ($1->'data'->>'follower')::uuid AND group_name = $1->'data'->>'name';

-- on AccountDeleted
INSERT INTO deleted_accounts (id) VALUES (($1->>'stream_id')::uuid)
ON CONFLICT (id) DO NOTHING;
WITH gone AS (
    DELETE FROM follows
    WHERE follower = ($1->>'stream_id')::uuid OR followee = ($1->>'stream_id')::uuid
    RETURNING *
)
INSERT INTO follows_deleted SELECT * FROM gone ON CONFLICT DO NOTHING;

-- on AccountRestored
-- Its follows both ways come back, but for those with another account deleted meanwhile.
DELETE FROM deleted_accounts WHERE id = ($1->>'stream_id')::uuid;
WITH back AS (
    DELETE FROM follows_deleted AS f
    WHERE (f.follower = ($1->>'stream_id')::uuid OR f.followee = ($1->>'stream_id')::uuid)
      AND NOT EXISTS (
          SELECT 1 FROM deleted_accounts WHERE id IN (f.follower, f.followee)
      )
    RETURNING *
)
INSERT INTO follows SELECT * FROM back ON CONFLICT DO NOTHING;

-- on PersonalDataErased
DELETE FROM follows_deleted
WHERE follower = ($1->>'stream_id')::uuid OR followee = ($1->>'stream_id')::uuid;
