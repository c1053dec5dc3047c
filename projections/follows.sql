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

-- on Followed
INSERT INTO follows (follower, followee, group_name, followed_at)
VALUES (($1->'data'->>'follower')::uuid, ($1->'data'->>'followee')::uuid,
        $1->'data'->>'group', ($1->'data'->>'at')::timestamptz)
ON CONFLICT (follower, followee) DO UPDATE
    SET group_name = EXCLUDED.group_name, followed_at = EXCLUDED.followed_at;

-- on Unfollowed
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND followee = ($1->'data'->>'followee')::uuid;

-- on FollowGroupDeleted
DELETE FROM follows
WHERE follower = ($1->'data'->>'follower')::uuid AND group_name = $1->'data'->>'name';

-- on AccountDeleted
DELETE FROM follows
WHERE follower = ($1->>'stream_id')::uuid OR followee = ($1->>'stream_id')::uuid;
