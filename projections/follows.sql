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

-- on Followed
INSERT INTO follows (follower, followee, group_name, followed_at)
SELECT ($1->'data'->>'follower')::uuid, ($1->'data'->>'followee')::uuid,
       $1->'data'->>'group', ($1->'data'->>'at')::timestamptz
WHERE NOT EXISTS (
    SELECT 1 FROM deleted_accounts
    WHERE id IN (($1->'data'->>'follower')::uuid, ($1->'data'->>'followee')::uuid)
)
ON CONFLICT (follower, followee) DO UPDATE
    SET group_name = EXCLUDED.group_name, followed_at = EXCLUDED.followed_at;

-- on Unfollowed
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND followee = ($1->'data'->>'followee')::uuid;

-- on FollowGroupDeleted
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND group_name = $1->'data'->>'name';

-- on AccountDeleted
INSERT INTO deleted_accounts (id) VALUES (($1->>'stream_id')::uuid)
ON CONFLICT (id) DO NOTHING;
DELETE FROM follows
WHERE follower = ($1->>'stream_id')::uuid OR followee = ($1->>'stream_id')::uuid;
