//! Administration over HTTP: roles, actions, the audit trail and time travel.

use crate::helpers::{PASSWORD, TestApp, make_owner, spawn_app, spawn_pipeline};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn post(app: &TestApp, path: &str, token: &str) -> crate::helpers::Answer {
    app.send(Method::POST, path, Some(token), None, &[]).await
}

#[tokio::test]
async fn admin_endpoints_are_for_admins_and_roles_for_owners() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    let bob = app.new_user().await;
    let carol = app.new_user().await;
    let path = format!("/v1/admin/users/{}", carol.id);
    app.get(&path, Some(&bob.token))
        .await
        .assert_problem(403, "forbidden");

    make_owner(&app, &owner).await;
    let seen = app.get(&path, Some(&owner.token)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["email"], carol.email);

    let promoted = app
        .put(
            &format!("/v1/admin/users/{}/role", bob.id),
            &owner.token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.body["role"], "admin");
    // An admin manages users but not roles.
    assert_eq!(
        app.get(&path, Some(&bob.token)).await.status,
        StatusCode::OK
    );
    app.put(
        &format!("/v1/admin/users/{}/role", carol.id),
        &bob.token,
        json!({"role": "admin"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get("/v1/admin/events", Some(&carol.token))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/admin/events", None)
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn admins_act_on_users_only_owners_on_admins_and_nobody_blocks_themselves() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let carol = app.new_user().await;
    for admin in [&alice, &bob] {
        let promoted = app
            .put(
                &format!("/v1/admin/users/{}/role", admin.id),
                &owner.token,
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    }

    // An admin cannot block, edit, feature or delete another admin or an owner.
    for target in [&bob, &owner] {
        let user = format!("/v1/admin/users/{}", target.id);
        post(&app, &format!("{user}/block"), &alice.token)
            .await
            .assert_problem(403, "forbidden");
        app.patch(&user, &alice.token, json!({"display_name": "Renamed"}))
            .await
            .assert_problem(403, "forbidden");
        app.put(
            &format!("{user}/featured"),
            &alice.token,
            json!({"featured": true}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.delete(&user, &alice.token, None)
            .await
            .assert_problem(403, "forbidden");
    }
    // An admin edits their own profile and acts on users.
    let own = app
        .patch(
            &format!("/v1/admin/users/{}", alice.id),
            &alice.token,
            json!({"display_name": "Alice Admin"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let blocked = post(
        &app,
        &format!("/v1/admin/users/{}/block", carol.id),
        &alice.token,
    )
    .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.body);

    // Nobody blocks their own account; a user asking is refused for the role first.
    for caller in [&alice, &owner] {
        post(
            &app,
            &format!("/v1/admin/users/{}/block", caller.id),
            &caller.token,
        )
        .await
        .assert_problem(409, "cannot_block_self");
    }
    let dave = app.new_user().await;
    post(
        &app,
        &format!("/v1/admin/users/{}/block", dave.id),
        &dave.token,
    )
    .await
    .assert_problem(403, "forbidden");

    // The owner acts on admins.
    let blocked = post(
        &app,
        &format!("/v1/admin/users/{}/block", bob.id),
        &owner.token,
    )
    .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.body);
    app.get("/v1/me", Some(&bob.token))
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn blocking_ends_every_session_and_refuses_sign_in_until_unblocked() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let carol = app.new_user().await;
    let other_session = app.sign_in(&carol.email, PASSWORD).await;
    let other_token = other_session.body["token"].as_str().unwrap().to_owned();

    let blocked = post(
        &app,
        &format!("/v1/admin/users/{}/block", carol.id),
        &owner.token,
    )
    .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.body);
    assert_eq!(blocked.body["status"], "blocked");
    for token in [&carol.token, &other_token] {
        app.get("/v1/me", Some(token))
            .await
            .assert_problem(401, "unauthenticated");
    }
    app.sign_in(&carol.email, PASSWORD)
        .await
        .assert_problem(403, "account_blocked");

    let unblocked = post(
        &app,
        &format!("/v1/admin/users/{}/unblock", carol.id),
        &owner.token,
    )
    .await;
    assert_eq!(unblocked.body["status"], "active");
    let again = app.sign_in(&carol.email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::CREATED);

    // The history names the admin as actor.
    let history = app
        .get(
            &format!("/v1/admin/users/{}/events", carol.id),
            Some(&owner.token),
        )
        .await;
    let block = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "AccountBlocked")
        .expect("a block event");
    assert_eq!(block["actor"], owner.id.to_string());
    let own = app
        .get(
            "/v1/me/events?types=AccountBlocked,AccountUnblocked",
            Some(again.body["token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(own.body["events"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_or_deleted() {
    let app = spawn_pipeline().await;
    let first = app.new_user().await;
    make_owner(&app, &first).await;
    let demote_first = format!("/v1/admin/users/{}/role", first.id);
    app.put(&demote_first, &first.token, json!({"role": "user"}))
        .await
        .assert_problem(409, "last_owner");
    app.delete(&format!("/v1/admin/users/{}", first.id), &first.token, None)
        .await
        .assert_problem(409, "last_owner");
    app.delete("/v1/me", &first.token, Some(json!({"password": PASSWORD})))
        .await
        .assert_problem(409, "last_owner");

    let second = app.new_user().await;
    let promoted = app
        .put(
            &format!("/v1/admin/users/{}/role", second.id),
            &first.token,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    let demoted = app
        .put(&demote_first, &second.token, json!({"role": "user"}))
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    assert_eq!(demoted.body["role"], "user");
}

#[tokio::test]
async fn an_account_as_it_was_before_and_after_a_change() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let dave = app.new_user().await;
    app.patch("/v1/me", &dave.token, json!({"display_name": "Before"}))
        .await;
    // The log's own clock separates before from after.
    let between: String = app
        .db
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tokio::task::yield_now().await;
    let changed = app
        .patch("/v1/me", &dave.token, json!({"display_name": "After"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let path = format!("/v1/admin/users/{}", dave.id);
    let then = app
        .get(&format!("{path}?as_of={between}"), Some(&owner.token))
        .await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.body);
    assert_eq!(then.body["display_name"], "Before");
    let now = app.get(&path, Some(&owner.token)).await;
    assert_eq!(now.body["display_name"], "After");
    app.get(
        &format!("{path}?as_of=2000-01-01T00:00:00Z"),
        Some(&owner.token),
    )
    .await
    .assert_problem(404, "account_not_found");
}

#[tokio::test]
async fn admins_edit_feature_and_delete_accounts() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let erin = app.new_user().await;
    let path = format!("/v1/admin/users/{}", erin.id);
    let new_email = format!("erin-{}@example.com", uuid::Uuid::new_v4().simple());
    let edited = app
        .patch(
            &path,
            &owner.token,
            json!({"display_name": "Erin", "username": "erin_e", "email": new_email}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["email"], new_email);
    assert_eq!(edited.body["username"], "erin_e");
    app.patch(&path, &owner.token, json!({"email": owner.email}))
        .await
        .assert_problem(409, "email_taken");

    let featured = app
        .put(
            &format!("{path}/featured"),
            &owner.token,
            json!({"featured": true}),
        )
        .await;
    assert_eq!(featured.body["featured"], true);
    let listed = app
        .get(
            &format!(
                "/v1/users?featured=true&min_position={}",
                featured.position()
            ),
            None,
        )
        .await;
    assert_eq!(listed.body[0]["id"], erin.id.to_string(), "{}", listed.body);

    let deleted = app.delete(&path, &owner.token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    app.get("/v1/me", Some(&erin.token))
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&path, Some(&owner.token))
        .await
        .assert_problem(404, "account_not_found");

    let log = app
        .get(
            "/v1/admin/events?after=0&limit=2&types=AccountRegistered",
            Some(&owner.token),
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert_eq!(log.body["events"].as_array().unwrap().len(), 2);
    let next = log.body["next_after"].as_i64().expect("more");
    let rest = app
        .get(
            &format!("/v1/admin/events?after={next}&limit=2&types=AccountRegistered"),
            Some(&owner.token),
        )
        .await;
    assert!(rest.body["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn listing_accounts_filters_orders_pages_and_picks_fields() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let mut users = Vec::new();
    for name in ["Alpha", "Bravo", "Charlie", "Delta"] {
        let user = app.new_user().await;
        app.patch(
            "/v1/me",
            &user.token,
            json!({"display_name": name, "username": format!("{}_u", name.to_lowercase())}),
        )
        .await;
        users.push(user);
    }
    let featured = app
        .put(
            &format!("/v1/admin/users/{}/featured", users[1].id),
            &owner.token,
            json!({"featured": true}),
        )
        .await;
    let blocked = post(
        &app,
        &format!("/v1/admin/users/{}/block", users[2].id),
        &owner.token,
    )
    .await;
    let last = featured.position().max(blocked.position());
    let list = |query: String| {
        let token = owner.token.clone();
        let app = &app;
        async move {
            let answer = app
                .get(
                    &format!("/v1/admin/users?min_position={last}&{query}"),
                    Some(&token),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
            answer.body
        }
    };
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["display_name"].as_str().unwrap_or("-").to_owned())
            .collect()
    };

    let all = list("include_total=true".into()).await;
    assert_eq!(all["total"], 5);
    assert_eq!(all["per_page"], 15);
    assert_eq!(
        names(&all)[..4],
        ["Delta", "Charlie", "Bravo", "Alpha"],
        "newest first"
    );

    assert_eq!(names(&list("q=br".into()).await), ["Bravo"]);
    assert_eq!(
        names(&list("q=CHARLIE_".into()).await),
        ["Charlie"],
        "username prefix"
    );
    let by_email = list(format!("q={}", &users[3].email[..10])).await;
    assert_eq!(names(&by_email), ["Delta"]);
    assert_eq!(names(&list(format!("q={}", users[0].id)).await), ["Alpha"]);
    assert_eq!(
        names(
            &list(format!(
                "ids={},{}&order_by=display_name",
                users[3].id, users[0].id
            ))
            .await
        ),
        ["Alpha", "Delta"]
    );
    assert_eq!(
        names(&list(format!("email={}", users[2].email.to_uppercase())).await),
        ["Charlie"]
    );
    assert_eq!(names(&list("featured=true".into()).await), ["Bravo"]);
    assert_eq!(names(&list("blocked=true".into()).await), ["Charlie"]);
    assert_eq!(
        list("blocked=false&include_total=true".into()).await["total"],
        4
    );
    let owners = list("role=owner".into()).await;
    assert_eq!(owners["items"][0]["id"], owner.id.to_string());
    // Only the owner proved its address.
    assert_eq!(
        list("email_verified=true&include_total=true".into()).await["total"],
        1
    );
    assert_eq!(
        names(&list("order_by=-display_name&role=user".into()).await),
        ["Delta", "Charlie", "Bravo", "Alpha"]
    );
    assert_eq!(
        list("created_before=2000-01-01T00:00:00Z".into()).await["items"],
        json!([])
    );
    assert_eq!(
        list("created_from=2000-01-01T00:00:00Z&include_total=true".into()).await["total"],
        5
    );

    // Paging: a full page, the last partial page, a page past the end.
    let page = list("per_page=2&page=1&order_by=created_at&include_total=true".into()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], 5);
    let last_page = list("per_page=2&page=3&order_by=created_at".into()).await;
    assert_eq!(names(&last_page), ["Delta"]);
    assert_eq!(list("per_page=2&page=9".into()).await["items"], json!([]));
    app.get("/v1/admin/users?per_page=101", Some(&owner.token))
        .await
        .assert_problem(400, "invalid_request");

    // Fields.
    let slim = list("fields=id,email&q=alpha".into()).await;
    let item = slim["items"][0].as_object().unwrap();
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    assert_eq!(keys, ["email", "id"]);
    let unknown = app
        .get("/v1/admin/users?fields=id,password", Some(&owner.token))
        .await;
    unknown.assert_problem(400, "invalid_request");
    assert_eq!(
        unknown.field_errors(),
        [("fields".to_owned(), "unknown_field".to_owned())]
    );
    app.get("/v1/admin/users", Some(&users[0].token))
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn every_admin_endpoint_refuses_users_and_role_changes_refuse_admins() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let admin = app.new_user().await;
    app.put(
        &format!("/v1/admin/users/{}/role", admin.id),
        &owner.token,
        json!({"role": "admin"}),
    )
    .await;
    let user = app.new_user().await;
    let target = app.new_user().await;
    let id = target.id;
    let endpoints: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/admin/users".into(), None),
        (Method::GET, format!("/v1/admin/users/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/admin/users/{id}"),
            Some(json!({"bio": "x"})),
        ),
        (
            Method::PUT,
            format!("/v1/admin/users/{id}/role"),
            Some(json!({"role": "user"})),
        ),
        (Method::POST, format!("/v1/admin/users/{id}/block"), None),
        (Method::POST, format!("/v1/admin/users/{id}/unblock"), None),
        (
            Method::PUT,
            format!("/v1/admin/users/{id}/featured"),
            Some(json!({"featured": true})),
        ),
        (Method::GET, format!("/v1/admin/users/{id}/events"), None),
        (Method::GET, "/v1/admin/events".into(), None),
        (Method::DELETE, format!("/v1/admin/users/{id}"), None),
    ];
    for (method, path, body) in &endpoints {
        let answer = app
            .send(method.clone(), path, Some(&user.token), body.clone(), &[])
            .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "user: {method} {path}"
        );
        assert_eq!(answer.body["code"], "forbidden");
        let answer = app
            .send(method.clone(), path, None, body.clone(), &[])
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "anonymous: {method} {path}"
        );
    }
    for (method, path, body) in &endpoints {
        let answer = app
            .send(method.clone(), path, Some(&admin.token), body.clone(), &[])
            .await;
        let expected = if path.ends_with("/role") {
            StatusCode::FORBIDDEN
        } else if *method == Method::DELETE {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::OK
        };
        assert_eq!(
            answer.status, expected,
            "admin: {method} {path}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn text_with_a_nul_byte_is_refused_or_matches_nothing() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    for query in ["q=a%00b", "email=a%00b%40example.com", "fields=id%00"] {
        app.get(&format!("/v1/admin/users?{query}"), Some(&owner.token))
            .await
            .assert_problem(400, "invalid_request");
    }
    // An event type with a NUL byte is no event type.
    for path in [
        "/v1/admin/events?types=SessionStarted%00",
        "/v1/me/events?types=SessionStarted%00",
    ] {
        let page = app.get(path, Some(&owner.token)).await;
        page.assert_problem(400, "invalid_request");
        assert_eq!(
            page.field_errors(),
            [("types".to_owned(), "unknown_event_type".to_owned())]
        );
    }
}

#[tokio::test]
async fn an_instant_rfc_3339_cannot_write_is_named_not_a_server_error() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    for (path, field) in [
        (
            "/v1/admin/users?created_from=-9999-01-01T00:00:00Z",
            "created_from",
        ),
        (
            "/v1/admin/users?created_before=-0001-01-01T00:00:00Z",
            "created_before",
        ),
        (
            &format!("/v1/admin/users/{}?as_of=-9999-01-01T00:00:00Z", owner.id) as &str,
            "as_of",
        ),
    ] {
        let answer = app.get(path, Some(&owner.token)).await;
        answer.assert_problem(400, "invalid_request");
        assert_eq!(answer.body["errors"][0]["field"], field, "{path}");
    }
    let fine = app
        .get(
            "/v1/admin/users?created_from=0001-01-01T00:00:00Z",
            Some(&owner.token),
        )
        .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
}

#[tokio::test]
async fn listing_by_last_change() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let first = app.new_user().await;
    let second = app.new_user().await;
    let touched = app
        .patch("/v1/me", &first.token, json!({"bio": "changed last"}))
        .await;
    let page = app
        .get(
            &format!(
                "/v1/admin/users?order_by=-updated_at&per_page=1&min_position={}",
                touched.position()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        page.body["items"][0]["id"],
        first.id.to_string(),
        "{}",
        page.body
    );
    let oldest_change = app
        .get(
            &format!(
                "/v1/admin/users?order_by=updated_at&role=user&min_position={}",
                touched.position()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(oldest_change.body["items"][0]["id"], second.id.to_string());
}

#[tokio::test]
async fn an_admin_edit_commits_whole_or_not_at_all_under_one_idempotency_key() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let frank = app.new_user().await;
    let path = format!("/v1/admin/users/{}", frank.id);
    // A taken address refuses the whole edit: the name stays as it was.
    app.patch(
        &path,
        &owner.token,
        json!({"display_name": "Frank", "email": owner.email}),
    )
    .await
    .assert_problem(409, "email_taken");
    let account = app.get(&path, Some(&owner.token)).await;
    assert_eq!(account.body["display_name"], serde_json::Value::Null);
    assert_eq!(
        app.event_types(frank.id).await.last().unwrap(),
        "SessionStarted"
    );

    // Profile and address in one edit, one key: one answer, replayed as it was.
    let new_email = format!("frank-{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({"display_name": "Frank", "email": new_email});
    let key = [("idempotency-key", "admin-edit-1")];
    let first = app
        .send(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["display_name"], "Frank");
    assert_eq!(first.body["email"], new_email);
    let again = app
        .send(Method::PATCH, &path, Some(&owner.token), Some(body), &key)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let types = app.event_types(frank.id).await;
    assert_eq!(
        &types[types.len() - 2..],
        ["ProfileUpdated", "EmailChanged"]
    );
}

/// A block ends the account's sessions under the account's lock, and a command of a session
/// checks the session under that same lock: what the blocked user sent meanwhile commits
/// before the block or not at all, whatever stream it changes.
#[tokio::test]
async fn nothing_a_session_sends_commits_after_a_block_ends_it() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let user = app.new_user().await;
    let path = format!("/v1/admin/users/{}/block", user.id);
    let profile_changes = (0..15).map(|n| {
        let body = json!({"bio": format!("change {n}")});
        async { app.patch("/v1/me", &user.token, body).await.status }
    });
    let new_addresses = (0..15).map(|n| {
        let body = json!({
            "receiver": "张三",
            "receiver_phone": "18667018590",
            "postcode": "310000",
            "address": format!("浙江省杭州市西湖区文三路 {n} 号"),
            "tag": "家"
        });
        async {
            app.post("/v1/me/addresses", Some(&user.token), body)
                .await
                .status
        }
    });
    let (blocked, changed, added) = tokio::join!(
        post(&app, &path, &owner.token),
        futures::future::join_all(profile_changes),
        futures::future::join_all(new_addresses),
    );
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    for status in changed.into_iter().chain(added) {
        assert!(status == 200 || status == 201 || status == 401, "{status}");
    }
    let late: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM events
             WHERE event_type IN ('ProfileUpdated', 'AddressAdded')
               AND position > (SELECT position FROM events WHERE event_type = 'AccountBlocked')",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(late, 0, "changes committed after the block");
}
