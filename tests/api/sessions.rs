use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_behind_proxy};
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn signing_in_by_email_or_username_starts_a_fourteen_day_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"username": "carol"}))
        .await;

    let by_email = app.sign_in(&user.email.to_uppercase(), PASSWORD).await;
    assert_eq!(by_email.status, 201, "{}", by_email.body);
    assert_eq!(by_email.body["account"]["id"], user.id.to_string());
    let expires_at: DateTime<Utc> = by_email.body["expires_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("expires_at");
    let ttl = expires_at - Utc::now();
    assert!(ttl > Duration::days(14) - Duration::minutes(1) && ttl <= Duration::days(14));

    let by_username = app
        .post(
            "/v1/sessions",
            None,
            json!({"username": "CAROL", "password": PASSWORD}),
        )
        .await;
    assert_eq!(by_username.status, 201, "{}", by_username.body);
    let token = by_username.body["token"].as_str().expect("token");
    assert_eq!(app.get("/v1/me", Some(token)).await.status, 200);
    let types = app.event_types(user.id).await;
    assert_eq!(types.iter().filter(|t| *t == "SessionStarted").count(), 3);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_answer_alike() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let wrong = app.sign_in(&user.email, "not the right password").await;
    let unknown = app.sign_in("nobody@example.com", PASSWORD).await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn requests_without_a_live_token_are_unauthenticated() {
    let app = spawn_app().await;
    app.get("/v1/me", None)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/me", Some("forged-token"))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/sessions", Some("forged-token"))
        .await
        .assert_problem(401, "unauthenticated");

    // The commands that check the token as they load the account refuse it alike, whether
    // forged or signed out, and record nothing.
    let user = app.new_user().await;
    let out = app.delete("/v1/sessions/current", &user.token, None).await;
    assert_eq!(out.status, 204, "{}", out.body);
    for token in ["forged-token", user.token.as_str()] {
        app.patch("/v1/me", token, json!({"bio": "not mine"}))
            .await
            .assert_problem(401, "unauthenticated");
        // Not signed in comes first, whatever the body.
        app.patch("/v1/me", token, json!({"birthday": "2999-01-01"}))
            .await
            .assert_problem(401, "unauthenticated");
        app.put(
            "/v1/me/privacy",
            token,
            json!({"show_email": true, "show_phone": true, "show_birthday": true, "show_follows": true}),
        )
        .await
        .assert_problem(401, "unauthenticated");
    }
    let types = app.event_types(user.id).await;
    assert!(
        !types
            .iter()
            .any(|t| t == "ProfileUpdated" || t == "PrivacyChanged"),
        "{types:?}"
    );
}

#[tokio::test]
async fn reading_my_account_checks_the_session_and_marks_it_seen_once_a_minute() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let last_seen = async || -> DateTime<Utc> {
        app.db
            .query_one(
                "SELECT last_seen_at FROM sessions WHERE account_id = $1",
                &[&user.id],
            )
            .await
            .expect("session")
            .get(0)
    };
    // Seen two minutes ago: the next read marks it seen now.
    app.db
        .execute(
            "UPDATE sessions SET last_seen_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .expect("age the session");
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], user.id.to_string());
    let seen = last_seen().await;
    assert!(
        Utc::now() - seen < Duration::seconds(30),
        "marked seen: {seen}"
    );
    // Within the minute, reads leave the mark alone.
    app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(last_seen().await, seen);
    // Ended, the token reads nothing.
    app.db
        .execute(
            "UPDATE sessions SET ended_at = now(), end_reason = 'signed_out'",
            &[],
        )
        .await
        .expect("end the session");
    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
}

/// A pooled connection in a transaction holding `account`'s advisory lock, as a command
/// writing the account would; `COMMIT` on it releases the lock.
async fn hold_account_lock(app: &TestApp, account: uuid::Uuid) -> deadpool_postgres::Object {
    let holder = app.pool.get().await.expect("connection");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('{account}', 0))"
        ))
        .await
        .expect("hold the account's lock");
    holder
}

/// Returns once some transaction of the test's database waits for an advisory lock.
async fn until_a_writer_waits_for_a_lock(app: &TestApp) {
    loop {
        let waiting: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND NOT granted AND database =
                     (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .expect("locks")
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// A command is authenticated when it arrives, and its session is checked again, under the
/// account's lock, in the statement that loads what it changes: a session ended while the
/// command waited for the lock changes nothing.
#[tokio::test]
async fn a_command_whose_session_ends_while_it_waits_for_the_account_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Another transaction holds the account's lock, as a concurrent command would.
    let holder = hold_account_lock(&app, user.id).await;
    let patch = app.patch("/v1/me", &user.token, json!({"bio": "after the end"}));
    let end_then_release = async {
        // Once the command waits for the lock (it was authenticated before), its session ends.
        until_a_writer_waits_for_a_lock(&app).await;
        app.db
            .execute(
                "UPDATE sessions SET ended_at = now(), end_reason = 'signed_out'
                 WHERE account_id = $1",
                &[&user.id],
            )
            .await
            .expect("end the session");
        holder.batch_execute("COMMIT").await.expect("release");
    };
    let (answer, ()) = tokio::join!(patch, end_then_release);
    answer.assert_problem(401, "unauthenticated");
    let types = app.event_types(user.id).await;
    assert!(!types.iter().any(|t| t == "ProfileUpdated"), "{types:?}");
}

#[tokio::test]
async fn my_sessions_list_marks_the_current_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let second = app
        .send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": user.email, "password": PASSWORD})),
            &[("user-agent", "phone-app/2.0")],
        )
        .await;
    let second_token = second.body["token"].as_str().expect("token");
    let listed = app.get("/v1/sessions", Some(second_token)).await;
    assert_eq!(listed.status, 200);
    let sessions = listed.body.as_array().expect("list");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["id"], second.body["session_id"]);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["user_agent"], "phone-app/2.0");
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    assert_eq!(sessions[1]["current"], false);
}

#[tokio::test]
async fn the_client_address_is_forwarded_only_by_trusted_proxies() {
    let sign_in_through_proxy = async |app: &crate::helpers::TestApp, email: &str| {
        let answer = app
            .post_from(
                "198.51.100.20, 203.0.113.7",
                "/v1/sessions",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let token = answer.body["token"].as_str().expect("token").to_owned();
        let sessions = app.get("/v1/sessions", Some(&token)).await;
        let history = app
            .get("/v1/me/events?types=SessionStarted", Some(&token))
            .await;
        (
            sessions.body[0]["ip"].clone(),
            history.body["events"][0]["data"]["ip"].clone(),
        )
    };

    // Anyone can send the header: without trusted proxies it is ignored.
    let direct = spawn_app().await;
    let user = direct.new_user().await;
    let (session_ip, event_ip) = sign_in_through_proxy(&direct, &user.email).await;
    assert_eq!(session_ip, "127.0.0.1");
    assert_eq!(event_ip, "127.0.0.1");

    // Behind a trusted proxy, the hop it appended names the client; earlier hops are the
    // client's own words and are not believed.
    let proxied = spawn_behind_proxy(|_| {}).await;
    let user = proxied.new_user().await;
    let (session_ip, event_ip) = sign_in_through_proxy(&proxied, &user.email).await;
    assert_eq!(session_ip, "203.0.113.7");
    assert_eq!(event_ip, "203.0.113.7");
}

#[tokio::test]
async fn signing_out_ends_only_the_current_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.sign_in(&user.email, PASSWORD).await;
    let other_token = other.body["token"].as_str().expect("token");
    let out = app.delete("/v1/sessions/current", &user.token, None).await;
    assert_eq!(out.status, 204);
    assert!(out.position() > 0);
    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.get("/v1/me", Some(other_token)).await.status, 200);
}

#[tokio::test]
async fn ending_one_session_signs_that_device_out() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.sign_in(&user.email, PASSWORD).await;
    let other_id = other.body["session_id"].as_str().expect("id");
    let ended = app
        .delete(&format!("/v1/sessions/{other_id}"), &user.token, None)
        .await;
    assert_eq!(ended.status, 204);
    let other_token = other.body["token"].as_str().expect("token");
    app.get("/v1/me", Some(other_token))
        .await
        .assert_problem(401, "unauthenticated");
    app.delete(&format!("/v1/sessions/{other_id}"), &user.token, None)
        .await
        .assert_problem(404, "session_not_found");
    app.delete(
        &format!("/v1/sessions/{}", uuid::Uuid::new_v4()),
        &user.token,
        None,
    )
    .await
    .assert_problem(404, "session_not_found");
    app.delete("/v1/sessions/not-a-uuid", &user.token, None)
        .await
        .assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn another_users_session_cannot_be_ended() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let bob_sessions = app.get("/v1/sessions", Some(&bob.token)).await;
    let bob_session = bob_sessions.body[0]["id"].as_str().expect("id");
    app.delete(&format!("/v1/sessions/{bob_session}"), &alice.token, None)
        .await
        .assert_problem(404, "session_not_found");
    assert_eq!(app.get("/v1/me", Some(&bob.token)).await.status, 200);
}

#[tokio::test]
async fn ending_all_other_sessions_keeps_this_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let answer = app.sign_in(&user.email, PASSWORD).await;
        others.push(answer.body["token"].as_str().expect("token").to_owned());
    }
    let ended = app.delete("/v1/sessions", &user.token, None).await;
    assert_eq!(ended.status, 204);
    for token in &others {
        app.get("/v1/me", Some(token))
            .await
            .assert_problem(401, "unauthenticated");
    }
    let listed = app.get("/v1/sessions", Some(&user.token)).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn sessions_finished_a_month_ago_are_purged_and_live_ones_kept() {
    use accounts::store::sessions::{self, NewSession};
    let app = spawn_app().await;
    let user = app.new_user().await;
    let long_ago = Utc::now() - Duration::days(60);
    let old = NewSession {
        id: uuid::Uuid::new_v4(),
        token_hash: vec![1; 32],
        account_id: user.id,
        created_at: long_ago,
        expires_at: long_ago + Duration::days(14),
        user_agent: None,
        ip: None,
        methods: vec!["password".to_owned()],
        second_factor_at: None,
    };
    sessions::open(&app.db, &old).await.expect("open");
    let purged = sessions::purge_finished(&app.db).await.expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.status, 200);
    let left: i64 = app
        .db
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 1);
}

#[tokio::test]
async fn many_failures_from_one_address_require_a_captcha_whatever_the_identifier() {
    let app = spawn_behind_proxy(|config| config.sign_in_failures_per_address = 5).await;
    let user = app.new_user().await;
    let sign_in_from = async |client: &str, body: serde_json::Value| {
        app.post_from(client, "/v1/sessions", body).await
    };
    let right = json!({"email": user.email, "password": PASSWORD});
    // One password tried on five accounts: no identifier has failed three times.
    for n in 0..5 {
        let guess = json!({"email": format!("someone-{n}@example.com"), "password": PASSWORD});
        sign_in_from("203.0.113.7", guess)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    sign_in_from("203.0.113.7", right.clone())
        .await
        .assert_problem(428, "captcha_required");
    // Other addresses are not held back.
    assert_eq!(sign_in_from("203.0.113.8", right.clone()).await.status, 201);

    let mut with_captcha = right.clone();
    with_captcha["captcha"] = json!(app.solved_captcha().await);
    assert_eq!(sign_in_from("203.0.113.7", with_captcha).await.status, 201);
    // A success does not clear the address: the next guess needs a captcha again.
    sign_in_from("203.0.113.7", right.clone())
        .await
        .assert_problem(428, "captcha_required");

    // Thirty minutes after its last failure, the address signs in as before.
    app.clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    assert_eq!(sign_in_from("203.0.113.7", right).await.status, 201);
}

#[tokio::test]
async fn three_failures_require_a_captcha_for_known_and_unknown_accounts_alike() {
    let app = crate::helpers::spawn_app().await;
    let user = app.new_user().await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    for email in [user.email.as_str(), unknown.as_str()] {
        for _ in 0..3 {
            app.sign_in(email, "wrong password entirely")
                .await
                .assert_problem(401, "invalid_credentials");
        }
        // Even the right password now needs a captcha: nothing tells the accounts apart.
        let answer = app.sign_in(email, PASSWORD).await;
        answer.assert_problem(428, "captcha_required");
    }

    let captcha = app.solved_captcha().await;
    let body = json!({"email": user.email, "password": PASSWORD, "captcha": captcha});
    let signed_in = app.post("/v1/sessions", None, body.clone()).await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    // A success gives back only its own attempt: the next try needs a captcha again.
    let failures_again = app.sign_in(&user.email, "wrong password entirely").await;
    failures_again.assert_problem(428, "captcha_required");

    let unknown_body = json!({"email": unknown, "password": PASSWORD, "captcha": captcha});
    app.post("/v1/sessions", None, unknown_body)
        .await
        .assert_problem(428, "captcha_invalid");
    let forged = json!({"email": unknown, "password": PASSWORD, "captcha": "bm90IGEgc29sdXRpb24="});
    app.post("/v1/sessions", None, forged)
        .await
        .assert_problem(428, "captcha_invalid");

    // Thirty minutes after the last failure, no captcha is asked for.
    app.clock.advance(chrono::Duration::minutes(30));
    app.clock.advance(chrono::Duration::seconds(1));
    for email in [user.email.as_str(), unknown.as_str()] {
        app.sign_in(email, "wrong password entirely")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_eq!(app.sign_in(&user.email, PASSWORD).await.status, 201);
}

#[tokio::test]
async fn failed_sign_ins_are_in_my_history_without_the_password() {
    let app = crate::helpers::spawn_app().await;
    let user = app.new_user().await;
    let failed = app
        .send(
            reqwest::Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": user.email, "password": "a guess of mine 123"})),
            &[("user-agent", "guesser/1.0")],
        )
        .await;
    failed.assert_problem(401, "invalid_credentials");
    let history = app.get("/v1/me/events", Some(&user.token)).await;
    let latest = &history.body["events"][0];
    assert_eq!(latest["type"], "SignInFailed", "{}", history.body);
    assert_eq!(latest["data"]["reason"], "wrong_password");
    assert_eq!(latest["data"]["identifier"], "email");
    assert_eq!(latest["user_agent"], "guesser/1.0");
    assert_eq!(latest["data"]["user_agent"], "guesser/1.0");
    assert!(latest["data"]["ip"].is_string());
    assert!(!history.body.to_string().contains("a guess of mine"));
    let stored: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM events WHERE data::text LIKE '%a guess of mine%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn housekeeping_purges_old_throttle_rows_and_spent_captchas() {
    let app = crate::helpers::spawn_app().await;
    let user = app.new_user().await;
    app.sign_in(&user.email, "wrong password entirely").await;
    app.db
        .execute(
            "UPDATE sign_in_throttle SET last_failure_at = now() - interval '2 hours'",
            &[],
        )
        .await
        .unwrap();
    let purged = accounts::store::throttle::purge_expired(&app.db, chrono::Duration::minutes(30))
        .await
        .expect("purge");
    assert_eq!(purged, 2, "the identifier's count and the address's");
    let left: i64 = app
        .db
        .query_one("SELECT count(*) FROM sign_in_throttle", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// Session checks share a few connections, pipelined (`store::shared_reads`): many at once each
/// get their own account, and an ended session reads nothing even among live ones.
#[tokio::test]
async fn many_signed_in_reads_at_once_each_get_their_own_account() {
    let app = spawn_app().await;
    let mut users = Vec::new();
    for _ in 0..4 {
        users.push(app.new_user().await);
    }
    let ended = app.new_user().await;
    let signed_out = app.delete("/v1/sessions/current", &ended.token, None).await;
    assert_eq!(signed_out.status, 204, "{}", signed_out.body);
    let (app, ended) = (&app, &ended);
    let reads = (0..48).map(|i| {
        let user = &users[i % users.len()];
        async move {
            if i % 8 == 7 {
                let answer = app.get("/v1/me", Some(&ended.token)).await;
                answer.assert_problem(401, "unauthenticated");
                return;
            }
            let path = if i % 2 == 0 { "/v1/me" } else { "/v1/sessions" };
            let answer = app.get(path, Some(&user.token)).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            if path == "/v1/me" {
                assert_eq!(answer.body["id"], user.id.to_string());
            }
        }
    });
    futures::future::join_all(reads).await;
}

/// Marking a session seen never waits for a command holding the session's row: the reads that
/// share its connection are not held up, and the mark is made by a later read.
#[tokio::test]
async fn reads_do_not_wait_for_a_command_holding_their_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    app.db
        .execute(
            "UPDATE sessions SET last_seen_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .expect("age the sessions");
    let holder = app.pool.get().await.expect("connection");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM sessions WHERE account_id = '{}' FOR UPDATE",
            user.id
        ))
        .await
        .expect("hold the session's row");
    // More reads than there are shared connections, all while the row is held.
    let reads = (0..32).map(|i| {
        let token = if i % 2 == 0 {
            &user.token
        } else {
            &other.token
        };
        let path = if i % 4 < 2 { "/v1/me" } else { "/v1/sessions" };
        (token.as_str(), path)
    });
    all_answer_ok_within(&app, reads, 20, "while the row is held").await;
    holder.batch_execute("COMMIT").await.expect("release");
    assert!(
        !seen_within_a_minute(&app, user.id).await,
        "skipped while held"
    );
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.status, 200);
    assert!(
        seen_within_a_minute(&app, user.id).await,
        "marked by the next read"
    );
}

/// The shared connections come back after the database drops them (a restart).
#[tokio::test]
async fn signed_in_reads_recover_after_the_database_drops_every_connection() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.status, 200);
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND application_name = 'accounts'",
            &[],
        )
        .await
        .expect("terminate");
    // Reads in flight at the drop may fail with 503; once the drop is seen, every lane is new.
    let mut recovered = false;
    for _ in 0..50 {
        let statuses = futures::future::join_all(
            (0..8).map(|_| async { app.get("/v1/me", Some(&user.token)).await.status }),
        )
        .await;
        if statuses.iter().all(|status| *status == 200) {
            recovered = true;
            break;
        }
        assert!(
            statuses
                .iter()
                .all(|status| *status == 200 || *status == 503),
            "{statuses:?}"
        );
    }
    assert!(recovered, "the shared connections were replaced");
}

/// Nor does it wait for a lock on the whole table (an index being built takes one): the mark
/// gives up after 50 ms, and other accounts' reads on the same shared connection go on.
#[tokio::test]
async fn reads_do_not_wait_for_a_lock_on_the_sessions_table() {
    let app = spawn_app().await;
    let stale = app.new_user().await;
    let others = [app.new_user().await, app.new_user().await];
    app.db
        .execute(
            "UPDATE sessions SET last_seen_at = now() - interval '2 minutes'
             WHERE account_id = $1",
            &[&stale.id],
        )
        .await
        .expect("age one session");
    let holder = app.pool.get().await.expect("connection");
    holder
        .batch_execute("BEGIN; LOCK TABLE sessions IN SHARE MODE")
        .await
        .expect("hold the table as CREATE INDEX does");
    let reads = (0..24).map(|i| match i % 3 {
        0 => (stale.token.as_str(), "/v1/me"),
        1 => (others[0].token.as_str(), "/v1/me"),
        _ => (others[1].token.as_str(), "/v1/sessions"),
    });
    all_answer_ok_within(&app, reads, 5, "while the table is held").await;
    holder.batch_execute("COMMIT").await.expect("release");
    assert_eq!(app.get("/v1/me", Some(&stale.token)).await.status, 200);
    assert!(
        seen_within_a_minute(&app, stale.id).await,
        "marked once the table is free"
    );
}

/// Sends the `(token, path)` reads all at once and checks that each answers 200 within
/// `seconds` (`during` says what holds meanwhile).
async fn all_answer_ok_within<'a>(
    app: &TestApp,
    reads: impl Iterator<Item = (&'a str, &'a str)>,
    seconds: u64,
    during: &str,
) {
    let reads = reads.map(|(token, path)| async move { app.get(path, Some(token)).await.status });
    let statuses = tokio::time::timeout(
        std::time::Duration::from_secs(seconds),
        futures::future::join_all(reads),
    )
    .await
    .unwrap_or_else(|_| panic!("the reads answer {during}"));
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
}

/// Whether the session of `account` was marked seen within the last minute.
async fn seen_within_a_minute(app: &TestApp, account: uuid::Uuid) -> bool {
    app.db
        .query_one(
            "SELECT last_seen_at > now() - interval '1 minute' FROM sessions
             WHERE account_id = $1",
            &[&account],
        )
        .await
        .expect("session")
        .get(0)
}

/// The account's versions in the log's commit-safe order, `(transaction_id, position)`.
async fn versions_in_log_order(app: &TestApp, id: uuid::Uuid) -> Vec<i64> {
    app.db
        .query(
            "SELECT version FROM events WHERE stream_id = $1 ORDER BY transaction_id, position",
            &[&id],
        )
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn sign_ins_racing_changes_of_their_account_all_land_whole_and_in_order() {
    // A sign-in starts its session at the version it read before the password check unless
    // the account moved meanwhile: then it takes the account's lock like any command.
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut tokens = Vec::new();
    for round in 0..3 {
        let sign_ins =
            futures::future::join_all((0..3).map(|_| app.sign_in(&user.email, PASSWORD)));
        let changes = futures::future::join_all((0..30).map(|i| {
            app.patch(
                "/v1/me",
                &user.token,
                json!({"bio": format!("{round} {i}")}),
            )
        }));
        let (sign_ins, changes) = tokio::join!(sign_ins, changes);
        for answer in &changes {
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
        for answer in sign_ins {
            assert_eq!(answer.status, 201, "{}", answer.body);
            tokens.push(answer.body["token"].as_str().expect("token").to_owned());
        }
    }
    // One change at a time beside each sign-in: it mostly lands between the sign-in's read and
    // its write, when the account's lock is free but its version moved.
    for round in 0..10 {
        let (sign_in, change) = tokio::join!(
            app.sign_in(&user.email, PASSWORD),
            app.patch(
                "/v1/me",
                &user.token,
                json!({"bio": format!("one {round}")})
            )
        );
        assert_eq!(change.status, 200, "{}", change.body);
        assert_eq!(sign_in.status, 201, "{}", sign_in.body);
        tokens.push(sign_in.body["token"].as_str().expect("token").to_owned());
    }
    for token in &tokens {
        let me = app.get("/v1/me", Some(token)).await;
        assert_eq!(me.status, 200, "{}", me.body);
    }
    let types = app.event_types(user.id).await;
    let count = |name: &str| types.iter().filter(|t| *t == name).count();
    assert_eq!(count("SessionStarted"), 1 + 9 + 10);
    assert_eq!(count("ProfileUpdated"), 90 + 10);
    let versions = versions_in_log_order(&app, user.id).await;
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    let live: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM sessions WHERE account_id = $1 AND ended_at IS NULL",
            &[&user.id],
        )
        .await
        .expect("sessions")
        .get(0);
    assert_eq!(live, 1 + 9 + 10);
    let held: i64 = app
        .db
        .query_one(
            "SELECT coalesce(sum(failures), 0) FROM sign_in_throttle",
            &[],
        )
        .await
        .expect("throttle")
        .get(0);
    assert_eq!(held, 0, "every reserved attempt was given back");
    let snapshot: i64 = app
        .db
        .query_one(
            "SELECT version FROM stream_snapshots WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("snapshot")
        .get(0);
    assert_eq!(
        snapshot,
        versions.len() as i64,
        "the snapshot is at the head"
    );
}

#[tokio::test]
async fn a_sign_in_while_a_command_holds_its_account_waits_and_lands_after_it() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let before = app.event_types(user.id).await.len();
    let holder = hold_account_lock(&app, user.id).await;
    let sign_in = tokio::spawn({
        let app_address = app.address.clone();
        let client = app.client.clone();
        let email = user.email.clone();
        async move {
            client
                .post(format!("{app_address}/v1/sessions"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("sign-in")
                .status()
        }
    });
    // Until the holder commits, the sign-in waits for the lock (it wrote nothing meanwhile).
    until_a_writer_waits_for_a_lock(&app).await;
    assert_eq!(
        app.event_types(user.id).await.len(),
        before,
        "nothing written yet"
    );
    holder.batch_execute("COMMIT").await.expect("release");
    assert_eq!(sign_in.await.expect("task"), 201);
    let types = app.event_types(user.id).await;
    assert_eq!(types.last().map(String::as_str), Some("SessionStarted"));
}

#[tokio::test]
async fn a_command_alone_writes_nothing_unless_its_lock_version_and_session_all_hold() {
    use accounts::domain::account::{Account, AccountCommand, decide};
    use accounts::service::executor::{CommandMetadata, Loaded, load, try_alone};
    use accounts::store::sessions::ActiveSession;
    let app = spawn_app().await;
    let user = app.new_user().await;
    let session = ActiveSession {
        id: app
            .db
            .query_one("SELECT id FROM sessions WHERE account_id = $1", &[&user.id])
            .await
            .expect("session")
            .get(0),
        account_id: user.id,
    };
    let loaded = || async {
        let client = app.pool.get().await.expect("connection");
        load::<Account>(&app.keys, &client, user.id)
            .await
            .expect("load")
    };
    let alone = |loaded: Loaded<Account>, bio: &'static str| {
        let changes = serde_json::from_value(json!({ "bio": bio })).expect("changes");
        let command = AccountCommand::UpdateProfile {
            changes,
            username: None,
            now: Utc::now(),
        };
        let ctx = app.ctx.clone();
        async move {
            try_alone::<Account, _>(
                &ctx,
                user.id,
                Some(session),
                &CommandMetadata::default(),
                &loaded,
                |account| decide(account, command),
                |_, _| Vec::new(),
            )
            .await
            .expect("no error")
            .map(|committed| committed.position)
        }
    };
    let bios = || async {
        app.stream_events(user.id)
            .await
            .iter()
            .filter(|event| event.event_type == "ProfileUpdated")
            .map(|event| {
                event.data["changes"]["bio"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };

    assert!(alone(loaded().await, "first").await.is_some(), "all hold");

    // The stream moved since the load.
    let stale = loaded().await;
    assert!(alone(loaded().await, "second").await.is_some());
    assert_eq!(alone(stale, "stale").await, None);

    // Another writer holds the stream's lock.
    let holder = app.pool.get().await.expect("connection");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('{}', 0))",
            user.id
        ))
        .await
        .expect("hold the account's lock");
    assert_eq!(alone(loaded().await, "locked out").await, None);
    holder.batch_execute("COMMIT").await.expect("release");

    // The session ended (here without an event, as an expiry would) after the load.
    let before_the_end = loaded().await;
    app.db
        .execute(
            "UPDATE sessions SET ended_at = now(), end_reason = 'signed_out' WHERE id = $1",
            &[&session.id],
        )
        .await
        .expect("end the session");
    assert_eq!(alone(before_the_end, "after the end").await, None);

    assert_eq!(bios().await, ["first", "second"]);
}

#[tokio::test]
async fn sign_ins_racing_the_deletion_of_their_account_answer_as_a_wrong_password() {
    // Ten sign-ups and up to forty refused sign-ins from one address: its own limits are not
    // what this measures.
    let app = crate::helpers::spawn_app_with(|config| {
        config.sign_in_failures_per_address = 0;
        config.sign_ups_per_address = 0;
    })
    .await;
    for _ in 0..10 {
        let user = app.new_user().await;
        let sign_ins =
            futures::future::join_all((0..3).map(|_| app.sign_in(&user.email, PASSWORD)));
        let deletion = app.delete("/v1/me", &user.token, Some(json!({ "password": PASSWORD })));
        let (sign_ins, deletion) = tokio::join!(sign_ins, deletion);
        assert_eq!(deletion.status, 204, "{}", deletion.body);
        for answer in sign_ins {
            match answer.status.as_u16() {
                201 => {}
                _ => answer.assert_problem(401, "invalid_credentials"),
            }
        }
        app.sign_in(&user.email, PASSWORD)
            .await
            .assert_problem(401, "invalid_credentials");
    }
}

#[tokio::test]
async fn commands_queued_on_one_account_leave_the_pool_to_the_others() {
    // Commands waiting for one account's lock (here held by a slow transaction) wait in the
    // process, not on pooled connections: another account's command answers meanwhile.
    let app = crate::helpers::spawn_app_with(|config| config.db_pool_size = 4).await;
    let (busy, other) = (app.new_user().await, app.new_user().await);
    let holder = hold_account_lock(&app, busy.id).await;
    let queued = futures::future::join_all(
        (0..30).map(|i| app.patch("/v1/me", &busy.token, json!({"bio": format!("queued {i}")}))),
    );
    let meanwhile = async {
        until_a_writer_waits_for_a_lock(&app).await;
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            app.patch("/v1/me", &other.token, json!({"bio": "not queued"})),
        )
        .await
        .expect("answered while the other account's commands wait");
        assert_eq!(answer.status, 200, "{}", answer.body);
        holder.batch_execute("COMMIT").await.expect("release");
    };
    let (queued, ()) = tokio::join!(queued, meanwhile);
    for answer in queued {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(accounts::service::stream_queue::queued_streams(), 0);
}
