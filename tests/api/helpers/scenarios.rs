//! Steps many tests share: owners, verified addresses, the command line, forms, codes.

use super::*;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// Makes `user` an owner with `accounts admin create`, as an owner who proved the address
/// first: the CLI promotes no account whose address was never proven.
pub async fn make_owner(app: &TestApp, user: &User) {
    given_email_verified(app, user).await;
    let output = admin_create(app, &user.email, None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("made owner"));
}

/// Records that `user` proved the address, as following its mailed link would have (for tests
/// whose subject is not the verification).
pub async fn given_email_verified(app: &TestApp, user: &User) {
    let version: i64 = app
        .db
        .query_one(
            "SELECT max(version) FROM events WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("version")
        .get(0);
    let verified = accounts::store::event_log::NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "EmailVerified",
        schema_version: 1,
        data: json!({"email": user.email, "at": chrono::Utc::now()}),
    };
    app.append(
        &app.db,
        "account",
        user.id,
        version,
        &[verified],
        &json!({"request_id": "test"}),
    )
    .await
    .expect("append");
}

/// Runs `accounts admin create --email <email> [--password <password>]` on the app's database.
pub async fn admin_create(
    app: &TestApp,
    email: &str,
    password: Option<&str>,
) -> std::process::Output {
    let url = app.config.database_url.clone();
    let data_dir = app.config.data_dir.clone();
    let mut args = vec![
        "admin".to_owned(),
        "create".into(),
        "--email".into(),
        email.into(),
    ];
    if let Some(password) = password {
        args.extend(["--password".to_owned(), password.to_owned()]);
    }
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_accounts"))
            .args(&args)
            .env("ACCOUNTS_DATABASE_URL", url)
            .env("ACCOUNTS_DATA_DIR", data_dir)
            .env("ACCOUNTS_NATS_URL", "nats://127.0.0.1:4222")
            .env("RUST_LOG", "warn")
            .output()
            .expect("accounts admin create")
    })
    .await
    .unwrap()
}

/// Posts an HTML form, as a browser on the link pages does; the status and the page.
pub async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .form(fields)
        .send()
        .await
        .expect("form post");
    (response.status(), response.text().await.expect("page"))
}

/// Asks for a password reset of `user` and returns the mail with its code and link.
pub async fn reset_code(app: &TestApp, smtp: &SmtpSink, user: &User) -> String {
    let asked = app
        .post("/v1/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    smtp.wait_for_mail(&user.email, "Your code to reset your password")
        .await
}

/// Asks `POST /v1/codes` for a mailed code and returns it from the mail about `subject`.
pub async fn mailed_code(
    app: &TestApp,
    smtp: &SmtpSink,
    to: &str,
    purpose: &str,
    subject: &str,
) -> String {
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "email", "to": to, "purpose": purpose}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    code_in(&smtp.wait_for_mail(to, subject).await)
}
