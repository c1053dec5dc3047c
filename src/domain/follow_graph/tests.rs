use super::*;
use crate::domain::testing::{self, Given};
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

fn me() -> Uuid {
    Uuid::from_u128(1)
}

fn user(n: u128) -> Uuid {
    Uuid::from_u128(100 + n)
}

fn follow(n: u128, group: Option<&str>) -> FollowCommand {
    FollowCommand::Follow {
        follower: me(),
        followee: user(n),
        group: group.map(str::to_owned),
        now: t0(),
    }
}

fn create(name: &str) -> FollowCommand {
    FollowCommand::CreateGroup {
        follower: me(),
        name: name.to_owned(),
        now: t0(),
    }
}

/// The graph after `commands`; panics on a refusal.
fn graph(commands: Vec<FollowCommand>) -> FollowGraph {
    testing::given_commands(commands).0
}

#[test]
fn a_follow_goes_to_default_unless_a_group_is_named() {
    let g = graph(vec![follow(1, None), follow(2, Some("special"))]);
    assert_eq!(g.follows[&user(1)].group, "default");
    assert_eq!(g.follows[&user(2)].group, "special");
}

#[test]
fn following_again_into_another_group_moves_and_into_the_same_does_nothing() {
    let g = graph(vec![follow(1, None)]);
    Given(g.clone()).when(follow(1, None)).then(&[]);
    let moved = graph(vec![follow(1, None), follow(1, Some("special"))]);
    assert_eq!(moved.follows[&user(1)].group, "special");
    assert_eq!(moved.follows.len(), 1);
}

#[test]
fn no_following_oneself_or_into_an_unknown_group() {
    let g = FollowGraph::default();
    let myself = FollowCommand::Follow {
        follower: me(),
        followee: me(),
        group: None,
        now: t0(),
    };
    Given(g.clone())
        .when(myself)
        .then_error(FollowError::SelfFollow);
    Given(g.clone())
        .when(follow(1, Some("friends")))
        .then_error(FollowError::GroupNotFound);
}

#[test]
fn groups_are_unique_named_and_at_most_twenty() {
    let g = graph(vec![create("friends")]);
    Given(g.clone())
        .when(create(" friends "))
        .then_error(FollowError::GroupExists);
    Given(g.clone())
        .when(create("default"))
        .then_error(FollowError::GroupExists);
    Given(g.clone())
        .when(create(""))
        .then_error(FollowError::BadGroupName);
    Given(g.clone())
        .when(create("a name far too long for a group"))
        .then_error(FollowError::BadGroupName);
    let full = graph((0..20).map(|n| create(&format!("g{n}"))).collect());
    Given(full.clone())
        .when(create("one more"))
        .then_error(FollowError::TooManyGroups);
}

#[test]
fn deleting_a_group_removes_its_follows_and_built_ins_stay() {
    let g = graph(vec![
        create("friends"),
        follow(1, Some("friends")),
        follow(2, None),
    ]);
    let delete = |name: &str| FollowCommand::DeleteGroup {
        follower: me(),
        name: name.to_owned(),
        now: t0(),
    };
    let events = decide(&g, delete("friends")).unwrap();
    let after = events
        .iter()
        .fold(g.clone(), |graph, event| graph.evolve(event));
    assert!(!after.follows.contains_key(&user(1)));
    assert!(after.follows.contains_key(&user(2)));
    assert!(after.groups.is_empty());
    Given(g.clone())
        .when(delete("default"))
        .then_error(FollowError::BuiltInGroup);
    Given(g.clone())
        .when(delete("special"))
        .then_error(FollowError::BuiltInGroup);
    Given(g.clone())
        .when(delete("nope"))
        .then_error(FollowError::GroupNotFound);
}

#[test]
fn unfollowing_someone_not_followed_is_refused() {
    let unfollow = FollowCommand::Unfollow {
        follower: me(),
        followee: user(1),
        now: t0(),
    };
    Given(FollowGraph::default())
        .when(unfollow.clone())
        .then_error(FollowError::NotFollowing);
    let g = graph(vec![follow(1, None)]);
    assert_eq!(decide(&g, unfollow).unwrap().len(), 1);
}
