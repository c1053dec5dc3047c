//! Crashes on purpose: the service runs as a child process, is stopped at a fault point with
//! `SIGKILL`, and is started again on the same database, stream and key. What a client may
//! assume after a crash: a retry with the same `Idempotency-Key` gets the committed command's
//! answer, or the command runs.

use crate::helpers::{
    PASSWORD, ProcessSetup, ServedProcess, SmsGateway, SmtpSink, code_in, connect,
};
use serde_json::{Value, json};

/// An answer from the child process.
struct Reply {
    status: u16,
    replayed: bool,
    body: Value,
}

async fn send(
    process: &ServedProcess,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", process.address))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = response.text().await.expect("a body");
    Reply {
        status,
        replayed,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn post(process: &ServedProcess, path: &str, key: Option<&str>, body: Value) -> Reply {
    send(process, reqwest::Method::POST, path, None, key, body).await
}

/// Sends a request the process will never answer (it stops at a fault point), in the
/// background.
fn send_unanswered(process: &ServedProcess, path: &str, key: Option<&str>, body: Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", process.address))
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    tokio::spawn(async move {
        let _ = request.send().await;
    });
}

async fn sign_up(process: &ServedProcess, email: &str) -> Reply {
    let signed_up = post(
        process,
        "/v1/accounts",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    signed_up
}

async fn sign_in(process: &ServedProcess, email: &str, password: &str) -> Reply {
    post(
        process,
        "/v1/sessions",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

async fn count_events(setup: &ProcessSetup, event_type: &str) -> i64 {
    connect(&setup.database_url)
        .await
        .query_one(
            "SELECT count(*) FROM events WHERE event_type = $1",
            &[&event_type],
        )
        .await
        .expect("count")
        .get(0)
}

/// Signs up under `key` with a process that stops at the fault point `point`, kills it there,
/// and starts the service again.
async fn sign_up_killed_at(
    setup: &ProcessSetup,
    point: &str,
    key: &str,
    body: &Value,
) -> ServedProcess {
    let process = ServedProcess::start(setup, &format!("{point}=1*return")).await;
    send_unanswered(&process, "/v1/accounts", Some(key), body.clone());
    process.wait_for_fault_point(point).await;
    process.kill().await;
    ServedProcess::start(setup, "").await
}

#[tokio::test]
async fn a_command_killed_before_it_commits_leaves_its_key_free_for_the_retry() {
    let setup = ProcessSetup::new().await;
    let sign_up = json!({"email": "crash-before@example.com", "password": PASSWORD});
    let process =
        sign_up_killed_at(&setup, "idempotency.before_commit", "sign-up-1", &sign_up).await;
    assert_eq!(count_events(&setup, "AccountRegistered").await, 0);
    let retry = post(&process, "/v1/accounts", Some("sign-up-1"), sign_up).await;
    assert_eq!(retry.status, 201, "the command runs: {}", retry.body);
    assert!(!retry.replayed);
    assert_eq!(count_events(&setup, "AccountRegistered").await, 1);
}

#[tokio::test]
async fn a_command_killed_after_it_commits_replays_its_answer_to_the_retry() {
    let setup = ProcessSetup::new().await;
    let sign_up = json!({"email": "crash-after@example.com", "password": PASSWORD});
    let process =
        sign_up_killed_at(&setup, "idempotency.after_commit", "sign-up-1", &sign_up).await;
    let retry = post(&process, "/v1/accounts", Some("sign-up-1"), sign_up.clone()).await;
    assert_eq!(retry.status, 201, "the committed answer: {}", retry.body);
    assert!(retry.replayed);
    assert_eq!(count_events(&setup, "AccountRegistered").await, 1);
    let token = retry.body["session"]["token"].as_str().expect("a token");
    let me = send(
        &process,
        reqwest::Method::GET,
        "/v1/me",
        Some(token),
        None,
        Value::Null,
    )
    .await;
    assert_eq!(me.status, 200, "the replayed session is the committed one");
    assert_eq!(me.body["email"], "crash-after@example.com");
    // Without the key, the same request is a new one, and the address is taken.
    let again = post(&process, "/v1/accounts", None, sign_up).await;
    assert_eq!(again.status, 409, "{}", again.body);
}

#[tokio::test]
async fn a_password_reset_killed_after_spending_its_code_changes_nothing() {
    let smtp = SmtpSink::start().await;
    let mut setup = ProcessSetup::new().await;
    setup.smtp_url = Some(smtp.url());
    let process = ServedProcess::start(&setup, "proven.between_proof_and_change=1*return").await;
    let email = "crash-reset@example.com";
    sign_up(&process, email).await;
    let asked = post(
        &process,
        "/v1/password-reset",
        None,
        json!({"email": email}),
    )
    .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let code = code_in(
        &smtp
            .wait_for_mail(email, "Your code to reset your password")
            .await,
    );
    let new_password = "a brand new horse battery";
    let confirm = json!({"email": email, "code": code, "new_password": new_password});
    send_unanswered(
        &process,
        "/v1/password-reset/confirm",
        None,
        confirm.clone(),
    );
    process
        .wait_for_fault_point("proven.between_proof_and_change")
        .await;
    process.kill().await;

    let process = ServedProcess::start(&setup, "").await;
    assert_eq!(
        count_events(&setup, "CodeUsed").await,
        0,
        "the code is unspent"
    );
    assert_eq!(count_events(&setup, "PasswordChanged").await, 0);
    let old = sign_in(&process, email, PASSWORD).await;
    assert_eq!(
        old.status, 201,
        "the old password still works: {}",
        old.body
    );
    let retry = post(&process, "/v1/password-reset/confirm", None, confirm).await;
    assert_eq!(retry.status, 204, "the retry resets: {}", retry.body);
    assert_eq!(count_events(&setup, "CodeUsed").await, 1);
    let new = sign_in(&process, email, new_password).await;
    assert_eq!(new.status, 201, "{}", new.body);
}

#[tokio::test]
async fn a_mail_held_by_a_worker_that_died_is_sent_after_the_restart_once() {
    let smtp = SmtpSink::reserve();
    let mut setup = ProcessSetup::new().await;
    setup.smtp_url = Some(smtp.url());
    setup.args = vec!["--delivery-lease-secs".to_owned(), "2".to_owned()];
    let process = ServedProcess::start(&setup, "mail.claimed=1*return").await;
    let emails: Vec<String> = (0..10)
        .map(|i| format!("crash-mail-{i}@example.com"))
        .collect();
    for email in &emails {
        sign_up(&process, email).await;
    }
    // One mail is held by a worker that stops there; SMTP is down for the nine others.
    process.wait_for_fault_point("mail.claimed").await;
    let db = connect(&setup.database_url).await;
    let deliveries = |status: &'static str| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT count(*) FROM message_deliveries WHERE status = $1",
                &[&status],
            )
            .await
            .expect("count")
            .get::<_, i64>(0)
        }
    };
    process
        .wait_until("the nine others to fail for now", || async {
            deliveries("retrying").await == 9
        })
        .await;
    process.kill().await;

    let process = ServedProcess::start(&setup, "").await;
    smtp.listen().await;
    process
        .wait_until("every mail to be sent", || async {
            deliveries("sent").await == 10
        })
        .await;
    for email in &emails {
        smtp.wait_for_mail(email, "Your code to verify your email address")
            .await;
    }
    assert_eq!(smtp.mails().len(), 10, "each mail once");
}

#[tokio::test]
async fn a_command_in_flight_when_the_database_drops_its_connections_is_503_and_its_key_free() {
    let setup = ProcessSetup::new().await;
    let process = ServedProcess::start(&setup, "idempotency.before_commit=1*return(1500)").await;
    let signed_up = sign_up(&process, "crash-db@example.com").await;
    let token = signed_up.body["session"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let patch = |key: &'static str| {
        let url = format!("{}/v1/me", process.address);
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .patch(url)
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&json!({"bio": "kept"}))
                .send()
                .await
                .expect("an answer")
        }
    };
    let in_flight = tokio::spawn(patch("bio-1"));
    process
        .wait_for_fault_point("idempotency.before_commit")
        .await;
    // What a fast shutdown does to every session: 57P01, connection closed.
    let db = connect(&crate::helpers::server_url()).await;
    let database = setup
        .database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        &[&database],
    )
    .await
    .expect("terminate");
    let answer = in_flight.await.expect("the request");
    assert_eq!(answer.status(), 503);
    assert!(answer.headers().contains_key("retry-after"));
    assert_eq!(count_events(&setup, "ProfileUpdated").await, 0);

    let retry = patch("bio-1").await;
    assert_eq!(retry.status(), 200, "the key is free: the command runs");
    assert!(!retry.headers().contains_key("idempotent-replayed"));
    assert_eq!(count_events(&setup, "ProfileUpdated").await, 1);
}

#[tokio::test]
async fn a_text_held_by_a_worker_that_died_is_sent_after_the_restart_once() {
    let gateway = SmsGateway::start().await;
    let mut setup = ProcessSetup::new().await;
    setup.args = vec![
        "--delivery-lease-secs".to_owned(),
        "2".to_owned(),
        "--sms-webhook-url".to_owned(),
        gateway.url.clone(),
    ];
    let process = ServedProcess::start(&setup, "mail.claimed=1*return").await;
    let phone = format!("+86139{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000);
    let asked = post(
        &process,
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
    )
    .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    process.wait_for_fault_point("mail.claimed").await;
    process.kill().await;
    assert!(gateway.texts().is_empty());

    let _process = ServedProcess::start(&setup, "").await;
    let (code, _) = gateway.wait_for_code(&phone, "sign_in").await;
    assert_eq!(code.len(), 6);
    assert_eq!(gateway.texts().len(), 1, "each text once");
}
