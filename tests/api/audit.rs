//! For auditors: my history over HTTP, the whole log as NDJSON, and `accounts rebuild`.

use crate::helpers::{PASSWORD, spawn_app, spawn_pipeline, wait_for_projection};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn my_history_is_newest_first_paged_and_without_password_hashes() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "one"}))
        .await;
    let changed = app
        .put(
            "/v1/me/password",
            &user.token,
            json!({"current_password": PASSWORD, "new_password": "another horse battery staple"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);

    let page = app.get("/v1/me/events?limit=2", Some(&user.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let types: Vec<&str> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // Sign-up records AccountRegistered and SessionStarted; the password change ends no other
    // session here, so: registered, session, profile, password.
    assert_eq!(types, ["PasswordChanged", "ProfileUpdated"]);
    let password_changed = &page.body["events"][0];
    assert!(password_changed["data"].get("password").is_none());
    assert!(password_changed["data"]["at"].is_string());
    assert_eq!(password_changed["actor"], user.id.to_string());
    assert!(password_changed["request_id"].is_string());
    let next = page.body["next_before"].as_i64().expect("another page");

    let rest = app
        .get(
            &format!("/v1/me/events?limit=2&before={next}"),
            Some(&user.token),
        )
        .await;
    let types: Vec<&str> = rest.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["SessionStarted", "AccountRegistered"]);
    assert!(rest.body.get("next_before").is_none(), "{}", rest.body);
    assert!(rest.body["events"][1]["data"].get("password").is_none());

    let sessions_only = app
        .get("/v1/me/events?types=SessionStarted", Some(&user.token))
        .await;
    assert_eq!(sessions_only.body["events"].as_array().unwrap().len(), 1);

    app.get("/v1/me/events", None)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/me/events?limit=101", Some(&user.token))
        .await
        .assert_problem(400, "invalid_request");
}

/// Where a test app keeps its database and its key file.
#[derive(Clone)]
struct AppPaths {
    database_url: String,
    data_dir: std::path::PathBuf,
}

impl AppPaths {
    fn of(app: &crate::helpers::TestApp) -> Self {
        Self {
            database_url: app.config.database_url.clone(),
            data_dir: app.config.data_dir.clone(),
        }
    }
}

/// Runs the `accounts` binary; returns its standard output.
fn accounts(args: &[&str], app: &AppPaths) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_accounts"))
        .args(args)
        .env("ACCOUNTS_DATABASE_URL", &app.database_url)
        // The service's key file, which opens the log's personal data.
        .env("ACCOUNTS_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run accounts");
    assert!(
        output.status.success(),
        "accounts {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn the_log_exports_as_ndjson_envelopes_after_a_position_and_by_type() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let middle = app
        .patch("/v1/me", &user.token, json!({"bio": "first"}))
        .await
        .position();
    app.patch("/v1/me", &user.token, json!({"bio": "second"}))
        .await;
    let url = AppPaths::of(&app);

    let all: Vec<Value> = tokio::task::spawn_blocking({
        let url = url.clone();
        move || accounts(&["events", "export"], &url)
    })
    .await
    .unwrap()
    .lines()
    .map(|line| serde_json::from_str(line).expect("one JSON envelope per line"))
    .collect();
    assert_eq!(all.len() as i64, app.count_events(None).await);
    let first = &all[0];
    assert_eq!(first["type"], "AccountRegistered");
    assert_eq!(first["stream_type"], "account");
    assert_eq!(first["stream_id"], user.id.to_string());
    assert_eq!(first["version"], 1);
    for field in [
        "id",
        "schema_version",
        "position",
        "recorded_at",
        "data",
        "metadata",
    ] {
        assert!(!first[field].is_null(), "{field}");
    }

    let after = tokio::task::spawn_blocking({
        let url = url.clone();
        let middle = middle.to_string();
        move || accounts(&["events", "export", "--after", &middle], &url)
    })
    .await
    .unwrap();
    let bios: Vec<Value> = after
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["data"]["changes"]["bio"].clone())
        .collect();
    assert_eq!(bios, [json!("second")]);

    let typed = tokio::task::spawn_blocking(move || {
        accounts(
            &[
                "events",
                "export",
                "--types",
                "SessionStarted,AccountRegistered",
            ],
            &url,
        )
    })
    .await
    .unwrap();
    assert_eq!(typed.lines().count(), 2);
}

#[tokio::test]
async fn accounts_rebuild_swaps_in_identical_tables() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let last = app
        .patch("/v1/me", &user.token, json!({"display_name": "Rebuilt"}))
        .await
        .position();
    wait_for_projection(&app, "users", last).await;
    let before: Vec<String> = app
        .db
        .query(
            "SELECT to_jsonb(u)::text FROM projection_users.users u ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let url = AppPaths::of(&app);
    let printed = tokio::task::spawn_blocking(move || accounts(&["rebuild", "users"], &url))
        .await
        .unwrap();
    assert!(printed.starts_with("rebuilt users: "), "{printed}");
    let after: Vec<String> = app
        .db
        .query(
            "SELECT to_jsonb(u)::text FROM projection_users.users u ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(after, before);
    let profile = app
        .get(&format!("/v1/users/{}?min_position={last}", user.id), None)
        .await;
    assert_eq!(profile.body["display_name"], "Rebuilt");
}

#[tokio::test]
async fn the_relay_and_projectors_can_run_in_a_process_of_their_own() {
    // This process serves the API only; `accounts serve --relay --projector` does the rest.
    let app = spawn_app().await;
    // The API's data folder, with its key file: the workers open the log's personal data.
    let data_dir = app.config.data_dir.clone();
    let mut workers = tokio::process::Command::new(env!("CARGO_BIN_EXE_accounts"))
        .args(["serve", "--relay", "--projector"])
        .env("ACCOUNTS_DATABASE_URL", &app.config.database_url)
        .env("ACCOUNTS_NATS_STREAM", &app.config.nats_stream)
        .env(
            "ACCOUNTS_NATS_SUBJECT_PREFIX",
            &app.config.nats_subject_prefix,
        )
        .env("ACCOUNTS_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("accounts serve --relay --projector");

    let user = app.new_user().await;
    let last = app
        .patch("/v1/me", &user.token, json!({"display_name": "Elsewhere"}))
        .await
        .position();
    wait_for_projection(&app, "users", last).await;
    let profile = app
        .get(&format!("/v1/users/{}?min_position={last}", user.id), None)
        .await;
    assert_eq!(profile.body["display_name"], "Elsewhere");

    workers.kill().await.expect("stop the workers");
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let _ = async_nats::jetstream::new(nats)
        .delete_stream(&app.config.nats_stream)
        .await;
    let _ = std::fs::remove_dir_all(data_dir);
}
