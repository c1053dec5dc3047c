//! The bodies, pages and answers of the follow operations.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

/// A followed (or following) user.
#[derive(Debug, Clone, Object)]
pub struct FollowView {
    /// The user.
    pub user_id: Uuid,
    /// Since when.
    pub followed_at: DateTime<Utc>,
}

/// One of my groups and whom I follow in it.
#[derive(Debug, Clone, Object)]
pub struct FollowGroupView {
    /// Group name: `default`, `special`, or one of mine.
    pub name: String,
    /// Whom I follow in it, newest first.
    pub followees: Vec<FollowView>,
}

/// Whom I follow, by group.
#[derive(Debug, Clone, Object)]
pub struct FollowingView {
    /// Every group, `default` and `special` first, even when empty.
    pub groups: Vec<FollowGroupView>,
}

/// A page of followers or followees, newest first.
#[derive(Debug, Clone, Object)]
pub struct FollowPageView {
    /// The follows on this page.
    pub items: Vec<FollowView>,
    /// This page, from 1.
    pub page: i64,
    /// Follows per page.
    pub per_page: i64,
    /// All of them.
    pub total: i64,
}

/// Where to follow a user.
#[derive(Debug, Object)]
pub struct FollowRequest {
    /// The group: `default` when absent, `special`, or one of mine.
    #[oai(validator(max_length = 100))]
    pub group: Option<String>,
}

/// A new group.
#[derive(Debug, Object)]
pub struct NewFollowGroup {
    /// Its name: 1 to 20 characters.
    #[oai(validator(max_length = 100))]
    pub name: String,
}

/// My groups.
#[derive(Debug, Clone, Object)]
pub struct FollowGroupsView {
    /// Every group name, `default` and `special` first.
    pub groups: Vec<String>,
}

#[derive(ApiResponse)]
pub(super) enum Followed {
    /// Following (in the group given).
    #[oai(status = 200)]
    Ok(
        Json<FollowGroupView>,
        /// Log position of the follow graph's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
pub(super) enum GroupCreated {
    /// The group was made.
    #[oai(status = 201)]
    Created(
        Json<FollowGroupsView>,
        /// Log position of the follow graph's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

pub(super) fn default_per_page() -> i64 {
    20
}

pub(super) fn first_page() -> i64 {
    1
}
