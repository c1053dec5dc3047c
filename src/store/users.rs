//! Queries of the `users` read model (`projections/users.sql`, schema `projection_users`).

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::StoreError;

/// A row of `projection_users.users`: everything, before privacy is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Account id.
    pub id: Uuid,
    /// Username.
    pub username: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Cover URL.
    pub cover_url: Option<String>,
    /// Bio.
    pub bio: Option<String>,
    /// `unknown`, `male` or `female`.
    pub gender: String,
    /// Birthday.
    pub birthday: Option<NaiveDate>,
    /// Country.
    pub country: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// City.
    pub city: Option<String>,
    /// `user`, `admin` or `owner`.
    pub role: String,
    /// `active` or `blocked`.
    pub status: String,
    /// Featured by an administrator.
    pub featured: bool,
    /// Others see the masked phone.
    pub show_phone: bool,
    /// Others see the masked email.
    pub show_email: bool,
    /// Others see the birthday.
    pub show_birthday: bool,
    /// Others see follows.
    pub show_follows: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, username, display_name, email, phone, avatar_url, cover_url, bio, \
     gender, birthday, country, province, city, role, status, featured, show_phone, show_email, \
     show_birthday, show_follows, created_at, updated_at";

impl UserRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            username: row.get(1),
            display_name: row.get(2),
            email: row.get(3),
            phone: row.get(4),
            avatar_url: row.get(5),
            cover_url: row.get(6),
            bio: row.get(7),
            gender: row.get(8),
            birthday: row.get(9),
            country: row.get(10),
            province: row.get(11),
            city: row.get(12),
            role: row.get(13),
            status: row.get(14),
            featured: row.get(15),
            show_phone: row.get(16),
            show_email: row.get(17),
            show_birthday: row.get(18),
            show_follows: row.get(19),
            created_at: row.get(20),
            updated_at: row.get(21),
        }
    }
}

/// One user.
pub async fn find(client: &impl GenericClient, id: Uuid) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM projection_users.users WHERE id = $1");
    let row = client.query_opt(&sql, &[&id]).await?;
    Ok(row.as_ref().map(UserRow::from_row))
}

/// The users among `ids`, in the order of `ids`; optionally only featured ones.
pub async fn find_many(
    client: &impl GenericClient,
    ids: &[Uuid],
    featured: Option<bool>,
) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM projection_users.users
         JOIN unnest($1::uuid[]) WITH ORDINALITY AS wanted(id, n) USING (id)
         WHERE $2::boolean IS NULL OR featured = $2
         ORDER BY wanted.n"
    );
    let rows = client.query(&sql, &[&ids, &featured]).await?;
    Ok(rows.iter().map(UserRow::from_row).collect())
}

/// Featured (or not featured) users, newest first.
pub async fn list_by_featured(
    client: &impl GenericClient,
    featured: bool,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM projection_users.users
         WHERE featured = $1 ORDER BY created_at DESC, id LIMIT $2"
    );
    let rows = client.query(&sql, &[&featured, &limit]).await?;
    Ok(rows.iter().map(UserRow::from_row).collect())
}

/// The id of the user with `username`, compared without case.
pub async fn id_by_username(
    client: &impl GenericClient,
    username: &str,
) -> Result<Option<Uuid>, StoreError> {
    let row = client
        .query_opt(
            "SELECT id FROM projection_users.users WHERE lower(username) = lower($1) LIMIT 1",
            &[&username],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}
