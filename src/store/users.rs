//! Queries of the `users` read model (`projections/users.sql`, schema `projection_users`).

use crate::domain::account::Role;
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
    /// Whether the email address is verified.
    pub email_verified: bool,
    /// Phone number.
    pub phone: Option<String>,
    /// What the user tells about themselves.
    pub profile: ProfileRow,
    /// `user`, `admin` or `owner`.
    pub role: Role,
    /// `active` or `blocked`.
    pub status: String,
    /// Featured by an administrator.
    pub featured: bool,
    /// Has a second factor (TOTP).
    pub mfa_enabled: bool,
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

/// The profile fields a user tells about themselves, as the read model holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileRow {
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
}

const COLUMNS: &str = "id, username, display_name, email, phone, avatar_url, cover_url, bio, \
     gender, birthday, country, province, city, role, status, featured, show_phone, show_email, \
     show_birthday, show_follows, created_at, updated_at, email_verified, mfa_enabled";

impl UserRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            username: row.get(1),
            display_name: row.get(2),
            email: row.get(3),
            phone: row.get(4),
            profile: ProfileRow {
                avatar_url: row.get(5),
                cover_url: row.get(6),
                bio: row.get(7),
                gender: row.get(8),
                birthday: row.get(9),
                country: row.get(10),
                province: row.get(11),
                city: row.get(12),
            },
            // A role the read model holds is one `Role::as_str` wrote.
            role: Role::parse(row.get(13)).unwrap_or_default(),
            status: row.get(14),
            featured: row.get(15),
            show_phone: row.get(16),
            show_email: row.get(17),
            show_birthday: row.get(18),
            show_follows: row.get(19),
            created_at: row.get(20),
            updated_at: row.get(21),
            email_verified: row.get(22),
            mfa_enabled: row.get(23),
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

/// How administrators list accounts.
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    /// Prefix of the display name, username, email or phone (any case), or an exact id.
    pub q: Option<String>,
    /// Only these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Exactly this email address (any case).
    pub email: Option<String>,
    /// Verified email or not.
    pub email_verified: Option<bool>,
    /// Blocked or not.
    pub blocked: Option<bool>,
    /// Featured or not.
    pub featured: Option<bool>,
    /// With a second factor or without.
    pub mfa_enabled: Option<bool>,
    /// This role.
    pub role: Option<Role>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

/// The order of an admin listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOrder {
    /// Oldest first (`created_at`), or newest first.
    CreatedAt { descending: bool },
    /// `updated_at`.
    UpdatedAt { descending: bool },
    /// `display_name` (accounts without one last).
    DisplayName { descending: bool },
}

/// A page of accounts for administrators, and the total when asked.
pub async fn admin_list(
    client: &impl GenericClient,
    filter: &AdminFilter,
    order: AdminOrder,
    limit: i64,
    offset: i64,
    include_total: bool,
) -> Result<(Vec<UserRow>, Option<i64>), StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        match Uuid::parse_str(q) {
            Ok(id) => conditions.push(format!("id = {}", push(&mut params, Box::new(id)))),
            Err(_) => {
                let escaped = q
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = push(&mut params, Box::new(format!("{escaped}%")));
                conditions.push(format!(
                    "(lower(display_name) LIKE {p} OR lower(username) LIKE {p} \
                     OR lower(email) LIKE {p} OR phone LIKE {p})"
                ));
            }
        }
    }
    if let Some(ids) = &filter.ids {
        conditions.push(format!(
            "id = ANY({}::uuid[])",
            push(&mut params, Box::new(ids.clone()))
        ));
    }
    if let Some(email) = &filter.email {
        conditions.push(format!(
            "lower(email) = lower({})",
            push(&mut params, Box::new(email.clone()))
        ));
    }
    if let Some(verified) = filter.email_verified {
        conditions.push(format!(
            "email_verified = {}",
            push(&mut params, Box::new(verified))
        ));
    }
    if let Some(blocked) = filter.blocked {
        conditions.push(if blocked {
            "status = 'blocked'".to_owned()
        } else {
            "status <> 'blocked'".to_owned()
        });
    }
    if let Some(featured) = filter.featured {
        conditions.push(format!(
            "featured = {}",
            push(&mut params, Box::new(featured))
        ));
    }
    if let Some(mfa_enabled) = filter.mfa_enabled {
        conditions.push(format!(
            "mfa_enabled = {}",
            push(&mut params, Box::new(mfa_enabled))
        ));
    }
    if let Some(role) = &filter.role {
        conditions.push(format!(
            "role = {}",
            push(&mut params, Box::new(role.as_str()))
        ));
    }
    if let Some(from) = filter.created_from {
        conditions.push(format!(
            "created_at >= {}",
            push(&mut params, Box::new(from))
        ));
    }
    if let Some(before) = filter.created_before {
        conditions.push(format!(
            "created_at < {}",
            push(&mut params, Box::new(before))
        ));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let order_clause = match order {
        AdminOrder::CreatedAt { descending: false } => "created_at, id",
        AdminOrder::CreatedAt { descending: true } => "created_at DESC, id DESC",
        AdminOrder::UpdatedAt { descending: false } => "updated_at, id",
        AdminOrder::UpdatedAt { descending: true } => "updated_at DESC, id DESC",
        AdminOrder::DisplayName { descending: false } => "display_name NULLS LAST, id",
        AdminOrder::DisplayName { descending: true } => "display_name DESC NULLS LAST, id DESC",
    };
    let total = if include_total {
        let sql = format!("SELECT count(*) FROM projection_users.users {where_clause}");
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        Some(client.query_one(&sql, &refs).await?.get(0))
    } else {
        None
    };
    let limit_param = push(&mut params, Box::new(limit));
    let offset_param = push(&mut params, Box::new(offset));
    // A search is selective: match first, then sort the matches. Left to itself the planner
    // may walk an order index and filter row by row, far past the matches.
    let sql = if filter.q.is_some() {
        format!(
            "WITH matched AS MATERIALIZED (
                 SELECT {COLUMNS} FROM projection_users.users {where_clause})
             SELECT * FROM matched
             ORDER BY {order_clause} LIMIT {limit_param} OFFSET {offset_param}"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM projection_users.users {where_clause}
             ORDER BY {order_clause} LIMIT {limit_param} OFFSET {offset_param}"
        )
    };
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref() as _).collect();
    let rows = client.query(&sql, &refs).await?;
    Ok((rows.iter().map(UserRow::from_row).collect(), total))
}

type Param = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;

/// Adds a query parameter; returns its placeholder.
fn push(params: &mut Vec<Param>, value: Param) -> String {
    params.push(value);
    format!("${}", params.len())
}
