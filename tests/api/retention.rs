//! Data kept for a time only: one-time codes' targets and requesters (sealed with code-stream
//! keys that seal for a day and are destroyed after eight), the keyed pseudonyms that name code
//! streams and throttle rows, and the code-stream keys of a deleted account's addresses, which
//! its erasure destroys without touching the next holder's.

use crate::helpers::{
    SmtpSink, TestApp, code_in, make_owner, spawn_app, spawn_app_with, spawn_with_mail,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

fn code_request(to: &str, purpose: &str) -> Value {
    json!({"channel": "email", "to": to, "purpose": purpose})
}

/// The code streams of the log, and the code events of each as the service reads them.
async fn code_streams(app: &TestApp) -> Vec<Uuid> {
    app.db
        .query(
            "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'code' ORDER BY 1",
            &[],
        )
        .await
        .expect("code streams")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The code stream whose codes went to `target`, found by opening each (the id alone does not
/// tell).
async fn stream_of(app: &TestApp, target: &str, purpose: &str) -> Uuid {
    for stream in code_streams(app).await {
        let events = app.stream_events(stream).await;
        if events
            .iter()
            .any(|event| event.data["target"] == target && event.data["purpose"] == purpose)
        {
            return stream;
        }
    }
    panic!("no code stream of {target} for {purpose}");
}

/// The data key each `CodeIssued` of `stream` was sealed with, in order.
async fn issued_keys(app: &TestApp, stream: Uuid) -> Vec<String> {
    app.db
        .query(
            "SELECT data->'personal'->>'key_id' FROM events
             WHERE stream_id = $1 AND event_type = 'CodeIssued' ORDER BY version",
            &[&stream],
        )
        .await
        .expect("events")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn code_streams_and_limits_are_named_by_a_keyed_pseudonym_of_the_address() {
    // Two services with secret keys of their own: the same request names different streams
    // and limit rows, so neither id can be found, nor checked, from the address alone.
    let (one, other) = tokio::join!(spawn_app(), spawn_app());
    let target = "pseudonym@example.com";
    let mut seen = Vec::new();
    for app in [&one, &other] {
        let sent = app
            .post_from("203.0.113.7", "/v1/codes", code_request(target, "sign_up"))
            .await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
        let stream = stream_of(app, target, "sign_up").await;
        assert_eq!(
            stream.get_version_num(),
            8,
            "a keyed (v8) id, not a v5 name"
        );
        let limits: BTreeSet<Vec<u8>> = app
            .db
            .query("SELECT key FROM rate_limits", &[])
            .await
            .expect("limits")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!limits.is_empty(), "the address's codes are counted");
        for key in &limits {
            assert!(
                !String::from_utf8_lossy(key).contains("203.0.113.7"),
                "a limit row names the client address"
            );
        }
        seen.push((stream, limits));
    }
    assert_ne!(seen[0].0, seen[1].0);
    assert!(seen[0].1.is_disjoint(&seen[1].1));

    // Failed sign-ins of an unknown address are counted under a keyed pseudonym too.
    let mut throttled = Vec::new();
    for app in [&one, &other] {
        app.sign_in("nobody-here@example.com", "wrong password 1")
            .await
            .assert_problem(401, "invalid_credentials");
        let keys: BTreeSet<Vec<u8>> = app
            .db
            .query("SELECT identifier_hash FROM sign_in_throttle", &[])
            .await
            .expect("throttle")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!keys.is_empty());
        throttled.push(keys);
    }
    assert!(throttled[0].is_disjoint(&throttled[1]));
}

#[tokio::test]
async fn a_codes_target_and_requester_are_kept_a_week_and_then_erased_and_codes_still_work() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    // The client address is this test's (no proxy is trusted here): 127.0.0.1.
    let ask = || {
        let app = &app;
        let email = user.email.clone();
        async move {
            let sent = app
                .post("/v1/codes", None, code_request(&email, "sign_in"))
                .await;
            assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
        }
    };
    // Each code's mail goes out before the clock moves past the code's life (the mail worker
    // sends no dead code).
    let subject = "Your code to sign in";
    ask().await;
    smtp.wait_for_mails(&user.email, subject, 1).await;
    let stream = stream_of(&app, &user.email, "sign_in").await;
    // Two days on, the stream seals with a new key; the first still opens what it sealed.
    app.clock.advance(chrono::Duration::days(2));
    ask().await;
    let earlier = smtp.wait_for_mails(&user.email, subject, 2).await;
    let keys = issued_keys(&app, stream).await;
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "a code stream's key seals for a day");
    let events = app.stream_events(stream).await;
    assert!(
        events
            .iter()
            .all(|event| event.data["target"] == user.email.as_str())
    );
    assert_eq!(events[0].metadata["ip"], "127.0.0.1");

    // Eight days after the first key was made, housekeeping destroys it, and only it.
    app.clock.advance(chrono::Duration::days(7));
    accounts::server::purge_expired_rows(&app.ctx)
        .await
        .expect("housekeeping");
    let events = app.stream_events(stream).await;
    let issued: Vec<&accounts::store::event_log::RecordedEvent> = events
        .iter()
        .filter(|event| event.event_type == "CodeIssued")
        .collect();
    assert!(
        accounts::personal::is_erased(&issued[0].data),
        "{:?}",
        issued[0].data
    );
    assert!(issued[0].data.get("target").is_none());
    assert!(
        issued[0].metadata.get("ip").is_none(),
        "{}",
        issued[0].metadata
    );
    assert_eq!(issued[0].data["purpose"], "sign_in", "the facts stay");
    assert_eq!(issued[1].data["target"], user.email.as_str());
    assert_eq!(issued[1].metadata["ip"], "127.0.0.1");
    let erased: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM data_keys WHERE stream_id = $1 AND wrapped IS NULL",
            &[&stream],
        )
        .await
        .expect("keys")
        .get(0);
    assert_eq!(erased, 1);

    // The stream goes on: a new code, mailed and checked, over the erased history.
    ask().await;
    let mail = smtp
        .wait_for_mails(&user.email, subject, 3)
        .await
        .into_iter()
        .find(|mail| !earlier.contains(mail))
        .expect("the third code's mail");
    let checked = app
        .post(
            "/v1/codes/check",
            None,
            json!({"channel": "email", "to": user.email, "purpose": "sign_in",
                   "code": code_in(&mail)}),
        )
        .await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    assert_eq!(checked.body["valid"], true);
}

#[tokio::test]
async fn erasing_a_former_holder_of_an_address_leaves_the_next_holders_codes() {
    let app = spawn_app_with(|config| config.erasure_grace_days = 2).await;
    let admin = app.new_user().await;
    make_owner(&app, &admin).await;
    let former = app.new_user().await;
    let address = former.email.clone();
    let sent = app
        .post("/v1/codes", None, code_request(&address, "sign_in"))
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let stream = stream_of(&app, &address, "sign_in").await;

    let deleted = app
        .delete(
            &format!("/v1/admin/users/{}", former.id),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    // The deletion retires the keys of the address's code streams (in a task of its own).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let live: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM data_keys
                 WHERE stream_id = $1 AND retired_at IS NULL AND erased_at IS NULL",
                &[&stream],
            )
            .await
            .expect("keys")
            .get(0);
        if live == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the code keys were never retired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Someone else takes the address and gets a code to it, under a key of its own.
    let next = app.sign_up_email(&address).await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
    app.clock.advance(chrono::Duration::minutes(2));
    let sent = app
        .post("/v1/codes", None, code_request(&address, "sign_in"))
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let keys = issued_keys(&app, stream).await;
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);

    // The former holder's erasure destroys the former key only.
    app.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        accounts::service::erasure::erase_due(&app.ctx)
            .await
            .unwrap(),
        1
    );
    let issued: Vec<_> = app
        .stream_events(stream)
        .await
        .into_iter()
        .filter(|event| event.event_type == "CodeIssued")
        .collect();
    assert!(accounts::personal::is_erased(&issued[0].data));
    assert_eq!(
        issued[1].data["target"],
        address.as_str(),
        "{:?}",
        issued[1].data
    );
}
