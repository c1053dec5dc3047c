//! Whom an account follows, in groups: one `follow_graph` stream per account. Groups `default`
//! and `special` always exist; an account adds up to 20 of its own (1 to 20 characters, unique).
//! Following someone again into another group moves them; deleting a group removes its follows.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

use super::{Aggregate, DomainEvent};

/// The group a follow goes to when none is named.
pub const DEFAULT_GROUP: &str = "default";
/// The other built-in group.
pub const SPECIAL_GROUP: &str = "special";
/// Most groups of an account's own.
pub const MAX_GROUPS: usize = 20;

/// The follow graph stream of an account: a name-based UUID, distinct from the account's own.
pub fn stream_id(account_id: Uuid) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x6163_636f_756e_7473_2d66_6f6c_6c6f_7773);
    Uuid::new_v5(&NAMESPACE, account_id.as_bytes())
}

/// What happens to a follow graph. Each event names the follower (the account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event_type", content = "data")]
pub enum FollowEvent {
    /// The account follows a user in a group (following again moves them).
    Followed {
        /// The account.
        follower: Uuid,
        /// The user followed.
        followee: Uuid,
        /// The group.
        group: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The account stopped following a user.
    Unfollowed {
        /// The account.
        follower: Uuid,
        /// The user.
        followee: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// The account made a group.
    FollowGroupCreated {
        /// The account.
        follower: Uuid,
        /// Its name.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The account deleted a group, and the follows in it.
    FollowGroupDeleted {
        /// The account.
        follower: Uuid,
        /// Its name.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for FollowEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Followed { .. } => "Followed",
            Self::Unfollowed { .. } => "Unfollowed",
            Self::FollowGroupCreated { .. } => "FollowGroupCreated",
            Self::FollowGroupDeleted { .. } => "FollowGroupDeleted",
        }
    }
}

/// A follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// The group.
    pub group: String,
    /// Since when (in this group).
    pub since: DateTime<Utc>,
}

/// An account's follows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowGraph {
    /// Groups of the account's own, in name order.
    pub groups: BTreeSet<String>,
    /// Followees and their group.
    pub follows: BTreeMap<Uuid, Follow>,
}

impl FollowGraph {
    /// Every group name: `default`, `special`, then the account's own.
    pub fn group_names(&self) -> Vec<String> {
        [DEFAULT_GROUP, SPECIAL_GROUP]
            .into_iter()
            .map(str::to_owned)
            .chain(self.groups.iter().cloned())
            .collect()
    }

    fn has_group(&self, name: &str) -> bool {
        name == DEFAULT_GROUP || name == SPECIAL_GROUP || self.groups.contains(name)
    }
}

impl Aggregate for FollowGraph {
    const STREAM_TYPE: &'static str = "follow_graph";
    const STATE_SOURCES: &'static [&'static str] = &[include_str!("mod.rs")];
    type Event = FollowEvent;
    type Command = FollowCommand;
    type Error = FollowError;

    fn decide(&self, command: FollowCommand) -> Result<Vec<Self::Event>, FollowError> {
        decide(self, command)
    }

    fn evolve(mut self, event: &FollowEvent) -> Self {
        match event {
            FollowEvent::Followed {
                followee,
                group,
                at,
                ..
            } => {
                self.follows.insert(
                    *followee,
                    Follow {
                        group: group.clone(),
                        since: *at,
                    },
                );
            }
            FollowEvent::Unfollowed { followee, .. } => {
                self.follows.remove(followee);
            }
            FollowEvent::FollowGroupCreated { name, .. } => {
                self.groups.insert(name.clone());
            }
            FollowEvent::FollowGroupDeleted { name, .. } => {
                self.groups.remove(name);
                self.follows.retain(|_, follow| follow.group != *name);
            }
        }
        self
    }
}

/// A request to change a follow graph.
#[derive(Debug, Clone)]
pub enum FollowCommand {
    /// Follow a user (known to exist) into a group (`default` when none).
    Follow {
        /// The account.
        follower: Uuid,
        /// The user.
        followee: Uuid,
        /// The group.
        group: Option<String>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Stop following a user.
    Unfollow {
        /// The account.
        follower: Uuid,
        /// The user.
        followee: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Make a group.
    CreateGroup {
        /// The account.
        follower: Uuid,
        /// Its name.
        name: String,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Delete a group and its follows.
    DeleteGroup {
        /// The account.
        follower: Uuid,
        /// Its name.
        name: String,
        /// The clock.
        now: DateTime<Utc>,
    },
}

/// Why a follow command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FollowError {
    /// An account cannot follow itself.
    #[error("an account cannot follow itself")]
    SelfFollow,
    /// No such group.
    #[error("no such group")]
    GroupNotFound,
    /// A group with this name exists.
    #[error("the group exists")]
    GroupExists,
    /// Too many groups.
    #[error("at most {MAX_GROUPS} groups")]
    TooManyGroups,
    /// `default` and `special` cannot be deleted.
    #[error("built-in groups cannot be deleted")]
    BuiltInGroup,
    /// The name is not 1 to 20 characters.
    #[error("a group name has 1 to 20 characters")]
    BadGroupName,
    /// The account does not follow this user.
    #[error("not following this user")]
    NotFollowing,
}

/// A group name, trimmed: 1 to 20 characters, none hidden (control, invisible or reordering:
/// `values::has_hidden_chars`).
pub fn group_name(raw: &str) -> Result<String, FollowError> {
    let name = raw.trim();
    let length = name.chars().count();
    if (1..=20).contains(&length) && !crate::domain::values::has_hidden_chars(name) {
        Ok(name.to_owned())
    } else {
        Err(FollowError::BadGroupName)
    }
}

/// Decides a follow command.
pub fn decide(
    graph: &FollowGraph,
    command: FollowCommand,
) -> Result<Vec<FollowEvent>, FollowError> {
    match command {
        FollowCommand::Follow {
            follower,
            followee,
            group,
            now,
        } => {
            if follower == followee {
                return Err(FollowError::SelfFollow);
            }
            let group = match group {
                Some(raw) => group_name(&raw)?,
                None => DEFAULT_GROUP.to_owned(),
            };
            if !graph.has_group(&group) {
                return Err(FollowError::GroupNotFound);
            }
            if graph
                .follows
                .get(&followee)
                .is_some_and(|f| f.group == group)
            {
                return Ok(Vec::new());
            }
            Ok(vec![FollowEvent::Followed {
                follower,
                followee,
                group,
                at: now,
            }])
        }
        FollowCommand::Unfollow {
            follower,
            followee,
            now,
        } => {
            if !graph.follows.contains_key(&followee) {
                return Err(FollowError::NotFollowing);
            }
            Ok(vec![FollowEvent::Unfollowed {
                follower,
                followee,
                at: now,
            }])
        }
        FollowCommand::CreateGroup {
            follower,
            name,
            now,
        } => {
            let name = group_name(&name)?;
            if graph.has_group(&name) {
                return Err(FollowError::GroupExists);
            }
            if graph.groups.len() >= MAX_GROUPS {
                return Err(FollowError::TooManyGroups);
            }
            Ok(vec![FollowEvent::FollowGroupCreated {
                follower,
                name,
                at: now,
            }])
        }
        FollowCommand::DeleteGroup {
            follower,
            name,
            now,
        } => {
            let name = name.trim().to_owned();
            if name == DEFAULT_GROUP || name == SPECIAL_GROUP {
                return Err(FollowError::BuiltInGroup);
            }
            if !graph.groups.contains(&name) {
                return Err(FollowError::GroupNotFound);
            }
            Ok(vec![FollowEvent::FollowGroupDeleted {
                follower,
                name,
                at: now,
            }])
        }
    }
}
