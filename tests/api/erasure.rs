//! Deletion, restore within the grace period, and erasure of personal data (GDPR art. 17):
//! after erasure no table of the database holds the account's personal data in clear, the
//! log keeps the facts, subscribers hear `AccountErased`, and rebuilt read models equal the
//! live ones.

use crate::helpers::{
    PASSWORD, SmsGateway, TestApp, User, make_owner, spawn_app_with, spawn_pipeline,
    wait_for_projection,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every row of every table (the inline ones, the read models, idempotency answers, message
/// deliveries, the log), as text.
async fn whole_database(app: &TestApp) -> String {
    let tables = app
        .db
        .query(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
             FROM information_schema.tables
             WHERE table_type = 'BASE TABLE'
               AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .expect("tables");
    let mut text = String::new();
    for table in tables {
        let name: String = table.get(0);
        let rows: Option<String> = app
            .db
            .query_one(
                &format!("SELECT string_agg(t::text, E'\\n') FROM {name} AS t"),
                &[],
            )
            .await
            .expect("rows")
            .get(0);
        text.push_str(&format!("== {name}\n{}\n", rows.unwrap_or_default()));
    }
    text
}

#[track_caller]
fn assert_nowhere(text: &str, personal: &[&str]) {
    for value in personal {
        let found: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("== ") || line.contains(value))
            .collect();
        assert!(
            !text.contains(value),
            "the database still holds {value:?}: {}",
            found.join("\n")
        );
    }
}

fn user_of(answer: &crate::helpers::Answer, email: &str) -> User {
    User {
        id: answer.body["account"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("id"),
        token: answer.body["session"]["token"]
            .as_str()
            .expect("token")
            .to_owned(),
        email: email.to_owned(),
    }
}

/// Waits until the account's erasure is recorded in its stream.
async fn wait_for_erasure(app: &TestApp, id: Uuid) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = app
            .db
            .query_opt(
                "SELECT max(position) FROM events WHERE stream_id = $1
                 HAVING bool_or(event_type = 'AccountErased')",
                &[&id],
            )
            .await
            .expect("events");
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(std::time::Instant::now() < deadline, "never erased");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn table_rows(app: &TestApp, sql: &str) -> Vec<String> {
    app.db
        .query(sql, &[])
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The read models as text, for comparing a rebuild with live projection.
async fn read_models(app: &TestApp) -> Vec<String> {
    let mut rows = table_rows(
        app,
        "SELECT u::text FROM projection_users.users u ORDER BY id",
    )
    .await;
    rows.extend(
        table_rows(
            app,
            "SELECT f::text FROM projection_follows.follows f ORDER BY follower, followee",
        )
        .await,
    );
    rows
}

#[tokio::test]
async fn an_account_its_owner_deletes_is_erased_from_every_table_at_once_with_no_grace() {
    let gateway = SmsGateway::start().await;
    let sms_url = gateway.url.clone();
    let app = spawn_app_with(|config| {
        config.relay = true;
        config.projector = true;
        config.mail = true;
        config.sms_webhook_url = Some(sms_url);
        config.trusted_proxies = vec![accounts::config::parse_network("127.0.0.1").unwrap()];
        config.erasure_grace_days = 0;
    })
    .await;
    let from = [
        ("x-forwarded-for", "203.0.113.77"),
        ("user-agent", "Erasable-Agent/3.2"),
    ];
    let phone = format!("+86139{:08}", Uuid::new_v4().as_u128() as u32 % 100_000_000);
    let national = &phone[3..];
    app.send(
        Method::POST,
        "/v1/codes",
        None,
        Some(json!({"channel": "sms", "to": phone, "purpose": "sign_up"})),
        &from,
    )
    .await;
    let (code, _) = gateway.wait_for_code(&phone, "sign_up").await;
    let signed_up = app
        .send(
            Method::POST,
            "/v1/accounts",
            None,
            Some(json!({"phone": phone, "code": code, "password": PASSWORD})),
            &from,
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let victim = user_of(&signed_up, "");
    let token = Some(victim.token.as_str());
    for (path, body) in [
        (
            "/v1/me/addresses",
            json!({
                "receiver": "Erasable Receiver", "receiver_phone": "18667018590",
                "address": "42 Erasable Lane", "postcode": "310000", "tag": "home"
            }),
        ),
        ("/v1/me/follow-groups", json!({"name": "Erasable circle"})),
    ] {
        let answer = app.send(Method::POST, path, token, Some(body), &from).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{path}: {}",
            answer.body
        );
    }
    let changed = app
        .send(
            Method::PATCH,
            "/v1/me",
            token,
            Some(json!({
                "display_name": "Erasable Person", "bio": "Erasable biography",
                "city": "Erasableton", "birthday": "1990-04-05"
            })),
            &from,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let bob = app.new_user().await;
    app.put(
        &format!("/v1/me/following/{}", bob.id),
        &victim.token,
        json!({"group": "Erasable circle"}),
    )
    .await;
    app.put(
        &format!("/v1/me/following/{}", victim.id),
        &bob.token,
        json!({}),
    )
    .await;
    let failed = app
        .send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"phone": phone, "password": "not the password at all"})),
            &from,
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let personal = [
        phone.as_str(),
        national,
        "Erasable Receiver",
        "18667018590",
        "Erasable Lane",
        "Erasable circle",
        "Erasable Person",
        "Erasable biography",
        "Erasableton",
        "1990-04-05",
        "Erasable-Agent",
        "203.0.113.77",
    ];
    // The read models hold the profile until the erasure.
    let position = app.count_events(None).await;
    wait_for_projection(&app, "users", position).await;
    assert!(whole_database(&app).await.contains("Erasable Person"));

    let deleted = app
        .send(
            Method::DELETE,
            "/v1/me",
            token,
            Some(json!({"password": PASSWORD})),
            &from,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let erased_at = wait_for_erasure(&app, victim.id).await;
    wait_for_projection(&app, "users", erased_at).await;
    wait_for_projection(&app, "follows", erased_at).await;
    assert_nowhere(&whole_database(&app).await, &personal);

    // The facts stay: every event, in order, with its time and ids.
    let kinds = app.event_types(victim.id).await;
    assert_eq!(kinds.first().map(String::as_str), Some("AccountRegistered"));
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["AccountDeleted", "PersonalDataErased", "AccountErased"]
    );
    let events = app.stream_events(victim.id).await;
    let registered = &events[0];
    assert_eq!(registered.data["personal_data"], "erased");
    assert_eq!(registered.data["role"], "user");
    assert!(registered.data["at"].is_string());
    assert!(registered.data.get("phone").is_none());
    assert_eq!(registered.metadata["personal_data"], "erased");

    // Subscribers are told.
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let stream = async_nats::jetstream::new(nats)
        .get_stream(&app.config.nats_stream)
        .await
        .expect("stream");
    let subject = format!("{}.account.AccountErased", app.config.nats_subject_prefix);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let message = loop {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await {
            break message;
        }
        assert!(std::time::Instant::now() < deadline, "no AccountErased");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let envelope: Value = serde_json::from_slice(&message.payload).expect("json");
    assert_eq!(envelope["stream_id"], victim.id.to_string());

    // The account is gone for its owner and for everyone.
    app.post(
        "/v1/sessions",
        None,
        json!({"phone": phone, "password": PASSWORD}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    let profile = app.get(&format!("/v1/users/{}", victim.id), None).await;
    assert_eq!(profile.status, StatusCode::NOT_FOUND);

    // A rebuild of the read models from the log gives the tables live projection gave.
    let live = read_models(&app).await;
    for projection in ["users", "follows"] {
        let definition = accounts::projector::definition::builtin_named(projection).unwrap();
        accounts::projector::rebuild(&app.keys, &app.config.database_url, &definition, 50)
            .await
            .expect("rebuild");
    }
    assert_eq!(read_models(&app).await, live);
    assert_nowhere(&whole_database(&app).await, &personal);
}

#[tokio::test]
async fn an_administrator_restores_within_the_grace_period_and_not_after() {
    let app = spawn_pipeline().await;
    let admin = app.new_user().await;
    make_owner(&app, &admin).await;
    let victim = app.new_user().await;
    let friend = app.new_user().await;
    app.patch(
        "/v1/me",
        &victim.token,
        json!({"display_name": "Restorable Name", "bio": "Restorable bio"}),
    )
    .await;
    app.post(
        "/v1/me/addresses",
        Some(&victim.token),
        json!({
            "receiver": "Restorable Receiver", "receiver_phone": "18667018590",
            "address": "7 Restorable Street", "postcode": "310000", "tag": "home"
        }),
    )
    .await;
    app.put(
        &format!("/v1/me/following/{}", victim.id),
        &friend.token,
        json!({}),
    )
    .await;

    let deleted = app
        .delete(
            &format!("/v1/admin/users/{}", victim.id),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    wait_for_projection(&app, "users", deleted.position()).await;
    let gone = app.get(&format!("/v1/users/{}", victim.id), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    app.sign_in(&victim.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    // Within the grace period nothing is erased.
    assert_eq!(
        accounts::service::erasure::erase_due(&app.ctx)
            .await
            .unwrap(),
        0
    );

    let restore = format!("/v1/admin/users/{}/restore", victim.id);
    let restored = app.post(&restore, Some(&admin.token), json!({})).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    app.post(&restore, Some(&admin.token), json!({}))
        .await
        .assert_problem(409, "account_not_deleted");
    let signed_in = app.sign_in(&victim.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    let profile = app
        .get(
            &format!(
                "/v1/users/{}?min_position={}",
                victim.id,
                restored.position()
            ),
            None,
        )
        .await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(profile.body["display_name"], "Restorable Name");
    assert_eq!(profile.body["followers_count"], 1, "{}", profile.body);
    let token = signed_in.body["token"].as_str().expect("a session token");
    let addresses = app.get("/v1/me/addresses", Some(token)).await;
    assert!(addresses.body.to_string().contains("7 Restorable Street"));

    // Deleted again, and past the grace period: erased, and restore is gone for good.
    let deleted = app
        .delete(
            &format!("/v1/admin/users/{}", victim.id),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        accounts::service::erasure::erase_due(&app.ctx)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        accounts::service::erasure::erase_due(&app.ctx)
            .await
            .unwrap(),
        0
    );
    app.post(&restore, Some(&admin.token), json!({}))
        .await
        .assert_problem(410, "account_erased");
    let erased_at = wait_for_erasure(&app, victim.id).await;
    wait_for_projection(&app, "users", erased_at).await;
    wait_for_projection(&app, "follows", erased_at).await;
    assert_nowhere(
        &whole_database(&app).await,
        &[
            &victim.email,
            "Restorable Name",
            "Restorable bio",
            "Restorable Receiver",
            "7 Restorable Street",
        ],
    );
    // The administrator's history of the account shows its facts, erased.
    let history = app
        .get(
            &format!("/v1/admin/users/{}/events?limit=100", victim.id),
            Some(&admin.token),
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let events = history.body["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["type"] == "AccountRestored"
            && e["data"]["administrator"] == admin.id.to_string())
    );
    let registered = events
        .iter()
        .find(|e| e["type"] == "AccountRegistered")
        .unwrap();
    assert_eq!(registered["data"]["personal_data"], "erased");
    // As it was before, replayed: its facts, no person.
    let as_of = app
        .get(
            &format!(
                "/v1/admin/users/{}?as_of={}",
                victim.id,
                urlencode(&chrono::Utc::now().to_rfc3339())
            ),
            Some(&admin.token),
        )
        .await;
    assert!(
        !as_of.body.to_string().contains(&victim.email),
        "{}",
        as_of.body
    );
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_restore_needs_the_identifiers_free_and_thirty_at_once_restore_once() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.new_user().await;
    make_owner(&app, &admin).await;
    let victim = app.new_user().await;
    let deleted = app
        .delete(
            &format!("/v1/admin/users/{}", victim.id),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let restore = format!("/v1/admin/users/{}/restore", victim.id);

    // Someone took the address meanwhile: the restore waits for it to be free.
    let squatter = app.sign_up_email(&victim.email).await;
    assert_eq!(squatter.status, StatusCode::CREATED);
    app.post(&restore, Some(&admin.token), json!({}))
        .await
        .assert_problem(409, "email_taken");
    let squatter = user_of(&squatter, &victim.email);
    app.delete(
        &format!("/v1/admin/users/{}", squatter.id),
        &admin.token,
        None,
    )
    .await;

    let answers = futures::future::join_all(
        (0..30).map(|_| app.post(&restore, Some(&admin.token), json!({}))),
    )
    .await;
    let restored = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(restored, 1);
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        answer.assert_problem(409, "account_not_deleted");
    }
    let restores = app.count_events(Some("AccountRestored")).await;
    assert_eq!(restores, 1);

    // Only administrators restore, and nobody restores what never existed.
    let user = app.new_user().await;
    app.post(&restore, Some(&user.token), json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/admin/users/{}/restore", Uuid::new_v4()),
        Some(&admin.token),
        json!({}),
    )
    .await
    .assert_problem(404, "account_not_found");
}

/// A restore brings back what the account was: blocked if it was, and only the follows their
/// followers kept; an administrator's client details go with the administrator's erasure and
/// are not the user's to read.
#[tokio::test]
async fn a_restore_keeps_a_block_and_ended_follows_and_an_admins_details_are_theirs() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let admin_email = format!("admin-{}@example.com", Uuid::new_v4().simple());
    let admin = user_of(&app.sign_up_email(&admin_email).await, &admin_email);
    crate::helpers::given_email_verified(&app, &admin).await;
    app.put(
        &format!("/v1/admin/users/{}/role", admin.id),
        &owner.token,
        json!({"role": "admin"}),
    )
    .await;
    let user = app.new_user().await;
    let fan = app.new_user().await;
    app.put(
        &format!("/v1/me/following/{}", user.id),
        &fan.token,
        json!({}),
    )
    .await;

    // The administrator edits the user from a desk of theirs.
    let edited = app
        .send(
            Method::PATCH,
            &format!("/v1/admin/users/{}", user.id),
            Some(&admin.token),
            Some(json!({"display_name": "Edited By Admin"})),
            &[("user-agent", "AdminDesk/secret-7")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let own = app.get("/v1/me/events?limit=100", Some(&user.token)).await;
    assert!(!own.body.to_string().contains("AdminDesk"), "{}", own.body);
    let own_export = app.get("/v1/me/export", Some(&user.token)).await;
    assert!(!own_export.body.to_string().contains("AdminDesk"));
    let audited = app
        .get(
            &format!("/v1/admin/users/{}/events?limit=100", user.id),
            Some(&owner.token),
        )
        .await;
    assert!(audited.body.to_string().contains("AdminDesk/secret-7"));

    // Blocked, deleted, its follower leaves meanwhile, restored: blocked, no follower.
    let user_path = format!("/v1/admin/users/{}", user.id);
    app.post(&format!("{user_path}/block"), Some(&owner.token), json!({}))
        .await;
    app.delete(&user_path, &owner.token, None).await;
    let left = app
        .delete(&format!("/v1/me/following/{}", user.id), &fan.token, None)
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    let restored = app
        .post(
            &format!("{user_path}/restore"),
            Some(&owner.token),
            json!({}),
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    app.sign_in(&user.email, PASSWORD)
        .await
        .assert_problem(403, "account_blocked");
    wait_for_projection(&app, "follows", restored.position()).await;
    wait_for_projection(&app, "users", restored.position()).await;
    let listed = app.get(&user_path, Some(&owner.token)).await;
    assert_eq!(listed.body["status"], "blocked", "{}", listed.body);
    let followers = table_rows(
        &app,
        &format!(
            "SELECT follower::text FROM projection_follows.follows WHERE followee = '{}'",
            user.id
        ),
    )
    .await;
    assert!(followers.is_empty(), "{followers:?}");

    // The administrator's erasure takes their desk's details out of the user's history too.
    app.delete(&format!("/v1/admin/users/{}", admin.id), &owner.token, None)
        .await;
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        accounts::service::erasure::erase_due(&app.ctx)
            .await
            .unwrap(),
        1
    );
    let after = app
        .get(
            &format!("/v1/admin/users/{}/events?limit=100", user.id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(
        !after.body.to_string().contains("AdminDesk"),
        "{}",
        after.body
    );
}
