//! Follows over HTTP, through the pipeline to the read models.

use crate::helpers::{PASSWORD, spawn_pipeline};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn followees(following: &Value, group: &str) -> Vec<String> {
    following["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .map(|g| {
            g["followees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["user_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn follows_move_between_groups_and_go_with_their_group() {
    let app = spawn_pipeline().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let bob_id = bob.id.to_string();

    let followed = app
        .put(
            &format!("/v1/me/following/{bob_id}"),
            &alice.token,
            json!({}),
        )
        .await;
    assert_eq!(followed.status, StatusCode::OK, "{}", followed.body);
    assert_eq!(followed.body["name"], "default");
    let mine = app
        .get(
            &format!("/v1/me/following?min_position={}", followed.position()),
            Some(&alice.token),
        )
        .await;
    assert_eq!(
        followees(&mine.body, "default"),
        std::slice::from_ref(&bob_id)
    );
    let names: Vec<&str> = mine.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "special"]);

    let created = app
        .post(
            "/v1/me/follow-groups",
            Some(&alice.token),
            json!({"name": "friends"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["groups"],
        json!(["default", "special", "friends"])
    );
    app.post(
        "/v1/me/follow-groups",
        Some(&alice.token),
        json!({"name": "friends"}),
    )
    .await
    .assert_problem(409, "group_exists");

    let moved = app
        .put(
            &format!("/v1/me/following/{bob_id}"),
            &alice.token,
            json!({"group": "friends"}),
        )
        .await;
    assert_eq!(moved.body["name"], "friends");
    let mine = app
        .get(
            &format!("/v1/me/following?min_position={}", moved.position()),
            Some(&alice.token),
        )
        .await;
    assert_eq!(
        followees(&mine.body, "friends"),
        std::slice::from_ref(&bob_id)
    );
    assert!(followees(&mine.body, "default").is_empty());

    let followers = app
        .get(
            &format!(
                "/v1/users/{bob_id}/followers?min_position={}",
                moved.position()
            ),
            None,
        )
        .await;
    assert_eq!(followers.status, StatusCode::OK, "{}", followers.body);
    assert_eq!(followers.body["total"], 1);
    assert_eq!(followers.body["items"][0]["user_id"], alice.id.to_string());
    let profile = app
        .get(
            &format!("/v1/users/{bob_id}?min_position={}", moved.position()),
            None,
        )
        .await;
    assert_eq!(profile.body["followers_count"], 1);
    assert_eq!(profile.body["following_count"], 0);

    app.delete("/v1/me/follow-groups/default", &alice.token, None)
        .await
        .assert_problem(409, "group_undeletable");
    let deleted = app
        .delete("/v1/me/follow-groups/friends", &alice.token, None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let followers = app
        .get(
            &format!(
                "/v1/users/{bob_id}/followers?min_position={}",
                deleted.position()
            ),
            None,
        )
        .await;
    assert_eq!(
        followers.body["total"], 0,
        "the group's follows went with it"
    );
    app.delete(&format!("/v1/me/following/{bob_id}"), &alice.token, None)
        .await
        .assert_problem(404, "not_following");
}

#[tokio::test]
async fn twenty_groups_of_my_own_with_names_of_up_to_twenty_characters() {
    let app = spawn_pipeline().await;
    let alice = app.new_user().await;
    let create = async |name: &str| {
        app.post(
            "/v1/me/follow-groups",
            Some(&alice.token),
            json!({"name": name}),
        )
        .await
    };
    for refused in [&"长".repeat(21), "   "] {
        let answer = create(refused).await;
        answer.assert_problem(422, "validation_failed");
        assert_eq!(
            answer.field_errors(),
            [("name".to_owned(), "invalid_group_name".to_owned())]
        );
    }
    let twenty = "家人".repeat(10);
    assert_eq!(create(&twenty).await.status, StatusCode::CREATED);
    let mut position = 0;
    for n in 1..20 {
        let created = create(&format!("group {n}")).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        position = created.position();
    }
    let refused = create("one too many").await;
    refused.assert_problem(409, "group_limit_reached");
    let mine = app
        .get(
            &format!("/v1/me/following?min_position={position}"),
            Some(&alice.token),
        )
        .await;
    assert_eq!(mine.body["groups"].as_array().map(Vec::len), Some(22));

    // Deleting one makes room again.
    let deleted = app
        .delete(
            &format!("/v1/me/follow-groups/{twenty}"),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(create("one too many").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn follows_of_oneself_unknown_users_and_groups_are_refused() {
    let app = spawn_pipeline().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    app.put(
        &format!("/v1/me/following/{}", alice.id),
        &alice.token,
        json!({}),
    )
    .await
    .assert_problem(422, "cannot_follow_self");
    app.put(
        &format!("/v1/me/following/{}", uuid::Uuid::new_v4()),
        &alice.token,
        json!({}),
    )
    .await
    .assert_problem(404, "user_not_found");
    app.put(
        &format!("/v1/me/following/{}", bob.id),
        &alice.token,
        json!({"group": "nope"}),
    )
    .await
    .assert_problem(404, "group_not_found");
    app.post(
        "/v1/me/follow-groups",
        Some(&alice.token),
        json!({"name": ""}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.delete("/v1/me", &bob.token, Some(json!({"password": PASSWORD})))
        .await;
    app.put(
        &format!("/v1/me/following/{}", bob.id),
        &alice.token,
        json!({}),
    )
    .await
    .assert_problem(404, "user_not_found");
    app.send(Method::GET, "/v1/me/following", None, None, &[])
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn hidden_follows_are_shown_to_their_owner_only() {
    let app = spawn_pipeline().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    app.put(
        &format!("/v1/me/following/{}", alice.id),
        &bob.token,
        json!({}),
    )
    .await;
    let hidden = app
        .put(
            "/v1/me/privacy",
            &bob.token,
            json!({"show_email": false, "show_phone": false, "show_birthday": false, "show_follows": false}),
        )
        .await;
    let path = format!(
        "/v1/users/{}/following?min_position={}",
        bob.id,
        hidden.position()
    );
    app.get(&path, None)
        .await
        .assert_problem(403, "follows_hidden");
    app.get(&path, Some(&alice.token))
        .await
        .assert_problem(403, "follows_hidden");
    let own = app.get(&path, Some(&bob.token)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["total"], 1);
}

#[tokio::test]
async fn a_deleted_account_leaves_every_follow_list() {
    let app = spawn_pipeline().await;
    let carol = app.new_user().await;
    let dave = app.new_user().await;
    app.put(
        &format!("/v1/me/following/{}", dave.id),
        &carol.token,
        json!({}),
    )
    .await;
    app.put(
        &format!("/v1/me/following/{}", carol.id),
        &dave.token,
        json!({}),
    )
    .await;
    let gone = app
        .delete("/v1/me", &dave.token, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let position = gone.position();
    let mine = app
        .get(
            &format!("/v1/me/following?min_position={position}"),
            Some(&carol.token),
        )
        .await;
    assert!(followees(&mine.body, "default").is_empty(), "{}", mine.body);
    let followers = app
        .get(
            &format!("/v1/users/{}/followers?min_position={position}", carol.id),
            None,
        )
        .await;
    assert_eq!(followers.body["total"], 0);
    let profile = app
        .get(
            &format!("/v1/users/{}?min_position={position}", carol.id),
            None,
        )
        .await;
    assert_eq!(profile.body["followers_count"], 0);
    assert_eq!(profile.body["following_count"], 0);
}

#[tokio::test]
async fn a_follow_decided_before_a_deletion_but_logged_after_it_lists_no_one() {
    use accounts::domain::follow_graph::{self, FollowCommand, FollowGraph};
    use accounts::service::executor::{self, CommandMetadata};

    let app = spawn_pipeline().await;
    let carol = app.new_user().await;
    let dave = app.new_user().await;
    let gone = app
        .delete("/v1/me", &dave.token, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    // Carol's follow passed its check while Dave was still there and commits after his
    // deletion: the race the service cannot close, since the two are different streams.
    let late = executor::execute::<FollowGraph, _>(
        &app.ctx,
        follow_graph::stream_id(carol.id),
        &CommandMetadata::default().with_actor(carol.id),
        |graph| {
            follow_graph::decide(
                graph,
                FollowCommand::Follow {
                    follower: carol.id,
                    followee: dave.id,
                    group: None,
                    now: chrono::Utc::now(),
                },
            )
        },
        |_, _| Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(late.events.len(), 1);
    let position = late.position;

    let mine = app
        .get(
            &format!("/v1/me/following?min_position={position}"),
            Some(&carol.token),
        )
        .await;
    assert!(followees(&mine.body, "default").is_empty(), "{}", mine.body);
    let profile = app
        .get(
            &format!("/v1/users/{}?min_position={position}", carol.id),
            None,
        )
        .await;
    assert_eq!(profile.body["following_count"], 0, "{}", profile.body);
}

#[tokio::test]
async fn twenty_parallel_follows_count_twenty_followers() {
    let app = spawn_pipeline().await;
    let star = app.new_user().await;
    let mut fans = Vec::new();
    for _ in 0..20 {
        fans.push(app.new_user().await);
    }
    let path = format!("/v1/me/following/{}", star.id);
    let follows = fans.iter().map(|fan| app.put(&path, &fan.token, json!({})));
    let answers = futures::future::join_all(follows).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    let last = answers.iter().map(|a| a.position()).max().unwrap();
    let profile = app
        .get(&format!("/v1/users/{}?min_position={last}", star.id), None)
        .await;
    assert_eq!(profile.body["followers_count"], 20, "{}", profile.body);
    let page = app
        .get(
            &format!(
                "/v1/users/{}/followers?per_page=5&page=2&min_position={last}",
                star.id
            ),
            None,
        )
        .await;
    assert_eq!(page.body["total"], 20);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn unfollowing_removes_the_follow_everywhere() {
    let app = spawn_pipeline().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let path = format!("/v1/me/following/{}", bob.id);
    app.put(&path, &alice.token, json!({"group": "special"}))
        .await;
    let unfollowed = app.delete(&path, &alice.token, None).await;
    assert_eq!(
        unfollowed.status,
        StatusCode::NO_CONTENT,
        "{}",
        unfollowed.body
    );
    let position = unfollowed.position();
    let mine = app
        .get(
            &format!("/v1/me/following?min_position={position}"),
            Some(&alice.token),
        )
        .await;
    assert!(followees(&mine.body, "special").is_empty());
    let following = app
        .get(
            &format!("/v1/users/{}/following?min_position={position}", alice.id),
            None,
        )
        .await;
    assert_eq!(following.body["total"], 0);
    app.delete(&path, &alice.token, None)
        .await
        .assert_problem(404, "not_following");
}
