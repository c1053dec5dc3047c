//! No message holds up the others: one that fails for now is retried on its own, one that can
//! never be sent is recorded as failed at once and never retried.

use crate::helpers::{SmtpSink, TestApp, spawn_with_mail};
use serde_json::json;
use std::time::{Duration, Instant};

const VERIFY: &str = "Your code to verify your email address";

/// Waits until the delivery of the mail to `to` has `status`, and returns its attempts.
async fn wait_for_delivery(app: &TestApp, to: &str, status: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The target is sealed in the log: the deliveries' events are read as the worker does.
        let rows = app
            .db
            .query(
                "SELECT event_id, status, attempts FROM message_deliveries",
                &[],
            )
            .await
            .expect("deliveries");
        let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.get(0)).collect();
        let events = accounts::store::event_log::read_by_ids(&app.keys, &app.db, &ids)
            .await
            .expect("events");
        let to_target = events
            .iter()
            .find(|event| event.data["target"] == to)
            .map(|event| event.event_id);
        let row = rows
            .iter()
            .find(|row| Some(row.get::<_, uuid::Uuid>(0)) == to_target);
        if let Some(row) = row.filter(|row| row.get::<_, String>(1) == status) {
            return row.get(2);
        }
        assert!(Instant::now() < deadline, "no {status} delivery to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_mail_that_fails_for_now_does_not_hold_up_ten_good_ones() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let stuck = "stuck@example.com";
    smtp.refuse(stuck, 451);
    assert_eq!(app.sign_up_email(stuck).await.status, 201);
    // It is being retried before the others are even asked for.
    wait_for_delivery(&app, stuck, "retrying").await;

    let started = Instant::now();
    let users = futures::future::join_all((0..10).map(|_| app.new_user())).await;
    for user in &users {
        smtp.wait_for_mail(&user.email, VERIFY).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ten mails took {:?} behind a failing one",
        started.elapsed()
    );
    // The failing one is still being retried, on its own, and goes out once the server takes it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.tries(stuck) < 2 {
        assert!(
            Instant::now() < deadline,
            "the failing mail was not retried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    smtp.refuse(stuck, 250);
    smtp.wait_for_mail(stuck, VERIFY).await;
    assert!(wait_for_delivery(&app, stuck, "sent").await >= 2);
    assert_eq!(
        smtp.mails()
            .iter()
            .filter(|mail| mail.contains(&format!("To: {stuck}")))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_mail_the_server_refuses_for_good_is_failed_at_once_and_never_retried() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let refused = "no-such-mailbox@example.com";
    smtp.refuse(refused, 550);
    assert_eq!(app.sign_up_email(refused).await.status, 201);
    assert_eq!(wait_for_delivery(&app, refused, "failed").await, 1);
    // Mail goes on flowing, and the refused one was tried once.
    let user = app.new_user().await;
    smtp.wait_for_mail(&user.email, VERIFY).await;
    assert_eq!(smtp.tries(refused), 1);
}

/// Appends a `CodeIssued` event as another deployment or an older version might have written
/// it: the worker must fail it for good without holding anything up.
async fn append_foreign_code(app: &TestApp, target: &str, sealed_code: &str) {
    let data = json!({
        "channel": "email",
        "target": target,
        "purpose": "sign_in",
        "code_hash": "0".repeat(64),
        "sealed_code": sealed_code,
        "deliver": true,
        "locale": "en",
        "expires_at": chrono::Utc::now() + chrono::Duration::minutes(10),
        "at": chrono::Utc::now(),
    });
    app.db
        .execute(
            "INSERT INTO events (stream_type, stream_id, version, event_id, event_type,
                                 schema_version, data)
             VALUES ('code', gen_random_uuid(), 1, gen_random_uuid(), 'CodeIssued', 1, $1)",
            &[&data],
        )
        .await
        .expect("append");
}

#[tokio::test]
async fn messages_that_can_never_be_sent_are_failed_once_and_the_rest_go_out() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    // Sealed with another deployment's key, and an address the mailer refuses.
    append_foreign_code(&app, "foreign@example.com", "v1.c29tZXRoaW5nIGVsc2U").await;
    append_foreign_code(&app, "\"x@attacker.example.net\"@example.org", "v1.AAAA").await;
    let user = app.new_user().await;
    smtp.wait_for_mail(&user.email, VERIFY).await;
    assert_eq!(
        wait_for_delivery(&app, "foreign@example.com", "failed").await,
        1
    );
    assert_eq!(
        wait_for_delivery(&app, "\"x@attacker.example.net\"@example.org", "failed").await,
        1
    );
    assert_eq!(smtp.tries("foreign@example.com"), 0);
    let error = |target: &'static str| {
        let db = &app.db;
        async move {
            db.query_one(
                "SELECT d.last_error FROM message_deliveries d
                 JOIN events e ON e.event_id = d.event_id WHERE e.data->>'target' = $1",
                &[&target],
            )
            .await
            .expect("delivery")
            .get::<_, String>(0)
        }
    };
    let foreign = error("foreign@example.com").await;
    assert!(
        foreign.contains("does not open with this service's key"),
        "{foreign}"
    );
    let quoted = error("\"x@attacker.example.net\"@example.org").await;
    assert!(
        quoted.contains("not an address this service sends to"),
        "{quoted}"
    );
}

#[tokio::test]
async fn a_server_slower_than_the_lease_gets_each_mail_once() {
    let smtp = SmtpSink::start().await;
    // Answers the end of each mail after three leases.
    smtp.answer_after(Duration::from_secs(3));
    let url = smtp.url();
    let app = crate::helpers::spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.smtp_url = Some(url);
        config.delivery_lease_secs = 1;
    })
    .await;
    let user = app.new_user().await;
    wait_for_delivery(&app, &user.email, "sent").await;
    assert_eq!(
        smtp.mails().len(),
        1,
        "the claim was kept while the server was slow"
    );
}

/// A worker whose claim was recorded but whose answer was lost (the connection broke at the
/// commit) takes its own claim again at once; another worker waits for the lease.
#[tokio::test]
async fn a_workers_own_claim_whose_answer_was_lost_is_taken_again_at_once() {
    use accounts::store::deliveries::{Claim, claim};
    let app = crate::helpers::spawn_app().await;
    let (event, worker, other) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let lease = Duration::from_secs(60);
    let first = claim(&app.pool, event, "email", lease, worker)
        .await
        .expect("claim");
    assert_eq!(first, Claim::Taken { attempts: 0 });
    let by_another = claim(&app.pool, event, "email", lease, other)
        .await
        .expect("claim");
    assert!(matches!(by_another, Claim::HeldUntil(_)), "{by_another:?}");
    let again = claim(&app.pool, event, "email", lease, worker)
        .await
        .expect("claim");
    assert_eq!(again, Claim::Taken { attempts: 0 });
}
