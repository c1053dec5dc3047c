//! Queries of the `follows` read model (`projections/follows.sql`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::StoreError;

/// One follow, seen from either side.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowRow {
    /// The other user.
    pub user_id: Uuid,
    /// The follower's group for it.
    pub group: String,
    /// Since when.
    pub followed_at: DateTime<Utc>,
}

/// Which side of the follows of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Who follows the user.
    Followers,
    /// Whom the user follows.
    Following,
}

/// A page of a user's followers or followees, newest first, and the total.
pub async fn page(
    client: &impl GenericClient,
    user: Uuid,
    side: Side,
    limit: i64,
    offset: i64,
) -> Result<(Vec<FollowRow>, i64), StoreError> {
    let (this, other) = match side {
        Side::Followers => ("followee", "follower"),
        Side::Following => ("follower", "followee"),
    };
    let sql = format!(
        "SELECT {other}, group_name, followed_at, count(*) OVER ()
         FROM projection_follows.follows WHERE {this} = $1
         ORDER BY followed_at DESC, {other} LIMIT $2 OFFSET $3"
    );
    let rows = client.query(&sql, &[&user, &limit, &offset]).await?;
    let total = match rows.first() {
        Some(row) => row.get(3),
        None => {
            let sql = format!("SELECT count(*) FROM projection_follows.follows WHERE {this} = $1");
            client.query_one(&sql, &[&user]).await?.get(0)
        }
    };
    Ok((
        rows.iter()
            .map(|row| FollowRow {
                user_id: row.get(0),
                group: row.get(1),
                followed_at: row.get(2),
            })
            .collect(),
        total,
    ))
}

/// Follower and following counts of users.
pub async fn counts(
    client: &impl GenericClient,
    users: &[Uuid],
) -> Result<Vec<(Uuid, i64, i64)>, StoreError> {
    let rows = client
        .query(
            "SELECT u.id,
                    (SELECT count(*) FROM projection_follows.follows f WHERE f.followee = u.id),
                    (SELECT count(*) FROM projection_follows.follows f WHERE f.follower = u.id)
             FROM unnest($1::uuid[]) AS u(id)",
            &[&users],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}
