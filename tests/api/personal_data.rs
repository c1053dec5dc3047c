//! Personal data in the log is sealed per stream (`accounts::personal`): the events, their
//! metadata and the snapshots hold it only as ciphertext under the stream's data key, while
//! every reader (commands, reads, the account's history, the relay, exports) sees it opened.

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

/// Everything the log and the snapshots hold, as text.
async fn log_text(app: &TestApp) -> String {
    let events: String = app
        .db
        .query_one(
            "SELECT coalesce(string_agg(data::text || ' ' || metadata::text, '\n'), '')
             FROM events",
            &[],
        )
        .await
        .expect("events")
        .get(0);
    let snapshots: String = app
        .db
        .query_one(
            "SELECT coalesce(string_agg(state::text, '\n'), '') FROM stream_snapshots",
            &[],
        )
        .await
        .expect("snapshots")
        .get(0);
    format!("{events}\n{snapshots}")
}

#[tokio::test]
async fn the_log_and_its_snapshots_hold_personal_data_only_sealed() {
    let app = spawn_app().await;
    let email = "li.lei.sealed@example.com";
    let signed_up = app
        .send(
            Method::POST,
            "/v1/accounts",
            None,
            Some(json!({"email": email, "password": PASSWORD, "display_name": "李雷 Sealed"})),
            &[("user-agent", "Sealed-Agent/7.1")],
        )
        .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    let token = signed_up.body["session"]["token"].as_str().expect("token");
    let id: uuid::Uuid = signed_up.body["account"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    let changed = app
        .patch(
            "/v1/me",
            token,
            json!({"bio": "Bio that names Han Meimei", "city": "Hangzhou-Sealed"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let added = app
        .post(
            "/v1/me/addresses",
            Some(token),
            json!({
                "receiver": "Receiver Sealed", "receiver_phone": "18667018590",
                "address": "1 Sealed Road, Xihu", "postcode": "310000", "tag": "home"
            }),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let grouped = app
        .post(
            "/v1/me/follow-groups",
            Some(token),
            json!({"name": "Sealed friends"}),
        )
        .await;
    assert_eq!(grouped.status, 201, "{}", grouped.body);
    let failed = app
        .send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": email, "password": "not the password at all"})),
            &[("user-agent", "Guessing-Agent/1.0")],
        )
        .await;
    assert_eq!(failed.status, 401, "{}", failed.body);

    let text = log_text(&app).await;
    for personal in [
        "li.lei.sealed",
        "李雷",
        "Han Meimei",
        "Hangzhou-Sealed",
        "Receiver Sealed",
        "18667018590",
        "Sealed Road",
        "Sealed friends",
        "Sealed-Agent",
        "Guessing-Agent",
        "127.0.0.1",
    ] {
        assert!(
            !text.contains(personal),
            "the log holds {personal:?} in clear:\n{text}"
        );
    }
    // The facts stay readable: what happened, when, to which ids.
    assert!(text.contains("AccountRegistered") || text.contains("\"role\""));
    let kinds: Vec<String> = app
        .db
        .query(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
            &[&id],
        )
        .await
        .expect("types")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        &kinds[..3],
        ["AccountRegistered", "SessionStarted", "ProfileUpdated"]
    );

    // Every reader sees them opened.
    let me = app.get("/v1/me", Some(token)).await;
    assert_eq!(me.body["email"], email);
    assert_eq!(me.body["display_name"], "李雷 Sealed");
    assert_eq!(me.body["bio"], "Bio that names Han Meimei");
    let history = app.get("/v1/me/events?limit=100", Some(token)).await;
    assert_eq!(history.status, 200, "{}", history.body);
    let registered = history.body["events"]
        .as_array()
        .and_then(|events| events.iter().find(|e| e["type"] == "AccountRegistered"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(registered["data"]["email"], email, "{registered}");
    assert!(registered["data"].get("personal").is_none(), "{registered}");
    let events = app.stream_events(id).await;
    let failure = events
        .iter()
        .find(|event| event.event_type == "SignInFailed")
        .expect("the failed sign-in");
    assert_eq!(failure.data["user_agent"], "Guessing-Agent/1.0");
    assert_eq!(failure.data["ip"], "127.0.0.1");
    let address = app.get("/v1/me/addresses", Some(token)).await;
    assert!(address.body.to_string().contains("Sealed Road"));
}

#[tokio::test]
async fn each_stream_has_a_data_key_of_its_own_stored_wrapped() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    for user in [&alice, &bob] {
        app.post(
            "/v1/me/addresses",
            Some(&user.token),
            json!({
                "receiver": "R", "receiver_phone": "18667018590",
                "address": "A road", "postcode": "310000", "tag": "home"
            }),
        )
        .await;
    }
    let key_of = |data: Value| {
        data["personal"]["key_id"]
            .as_str()
            .map(str::to_owned)
            .expect("sealed")
    };
    let registered = |id: uuid::Uuid| {
        let app = &app;
        async move {
            let data: Value = app
                .db
                .query_one(
                    "SELECT data FROM events WHERE stream_id = $1 AND version = 1",
                    &[&id],
                )
                .await
                .expect("event")
                .get(0);
            data
        }
    };
    let alice_key = key_of(registered(alice.id).await);
    let bob_key = key_of(registered(bob.id).await);
    assert_ne!(alice_key, bob_key);
    let book = accounts::domain::address_book::stream_id(alice.id);
    let book_key = key_of(registered(book).await);
    assert_ne!(book_key, alice_key, "a stream's key is its own");

    let rows = app
        .db
        .query(
            "SELECT stream_id, wrapped FROM data_keys WHERE key_id::text = ANY($1)",
            &[&vec![alice_key.clone(), bob_key, book_key]],
        )
        .await
        .expect("keys");
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let wrapped: String = row.get(1);
        assert!(wrapped.starts_with("v1."), "sealed by the service key");
    }
    // A key is made once per stream, however many commands ran on it.
    let keys_of_alice: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM data_keys WHERE stream_id = $1",
            &[&alice.id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(keys_of_alice, 1);
}

/// Thirty first writes of one new stream at once make one key: every event opens with it.
#[tokio::test]
async fn thirty_concurrent_first_writes_of_a_stream_share_one_key() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let adds = (0..30).map(|i| {
        app.post(
            "/v1/me/addresses",
            Some(&user.token),
            json!({
                "receiver": format!("R{i}"), "receiver_phone": "18667018590",
                "address": format!("{i} Parallel Road"), "postcode": "310000", "tag": "home"
            }),
        )
    });
    let answers = futures::future::join_all(adds).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert!(created > 0, "{}", answers[0].body);
    let book = accounts::domain::address_book::stream_id(user.id);
    let keys: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM data_keys WHERE stream_id = $1",
            &[&book],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(keys, 1);
    let events = app.stream_events(book).await;
    let added: Vec<_> = events
        .iter()
        .filter(|event| event.event_type == "AddressAdded")
        .collect();
    assert_eq!(added.len(), created);
    assert!(added.iter().all(|event| {
        event.data["address"]
            .as_str()
            .is_some_and(|address| address.ends_with("Parallel Road"))
    }));
}

#[tokio::test]
async fn an_export_holds_everything_held_about_me_and_records_itself() {
    let app = crate::helpers::spawn_pipeline().await;
    let me = app.new_user().await;
    let fan = app.new_user().await;
    let idol = app.new_user().await;
    let token = Some(me.token.as_str());
    app.patch(
        "/v1/me",
        &me.token,
        json!({"display_name": "Exported Me", "bio": "Portable"}),
    )
    .await;
    app.post(
        "/v1/me/addresses",
        token,
        json!({
            "receiver": "Export Receiver", "receiver_phone": "18667018590",
            "address": "3 Portable Road", "postcode": "310000", "tag": "home"
        }),
    )
    .await;
    app.post(
        "/v1/me/follow-groups",
        token,
        json!({"name": "Portable friends"}),
    )
    .await;
    app.put(
        &format!("/v1/me/following/{}", idol.id),
        &me.token,
        json!({"group": "Portable friends"}),
    )
    .await;
    let followed = app
        .put(
            &format!("/v1/me/following/{}", me.id),
            &fan.token,
            json!({}),
        )
        .await;
    crate::helpers::wait_for_projection(&app, "follows", followed.position()).await;

    let export = app.get("/v1/me/export", token).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let document = &export.body;
    assert_eq!(document["format"], "accounts.personal-data/1");
    assert_eq!(document["account"]["id"], me.id.to_string());
    assert_eq!(document["account"]["email"], me.email);
    assert_eq!(document["account"]["display_name"], "Exported Me");
    assert_eq!(document["privacy"]["show_follows"], true);
    assert_eq!(document["addresses"][0]["address"], "3 Portable Road");
    let group = document["following"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["name"] == "Portable friends")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(group["followees"][0]["user_id"], idol.id.to_string());
    assert_eq!(document["followers"][0]["user_id"], fan.id.to_string());
    assert_eq!(document["sessions"][0]["current"], true);
    let events = document["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"AccountRegistered"));
    assert!(types.contains(&"AddressAdded") && types.contains(&"Followed"));
    assert_eq!(events[0]["data"]["email"], me.email);
    assert!(events[0]["data"].get("password").is_none(), "no secret");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "PersonalDataExported");
    assert_eq!(last["data"]["requested_by"], me.id.to_string());
    assert_eq!(last["position"], export.position());
    assert!(
        !document.to_string().contains("\"personal\""),
        "everything opened"
    );

    // An administrator exports any account, and is named in its record.
    let admin = app.new_user().await;
    crate::helpers::make_owner(&app, &admin).await;
    let path = format!("/v1/admin/users/{}/export", me.id);
    let by_admin = app.get(&path, Some(&admin.token)).await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.body);
    assert_eq!(by_admin.body["account"]["email"], me.email);
    let record = by_admin.body["events"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(record["data"]["requested_by"], admin.id.to_string());
    assert_eq!(by_admin.body["sessions"][0]["current"], false);
    // Nobody else does.
    app.get(&path, Some(&fan.token))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/me/export", None)
        .await
        .assert_problem(401, "unauthenticated");
    app.get(
        &format!("/v1/admin/users/{}/export", uuid::Uuid::new_v4()),
        Some(&admin.token),
    )
    .await
    .assert_problem(404, "account_not_found");
    assert_eq!(app.count_events(Some("PersonalDataExported")).await, 2);
}

/// Rotating the key-encryption key re-wraps the data keys; the log stays as it was.
#[tokio::test]
async fn rotating_the_key_encryption_key_rewraps_data_keys_and_not_the_log() {
    use accounts::personal::{Kek, Keyring};
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "rotated"}))
        .await;
    let log_before = log_text(&app).await;
    let keys_made: i64 = app
        .db
        .query_one("SELECT count(*) FROM data_keys", &[])
        .await
        .expect("count")
        .get(0);
    let secrets =
        accounts::secrets::SecretBox::from_config(None, &app.config.data_dir).expect("secrets");
    let new_key = hex::encode(rand::random::<[u8; 32]>());
    let keyring = |setting: &[&str]| {
        let setting: Vec<String> = setting.iter().map(|key| (*key).to_owned()).collect();
        Keyring::connect(
            &app.config.database_url,
            Kek::parse_list(&setting, &secrets).expect("keys"),
        )
        .expect("keyring")
    };

    // While rotating: the new key first, the old one after it.
    let rotating = keyring(&[&new_key, "service"]);
    let rewrapped = rotating.rewrap(2).await.expect("rewrap");
    assert_eq!(rewrapped, u64::try_from(keys_made).unwrap());
    assert_eq!(rotating.rewrap(2).await.expect("again"), 0, "nothing left");
    let new_id = Kek::parse_list(std::slice::from_ref(&new_key), &secrets).unwrap()[0]
        .id()
        .to_owned();
    let wrapped_by: Vec<Option<String>> = app
        .db
        .query("SELECT wrapped_by FROM data_keys", &[])
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        wrapped_by
            .iter()
            .all(|by| by.as_deref() == Some(new_id.as_str()))
    );

    // The new key alone opens everything; the old one alone no longer does.
    let events = accounts::store::event_log::load_stream(&keyring(&[&new_key]), &app.db, user.id)
        .await
        .expect("opened with the new key");
    assert_eq!(events[0].data["email"], user.email);
    assert!(
        accounts::store::event_log::load_stream(&keyring(&["service"]), &app.db, user.id)
            .await
            .is_err()
    );
    assert_eq!(log_text(&app).await, log_before, "the log is not touched");

    // The command line does the same with the keys it is given.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_accounts"))
        .args(["events", "rewrap"])
        .env("ACCOUNTS_DATABASE_URL", &app.config.database_url)
        .env("ACCOUNTS_DATA_DIR", &app.config.data_dir)
        .env("ACCOUNTS_KEY_ENCRYPTION_KEYS", format!("service,{new_key}"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run accounts");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("re-wrapped {keys_made} data keys")
    );
}
