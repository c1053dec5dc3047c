//! One-time codes end to end: request, the mail a real SMTP server receives, check.

use crate::helpers::{Answer, SmtpSink, code_in, spawn_app, spawn_behind_proxy, spawn_with_mail};
use serde_json::json;

fn code_request(to: &str, purpose: &str) -> serde_json::Value {
    json!({"channel": "email", "to": to, "purpose": purpose})
}

fn check_request(to: &str, purpose: &str, code: &str) -> serde_json::Value {
    json!({"channel": "email", "to": to, "purpose": purpose, "code": code})
}

#[tokio::test]
async fn a_code_arrives_by_mail_and_checks_without_being_spent() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let sent = app
        .post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_eq!(sent.body["expires_in"], 600);

    let mail = smtp
        .wait_for_mail(&user.email, "Your code to sign in")
        .await;
    let code = code_in(&mail);

    for _ in 0..2 {
        let checked = app
            .post(
                "/v1/codes/check",
                None,
                check_request(&user.email, "sign_in", &code),
            )
            .await;
        assert_eq!(checked.status, 200, "{}", checked.body);
        assert_eq!(checked.body["valid"], true);
    }
    let wrong = if code == "000000" { "000001" } else { "000000" };
    app.post(
        "/v1/codes/check",
        None,
        check_request(&user.email, "sign_in", wrong),
    )
    .await
    .assert_problem(400, "code_invalid");
    // Another purpose has codes of its own.
    app.post(
        "/v1/codes/check",
        None,
        check_request(&user.email, "delete_account", &code),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn five_wrong_tries_kill_a_code() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    app.post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    let code = code_in(
        &smtp
            .wait_for_mail(&user.email, "Your code to sign in")
            .await,
    );
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        app.post(
            "/v1/codes/check",
            None,
            check_request(&user.email, "sign_in", wrong),
        )
        .await
        .assert_problem(400, "code_invalid");
    }
    app.post(
        "/v1/codes/check",
        None,
        check_request(&user.email, "sign_in", &code),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes_and_a_new_one_may_be_asked_for() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    app.post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    let code = code_in(
        &smtp
            .wait_for_mail(&user.email, "Your code to sign in")
            .await,
    );

    app.clock.advance(chrono::Duration::minutes(10));
    app.clock.advance(chrono::Duration::seconds(1));
    app.post(
        "/v1/codes/check",
        None,
        check_request(&user.email, "sign_in", &code),
    )
    .await
    .assert_problem(400, "code_expired");
    app.post(
        "/v1/sessions",
        None,
        json!({"email": user.email, "code": code}),
    )
    .await
    .assert_problem(400, "code_expired");

    // The minute between codes has long passed: a new code comes and works.
    let again = app
        .post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    assert_eq!(again.status, 202, "{}", again.body);
    let fresh = code_in(
        &smtp
            .wait_for_mails(&user.email, "Your code to sign in", 2)
            .await[1],
    );
    let signed_in = app
        .post(
            "/v1/sessions",
            None,
            json!({"email": user.email, "code": fresh}),
        )
        .await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
}

#[tokio::test]
async fn unknown_targets_get_the_same_answer_and_no_mail() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let answer = app
        .post("/v1/codes", None, code_request(&unknown, "sign_in"))
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.body["expires_in"], 600);
    // Free addresses get sign-up codes; registered ones do not.
    let user = app.new_user().await;
    let taken = app
        .post("/v1/codes", None, code_request(&user.email, "sign_up"))
        .await;
    assert_eq!(taken.status, 202);
    let fresh = format!("fresh-{}@example.com", uuid::Uuid::new_v4().simple());
    app.post("/v1/codes", None, code_request(&fresh, "sign_up"))
        .await;
    smtp.wait_for_mail(&fresh, "Your code to sign up").await;
    // One more mail behind the others: the worker takes events in order, so by the time it
    // arrives every earlier one was decided.
    app.post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    smtp.wait_for_mail(&user.email, "Your code to sign in")
        .await;
    let mails = smtp.mails();
    assert!(mails.iter().all(|mail| !mail.contains(&unknown)));
    assert!(
        !mails
            .iter()
            .any(|mail| mail.contains(&format!("To: {}", user.email))
                && mail.contains("Subject: Your code to sign up"))
    );
}

#[tokio::test]
async fn a_second_code_within_a_minute_is_429_with_retry_after() {
    let app = spawn_app().await;
    let to = format!("someone-{}@example.com", uuid::Uuid::new_v4().simple());
    let first = app
        .post("/v1/codes", None, code_request(&to, "sign_up"))
        .await;
    assert_eq!(first.status, 202);
    let second = app
        .post("/v1/codes", None, code_request(&to, "sign_up"))
        .await;
    second.assert_problem(429, "too_many_requests");
    let retry_after = second.retry_after();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another purpose is another limit.
    let other = app
        .post("/v1/codes", None, code_request(&to, "sign_in"))
        .await;
    assert_eq!(other.status, 202);
}

#[tokio::test]
async fn one_client_address_gets_thirty_codes_an_hour() {
    let app = spawn_behind_proxy(|_| {}).await;
    let ask_from = async |client: &str, to: &str| {
        app.post_from(client, "/v1/codes", code_request(to, "sign_up"))
            .await
    };
    let someone = || format!("someone-{}@example.com", uuid::Uuid::new_v4().simple());
    for _ in 0..30 {
        let sent = ask_from("203.0.113.7", &someone()).await;
        assert_eq!(sent.status, 202, "{}", sent.body);
    }
    let refused = ask_from("203.0.113.7", &someone()).await;
    refused.assert_problem(429, "too_many_requests");
    let retry_after = refused.retry_after();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    // Another client is not held back, and an hour later the first may ask again.
    assert_eq!(ask_from("203.0.113.8", &someone()).await.status, 202);
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(ask_from("203.0.113.7", &someone()).await.status, 202);
}

/// 32 code requests at once from one client address, each to another target.
async fn codes_at_once_from_one_address(app: &crate::helpers::TestApp) -> Vec<Answer> {
    futures::future::join_all((0..32).map(|_| {
        let to = format!("someone-{}@example.com", uuid::Uuid::new_v4().simple());
        async move {
            app.post_from("203.0.113.9", "/v1/codes", code_request(&to, "sign_up"))
                .await
        }
    }))
    .await
}

#[tokio::test]
async fn the_hourly_codes_of_one_address_are_a_setting_held_under_parallel_requests() {
    let app = spawn_behind_proxy(|config| config.codes_per_address = 5).await;
    let answers = codes_at_once_from_one_address(&app).await;
    let sent = answers.iter().filter(|answer| answer.status == 202).count();
    assert_eq!(sent, 5);
    for refused in answers.iter().filter(|answer| answer.status != 202) {
        refused.assert_problem(429, "too_many_requests");
    }

    // 0 turns the limit off.
    let app = spawn_behind_proxy(|config| config.codes_per_address = 0).await;
    let answers = codes_at_once_from_one_address(&app).await;
    assert!(
        answers.iter().all(|answer| answer.status == 202),
        "{:?}",
        answers
            .iter()
            .map(|answer| answer.status)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn malformed_targets_are_refused_with_the_field() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "email", "to": "not-an-email", "purpose": "sign_up"}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(answer.field_errors()[0].0, "to");
    let answer = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": "12", "purpose": "sign_in"}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "pigeon", "to": "a@b.cn", "purpose": "sign_in"}),
    )
    .await
    .assert_problem(400, "invalid_body");
}

#[tokio::test]
async fn smtp_down_then_up_sends_exactly_one_mail() {
    let smtp = SmtpSink::reserve();
    let app = spawn_with_mail(&smtp).await;
    let first = format!("first-{}@example.com", uuid::Uuid::new_v4().simple());
    app.post("/v1/codes", None, code_request(&first, "sign_up"))
        .await;
    // Wait until the worker has tried and failed at least once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let attempts: Option<i32> = app
            .db
            .query_opt("SELECT attempts FROM message_deliveries", &[])
            .await
            .unwrap()
            .map(|row| row.get(0));
        if attempts.is_some_and(|n| n >= 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never tried"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    smtp.listen().await;
    smtp.wait_for_mail(&first, "Your code to sign up").await;
    // A later mail goes through after it; the first was sent once.
    let second = format!("second-{}@example.com", uuid::Uuid::new_v4().simple());
    app.post("/v1/codes", None, code_request(&second, "sign_up"))
        .await;
    smtp.wait_for_mail(&second, "Your code to sign up").await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails.iter().filter(|m| m.contains(&first)).count(), 1);
    // The worker records the delivery just after the server took the mail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let statuses: Vec<String> = app
            .db
            .query(
                "SELECT status FROM message_deliveries ORDER BY event_id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        if statuses == ["sent", "sent"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{statuses:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Log lines written by the service during a test.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_sent_code_is_nowhere_in_clear_but_the_mail() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    app.post("/v1/codes", None, code_request(&user.email, "sign_in"))
        .await;
    let code = code_in(
        &smtp
            .wait_for_mail(&user.email, "Your code to sign in")
            .await,
    );
    let checked = app
        .post(
            "/v1/codes/check",
            None,
            check_request(&user.email, "sign_in", &code),
        )
        .await;
    assert_eq!(checked.status, 200);
    // Everything the service logged, before this test's own queries (which name the code).
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();

    let in_events: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM events WHERE data::text LIKE $1 OR metadata::text LIKE $1",
            &[&format!("%{code}%")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_events, 0, "the code is in the log");

    let nats = async_nats::connect(&app.config.nats_url).await.unwrap();
    let mut stream = async_nats::jetstream::new(nats)
        .get_stream(&app.config.nats_stream)
        .await
        .unwrap();
    let published = stream.info().await.unwrap().state.messages;
    assert!(published >= 3, "the relay published the events");
    for sequence in 1..=published {
        let message = stream.get_raw_message(sequence).await.unwrap();
        assert!(
            !String::from_utf8_lossy(&message.payload).contains(&code),
            "the code is in NATS message {sequence}"
        );
    }

    assert!(logged.len() > 1000, "logs were captured");
    let leaks: Vec<&str> = logged.lines().filter(|line| line.contains(&code)).collect();
    assert!(leaks.is_empty(), "the code is in the logs: {leaks:#?}");
}
