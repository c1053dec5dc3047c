//! Public profiles, from the `users` read model, with each user's privacy applied.

use super::{Context, ServiceError};
use crate::store::users::{self, ProfileRow, UserRow};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The read model these queries read.
const PROJECTION: &str = "users";

/// Most profiles one request returns.
pub const MAX_USERS_PER_REQUEST: usize = 100;

/// What anyone may see of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicProfile {
    /// Account id.
    pub id: Uuid,
    /// Username.
    pub username: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Masked email, when the user shows it.
    pub email: Option<String>,
    /// Masked phone, when the user shows it.
    pub phone: Option<String>,
    /// What the user tells about themselves (the birthday only when the user shows it).
    pub profile: ProfileRow,
    /// Featured by an administrator.
    pub featured: bool,
    /// Whether others may see whom the user follows and who follows them.
    pub follows_visible: bool,
    /// How many follow the user.
    pub followers_count: i64,
    /// How many the user follows.
    pub following_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl PublicProfile {
    /// The profile of a row, with its privacy applied.
    pub fn of(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            email: row.email.filter(|_| row.show_email).map(|e| mask_email(&e)),
            phone: row.phone.filter(|_| row.show_phone).map(|p| mask_phone(&p)),
            profile: ProfileRow {
                birthday: row.profile.birthday.filter(|_| row.show_birthday),
                ..row.profile
            },
            featured: row.featured,
            follows_visible: row.show_follows,
            followers_count: 0,
            following_count: 0,
            created_at: row.created_at,
        }
    }
}

/// `1****1@qq.com`: the first and last characters of the local part.
fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "****".to_owned();
    };
    let mut chars = local.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    let last = chars.next_back().map(String::from).unwrap_or_default();
    format!("{first}****{last}@{domain}")
}

/// `+86138****8000`: all but the middle four digits before the last four.
fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..chars.len() - 8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// A user's public profile.
pub async fn public_profile(
    ctx: &Context,
    id: Uuid,
    min_position: Option<i64>,
) -> Result<PublicProfile, ServiceError> {
    let client = super::read_models::read_model(ctx, PROJECTION, min_position).await?;
    let profile = users::find(&client, id)
        .await?
        .map(PublicProfile::of)
        .ok_or(ServiceError::UserNotFound)?;
    drop(client);
    let mut counted = with_follow_counts(ctx, vec![profile], min_position).await?;
    counted.pop().ok_or(ServiceError::UserNotFound)
}

/// The public profiles of the users among `ids` that exist (in the order of `ids`), or,
/// without `ids`, of the featured users (`featured` must then be given).
pub async fn public_profiles(
    ctx: &Context,
    ids: &[Uuid],
    featured: Option<bool>,
    min_position: Option<i64>,
) -> Result<Vec<PublicProfile>, ServiceError> {
    let client = super::read_models::read_model(ctx, PROJECTION, min_position).await?;
    let rows = match (ids.is_empty(), featured) {
        (false, featured) => users::find_many(&client, ids, featured).await?,
        (true, Some(featured)) => {
            let limit = MAX_USERS_PER_REQUEST as i64;
            users::list_by_featured(&client, featured, limit).await?
        }
        (true, None) => Vec::new(),
    };
    drop(client);
    let profiles = rows.into_iter().map(PublicProfile::of).collect();
    with_follow_counts(ctx, profiles, min_position).await
}

/// Fills in follower and following counts from the `follows` read model.
async fn with_follow_counts(
    ctx: &Context,
    mut profiles: Vec<PublicProfile>,
    min_position: Option<i64>,
) -> Result<Vec<PublicProfile>, ServiceError> {
    if profiles.is_empty() {
        return Ok(profiles);
    }
    let client = super::read_models::read_model(ctx, "follows", min_position).await?;
    let ids: Vec<Uuid> = profiles.iter().map(|p| p.id).collect();
    let counts = crate::store::follows::counts(&client, &ids).await?;
    for profile in &mut profiles {
        if let Some((_, followers, following)) = counts.iter().find(|(id, ..)| *id == profile.id) {
            profile.followers_count = *followers;
            profile.following_count = *following;
        }
    }
    Ok(profiles)
}

/// The id of the user with `username`.
pub async fn user_id_by_username(
    ctx: &Context,
    username: &str,
    min_position: Option<i64>,
) -> Result<Uuid, ServiceError> {
    let client = super::read_models::read_model(ctx, PROJECTION, min_position).await?;
    users::id_by_username(&client, username.trim())
        .await?
        .ok_or(ServiceError::UserNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn emails_keep_the_first_and_last_character_of_the_local_part() {
        assert_eq!(mask_email("123451@qq.com"), "1****1@qq.com");
        assert_eq!(mask_email("ab@example.com"), "a****b@example.com");
        assert_eq!(mask_email("a@example.com"), "a****@example.com");
        assert_eq!(mask_email("not-an-email"), "****");
    }

    #[test]
    fn phones_hide_four_digits_before_the_last_four() {
        assert_eq!(mask_phone("+8613812348000"), "+86138****8000");
        assert_eq!(mask_phone("13812348000"), "138****8000");
        assert_eq!(mask_phone("1234"), "****");
    }

    fn row() -> UserRow {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        UserRow {
            id: Uuid::nil(),
            username: Some("ada".into()),
            display_name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            email_verified: false,
            phone: Some("+8613812348000".into()),
            profile: ProfileRow {
                gender: "female".into(),
                birthday: NaiveDate::from_ymd_opt(1990, 12, 10),
                ..ProfileRow::default()
            },
            role: crate::domain::account::Role::User,
            status: "active".into(),
            featured: false,
            mfa_enabled: false,
            show_phone: false,
            show_email: false,
            show_birthday: false,
            show_follows: true,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn hidden_contact_details_and_birthday_are_left_out() {
        let profile = PublicProfile::of(row());
        assert_eq!(profile.email, None);
        assert_eq!(profile.phone, None);
        assert_eq!(profile.profile.birthday, None);
        assert_eq!(profile.username.as_deref(), Some("ada"));
    }

    #[test]
    fn shown_contact_details_are_masked() {
        let profile = PublicProfile::of(UserRow {
            show_email: true,
            show_phone: true,
            show_birthday: true,
            ..row()
        });
        assert_eq!(profile.email.as_deref(), Some("a****a@example.com"));
        assert_eq!(profile.phone.as_deref(), Some("+86138****8000"));
        assert_eq!(
            profile.profile.birthday,
            NaiveDate::from_ymd_opt(1990, 12, 10)
        );
    }
}
