//! Second factors over HTTP: TOTP enrolment and confirmation, sign-in in two steps with a TOTP
//! or recovery code, replay and parallel guessing refused, step-up for sensitive actions, and
//! no secret in clear in the log or on NATS.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A user whose TOTP is on: the secret's bytes and the recovery codes shown at confirmation.
struct Enrolled {
    user: User,
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
}

fn secret_of(answer: &Answer) -> Vec<u8> {
    let base32 = answer.body["secret"].as_str().expect("secret").to_owned();
    totp_rs::Secret::Encoded(base32)
        .to_bytes()
        .expect("base32 secret")
}

/// The code an authenticator app shows now, by the service's clock.
fn code_now(app: &TestApp, secret: &[u8]) -> String {
    accounts::factors::totp_code(secret, app.clock.now())
}

/// Moves the service's clock to the next TOTP time step, as waiting 30 s would.
fn next_step(app: &TestApp) {
    app.clock.advance(chrono::Duration::seconds(30));
}

async fn enrolled(app: &TestApp) -> Enrolled {
    let user = app.new_user().await;
    given_email_verified(app, &user).await;
    let (secret, recovery_codes) = enrol(app, &user).await;
    Enrolled {
        user,
        secret,
        recovery_codes,
    }
}

/// Turns TOTP on for `user` (whose address is proven): the secret and the recovery codes.
async fn enrol(app: &TestApp, user: &User) -> (Vec<u8>, Vec<String>) {
    let started = app
        .post(
            "/v1/me/mfa/totp",
            Some(&user.token),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let secret = secret_of(&started);
    let confirmed = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&user.token),
            json!({"code": code_now(app, &secret)}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    // The enrolling session proved the new factor; that proof ages past the step-up window,
    // as it has for a session used later.
    app.clock
        .advance(accounts::domain::account::STEP_UP_WINDOW + chrono::Duration::minutes(1));
    let recovery_codes = confirmed.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("code").to_owned())
        .collect();
    (secret, recovery_codes)
}

/// Signs in with the password and returns the second-factor challenge.
async fn challenge(app: &TestApp, user: &User) -> String {
    let answer = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["mfa_required"], true);
    assert!(answer.body.get("token").is_none(), "no session yet");
    answer.body["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned()
}

async fn answer(app: &TestApp, challenge: &str, factor: Value) -> Answer {
    let mut body = json!({ "challenge": challenge });
    for (name, value) in factor.as_object().expect("object") {
        body[name] = value.clone();
    }
    app.post("/v1/sessions/mfa", None, body).await
}

async fn mfa_of(app: &TestApp, token: &str) -> Value {
    let answer = app.get("/v1/me/mfa", Some(token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn totp_is_enrolled_confirmed_by_a_code_and_then_signs_in_as_the_second_factor() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    given_email_verified(&app, &user).await;
    let without = app
        .post("/v1/me/mfa/totp", Some(&user.token), json!({}))
        .await;
    without.assert_problem(422, "validation_failed");
    assert_eq!(
        without.field_errors(),
        vec![("password".to_owned(), "required".to_owned())]
    );
    app.post(
        "/v1/me/mfa/totp",
        Some(&user.token),
        json!({"password": "not the password at all"}),
    )
    .await
    .assert_problem(403, "wrong_password");

    let started = app
        .post(
            "/v1/me/mfa/totp",
            Some(&user.token),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let secret = secret_of(&started);
    assert_eq!(secret.len(), 20, "160 bits");
    let uri = started.body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/Accounts:"), "{uri}");
    assert!(uri.contains("issuer=Accounts"), "{uri}");
    // SHA-1, 6 digits and 30 s are the Key Uri Format's defaults, which the URI leaves out.
    for other in [
        "algorithm=SHA256",
        "algorithm=SHA512",
        "digits=8",
        "period=60",
    ] {
        assert!(!uri.contains(other), "{uri}");
    }
    assert!(
        started.body["qr_svg"]
            .as_str()
            .expect("svg")
            .contains("<svg")
    );
    let pending = mfa_of(&app, &user.token).await;
    assert_eq!(
        pending,
        json!({"totp": false, "totp_pending": true, "recovery_codes_left": 0, "passkeys": []})
    );
    // An enrolment not confirmed is withdrawn without a second factor, and a new one started.
    let withdrawn = app
        .delete("/v1/me/mfa/totp", &user.token, Some(json!({})))
        .await;
    assert_eq!(
        withdrawn.status,
        StatusCode::NO_CONTENT,
        "{}",
        withdrawn.body
    );
    assert_eq!(mfa_of(&app, &user.token).await["totp_pending"], false);
    app.post(
        "/v1/me/mfa/totp/confirm",
        Some(&user.token),
        json!({"code": code_now(&app, &secret)}),
    )
    .await
    .assert_problem(409, "totp_not_pending");
    let started = app
        .post(
            "/v1/me/mfa/totp",
            Some(&user.token),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let secret = secret_of(&started);
    // Not active until confirmed.
    assert_eq!(app.sign_in(&user.email, PASSWORD).await.status, 201);

    let wrong = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&user.token),
            json!({"code": "000000"}),
        )
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(
        wrong.field_errors(),
        vec![("code".to_owned(), "mfa_code_invalid".to_owned())]
    );
    let confirming_code = code_now(&app, &secret);
    let confirmed = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&user.token),
            json!({"code": confirming_code}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    let mfa = mfa_of(&app, &user.token).await;
    assert_eq!(mfa["totp"], true);
    assert_eq!(mfa["recovery_codes_left"], 10);
    app.post(
        "/v1/me/mfa/totp",
        Some(&user.token),
        json!({"password": PASSWORD}),
    )
    .await
    .assert_problem(409, "totp_already_enabled");

    // The password alone now answers a challenge, not a session.
    let signed_in = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(
        signed_in.body["methods"],
        json!(["totp", "recovery_code"]),
        "{}",
        signed_in.body
    );
    let challenge = signed_in.body["challenge"].as_str().expect("challenge");
    // The confirming code's time step is spent.
    answer(&app, challenge, json!({"totp_code": confirming_code}))
        .await
        .assert_problem(401, "mfa_invalid");
    next_step(&app);
    let code = code_now(&app, &secret);
    let session = answer(&app, challenge, json!({ "totp_code": code })).await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let token = session.body["token"].as_str().expect("token");
    assert_eq!(session.body["account"]["id"], user.id.to_string());
    // The challenge is spent, and the code too, on any challenge.
    answer(&app, challenge, json!({ "totp_code": code }))
        .await
        .assert_problem(401, "mfa_challenge_expired");
    let again = self::challenge(&app, &user).await;
    answer(&app, &again, json!({ "totp_code": code }))
        .await
        .assert_problem(401, "mfa_invalid");

    let sessions = app.get("/v1/sessions", Some(token)).await;
    let listed = sessions.body.as_array().expect("sessions");
    let current = listed
        .iter()
        .find(|session| session["current"] == true)
        .expect("current");
    assert_eq!(current["aal"], "aal2");
    assert_eq!(current["methods"], json!(["password", "totp"]));
    // The sign-up's session, which enrolled TOTP, proved it by the confirming code.
    let first = listed
        .iter()
        .find(|session| session["current"] == false)
        .expect("the sign-up's session");
    assert_eq!(first["aal"], "aal2");
    assert_eq!(first["methods"], json!(["password", "totp"]));

    let history = app.event_types(user.id).await;
    for expected in [
        "TotpEnrolmentStarted",
        "TotpEnabled",
        "RecoveryCodesGenerated",
        "SecondFactorChallenged",
        "TotpCodeUsed",
        "SignInFailed",
    ] {
        assert!(
            history.iter().any(|t| t == expected),
            "{expected}: {history:?}"
        );
    }
    let mine = app
        .get(
            "/v1/me/events?types=TotpEnrolmentStarted,TotpEnabled,TotpCodeUsed,RecoveryCodesGenerated",
            Some(token),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let events = mine.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 5, "two enrolments started: {events:?}");
    for event in events {
        let data = event["data"].as_object().expect("data");
        assert!(data.contains_key("at"), "{event}");
        assert!(
            !data.contains_key("secret") && !data.contains_key("codes"),
            "{event}"
        );
    }
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_however_it_is_typed() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let user = &enrolled.user;
    let code = &enrolled.recovery_codes[3];
    let typed = format!("  {}  ", code.to_lowercase().replace('-', " "));
    let challenge = challenge(&app, user).await;
    let session = answer(&app, &challenge, json!({ "recovery_code": typed })).await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let token = session.body["token"].as_str().expect("token");
    assert_eq!(mfa_of(&app, token).await["recovery_codes_left"], 9);
    let sessions = app.get("/v1/sessions", Some(token)).await;
    let current = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["current"] == true)
        .cloned()
        .expect("current");
    assert_eq!(current["methods"], json!(["password", "recovery_code"]));

    let again = self::challenge(&app, user).await;
    answer(&app, &again, json!({ "recovery_code": code }))
        .await
        .assert_problem(401, "mfa_invalid");
    answer(&app, &again, json!({ "recovery_code": "AAAAA-BBBBB" }))
        .await
        .assert_problem(401, "mfa_invalid");
    let both = answer(
        &app,
        &again,
        json!({"recovery_code": enrolled.recovery_codes[4], "totp_code": "123456"}),
    )
    .await;
    both.assert_problem(422, "validation_failed");
    assert_eq!(
        both.field_errors(),
        vec![("totp_code".to_owned(), "totp_or_recovery_code".to_owned())]
    );
    let fresh = answer(
        &app,
        &again,
        json!({ "recovery_code": enrolled.recovery_codes[4] }),
    )
    .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
}

#[tokio::test]
async fn thirty_parallel_wrong_answers_get_five_checks_and_then_the_challenge_is_dead() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let challenge = challenge(&app, &enrolled.user).await;
    let failures_before = app.count_events(Some("SignInFailed")).await;
    let answers = futures::future::join_all((0..30).map(|n| {
        let app = &app;
        let challenge = challenge.clone();
        async move {
            answer(app, &challenge, json!({"totp_code": format!("{:06}", n)}))
                .await
                .body["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    }))
    .await;
    let invalid = answers.iter().filter(|code| *code == "mfa_invalid").count();
    let dead = answers
        .iter()
        .filter(|code| *code == "mfa_challenge_expired")
        .count();
    assert_eq!((invalid, dead), (5, 25), "{answers:?}");
    assert_eq!(
        app.count_events(Some("SignInFailed")).await - failures_before,
        5,
        "each checked answer is recorded"
    );
    next_step(&app);
    answer(
        &app,
        &challenge,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await
    .assert_problem(401, "mfa_challenge_expired");
}

#[tokio::test]
async fn thirty_parallel_right_answers_start_one_session() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let challenge = challenge(&app, &enrolled.user).await;
    next_step(&app);
    let code = code_now(&app, &enrolled.secret);
    let statuses = futures::future::join_all((0..30).map(|_| {
        let app = &app;
        let (challenge, code) = (challenge.clone(), code.clone());
        async move {
            answer(app, &challenge, json!({ "totp_code": code }))
                .await
                .status
        }
    }))
    .await;
    let created = statuses.iter().filter(|status| **status == 201).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|status| [201, 401].contains(&status.as_u16()))
    );
    let sessions: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM sessions
             WHERE account_id = $1 AND 'totp' = ANY(methods) AND 'password' = ANY(methods)
               AND id <> (SELECT id FROM sessions WHERE account_id = $1 ORDER BY created_at LIMIT 1)",
            &[&enrolled.user.id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn wrong_second_factors_are_limited_per_account_whatever_the_challenge() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // Ten wrong answers over two challenges (each takes five).
    for _ in 0..2 {
        let challenge = challenge(&app, &enrolled.user).await;
        for n in 0..5 {
            let wrong = format!("ZZZZZ-ZZZZ{}", ["A", "B", "C", "D", "E"][n]);
            answer(&app, &challenge, json!({ "recovery_code": wrong }))
                .await
                .assert_problem(401, "mfa_invalid");
        }
    }
    let challenge = challenge(&app, &enrolled.user).await;
    next_step(&app);
    let limited = answer(
        &app,
        &challenge,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await;
    limited.assert_problem(429, "too_many_requests");
    assert!(limited.retry_after() > 0);
}

#[tokio::test]
async fn a_challenge_dies_after_five_minutes_and_when_the_password_changes() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let old = challenge(&app, &enrolled.user).await;
    app.clock.advance(chrono::Duration::minutes(6));
    answer(
        &app,
        &old,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await
    .assert_problem(401, "mfa_challenge_expired");

    let before_change = challenge(&app, &enrolled.user).await;
    let changed = app
        .put(
            "/v1/me/password",
            &enrolled.user.token,
            json!({
                "current_password": PASSWORD,
                "new_password": "quiet violet lantern harbor",
                "mfa_code": enrolled.recovery_codes[0],
            }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    next_step(&app);
    answer(
        &app,
        &before_change,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await
    .assert_problem(401, "mfa_challenge_expired");
}

#[tokio::test]
async fn removing_totp_and_renewing_recovery_codes_need_a_second_factor() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // The sign-up's session never proved a second factor.
    let token = &enrolled.user.token;
    app.delete("/v1/me/mfa/totp", token, Some(json!({})))
        .await
        .assert_problem(403, "mfa_step_up_required");
    app.post("/v1/me/mfa/recovery-codes", Some(token), json!({}))
        .await
        .assert_problem(403, "mfa_step_up_required");
    let wrong = app
        .post(
            "/v1/me/mfa/recovery-codes",
            Some(token),
            json!({"mfa_code": "999999"}),
        )
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(
        wrong.field_errors(),
        vec![("mfa_code".to_owned(), "mfa_code_invalid".to_owned())]
    );

    // With a recovery code sent along: a new set, the old one void.
    let renewed = app
        .post(
            "/v1/me/mfa/recovery-codes",
            Some(token),
            json!({"mfa_code": enrolled.recovery_codes[0]}),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let new_codes = renewed.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(new_codes.len(), 10);
    let challenge = challenge(&app, &enrolled.user).await;
    answer(
        &app,
        &challenge,
        json!({"recovery_code": enrolled.recovery_codes[1]}),
    )
    .await
    .assert_problem(401, "mfa_invalid");

    // A session that proved a second factor in the last 10 minutes needs none sent.
    next_step(&app);
    let session = answer(
        &app,
        &challenge,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let strong = session.body["token"].as_str().expect("token").to_owned();
    app.clock.advance(chrono::Duration::minutes(11));
    app.delete("/v1/me/mfa/totp", &strong, Some(json!({})))
        .await
        .assert_problem(403, "mfa_step_up_required");
    let fresh = self::challenge(&app, &enrolled.user).await;
    let session = answer(
        &app,
        &fresh,
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let strong = session.body["token"].as_str().expect("token").to_owned();
    let before_removal = self::challenge(&app, &enrolled.user).await;
    let removed = app
        .delete("/v1/me/mfa/totp", &strong, Some(json!({})))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    // A challenge for the factor removed since is dead.
    answer(
        &app,
        &before_removal,
        json!({"recovery_code": enrolled.recovery_codes[5]}),
    )
    .await
    .assert_problem(401, "mfa_challenge_expired");
    assert_eq!(
        mfa_of(&app, &strong).await,
        json!({"totp": false, "totp_pending": false, "recovery_codes_left": 0, "passkeys": []})
    );
    assert_eq!(
        app.sign_in(&enrolled.user.email, PASSWORD).await.status,
        201
    );
    app.delete("/v1/me/mfa/totp", &strong, Some(json!({})))
        .await
        .assert_problem(409, "mfa_not_enabled");
}

#[tokio::test]
async fn a_mailed_sign_in_code_is_a_first_factor_only() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let enrolled = enrolled(&app).await;
    let email = &enrolled.user.email;
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "email", "to": email, "purpose": "sign_in"}),
    )
    .await;
    let code = code_in(&smtp.wait_for_mail(email, "Your code to sign in").await);
    let signed_in = app
        .post("/v1/sessions", None, json!({"email": email, "code": code}))
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["mfa_required"], true);
    next_step(&app);
    let session = answer(
        &app,
        signed_in.body["challenge"].as_str().expect("challenge"),
        json!({"totp_code": code_now(&app, &enrolled.secret)}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let sessions = app
        .get(
            "/v1/sessions",
            Some(session.body["token"].as_str().expect("token")),
        )
        .await;
    let current = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["current"] == true)
        .cloned()
        .expect("current");
    assert_eq!(current["methods"], json!(["code", "totp"]));
}

#[tokio::test]
async fn an_unproven_address_cannot_add_a_second_factor() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.post(
        "/v1/me/mfa/totp",
        Some(&user.token),
        json!({"password": PASSWORD}),
    )
    .await
    .assert_problem(409, "email_not_verified");
    app.post(
        "/v1/me/mfa/totp/confirm",
        Some(&user.token),
        json!({"code": "123456"}),
    )
    .await
    .assert_problem(409, "totp_not_pending");
}

#[tokio::test]
async fn totp_secrets_and_recovery_codes_are_nowhere_in_clear() {
    let app = spawn_pipeline().await;
    let enrolled = enrolled(&app).await;
    let base32 = totp_rs::Secret::Raw(enrolled.secret.clone())
        .to_encoded()
        .to_string();
    let mut secrets = vec![base32.clone(), hex::encode(&enrolled.secret)];
    for code in &enrolled.recovery_codes {
        secrets.push(code.clone());
        secrets.push(code.replace('-', ""));
    }
    let dump: String = app
        .db
        .query_one(
            "SELECT string_agg(data::text || metadata::text, ' ') FROM events",
            &[],
        )
        .await
        .expect("dump")
        .get(0);
    let snapshots: String = app
        .db
        .query_one(
            "SELECT coalesce(string_agg(state::text, ' '), '') FROM stream_snapshots",
            &[],
        )
        .await
        .expect("snapshots")
        .get(0);
    for secret in &secrets {
        assert!(!dump.contains(secret.as_str()), "{secret} is in the log");
        assert!(
            !snapshots.contains(secret.as_str()),
            "{secret} is in a snapshot"
        );
    }
    assert!(dump.contains("TotpEnabled") || app.count_events(Some("TotpEnabled")).await == 1);

    let position = app.count_events(None).await;
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let stream = async_nats::jetstream::new(nats)
        .get_stream(&app.config.nats_stream)
        .await
        .expect("stream");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let published = loop {
        let mut stream = stream.clone();
        let published = stream.info().await.expect("info").state.messages;
        if i64::try_from(published).expect("count") >= position {
            break published;
        }
        assert!(std::time::Instant::now() < deadline, "the relay publishes");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for sequence in 1..=published {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let payload = String::from_utf8_lossy(&message.payload);
        for secret in &secrets {
            assert!(!payload.contains(secret.as_str()), "{secret} is in NATS");
        }
    }
}

#[tokio::test]
async fn credentials_identifiers_and_deletion_need_the_second_factor_too() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let token = &enrolled.user.token;
    let new_password = "quiet violet lantern harbor";
    let change = |mfa_code: Option<&str>| {
        let mut body = json!({"current_password": PASSWORD, "new_password": new_password});
        if let Some(code) = mfa_code {
            body["mfa_code"] = code.into();
        }
        body
    };
    app.put("/v1/me/password", token, change(None))
        .await
        .assert_problem(403, "mfa_step_up_required");
    let wrong = app
        .put("/v1/me/password", token, change(Some("111111")))
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(
        wrong.field_errors(),
        vec![("mfa_code".to_owned(), "mfa_code_invalid".to_owned())]
    );
    // Refused before any code is looked at.
    app.put(
        "/v1/me/email",
        token,
        json!({"email": "new@example.com", "code": "123456", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "mfa_step_up_required");
    app.put(
        "/v1/me/phone",
        token,
        json!({"phone": "+8613812345678", "code": "123456", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "mfa_step_up_required");
    app.delete("/v1/me", token, Some(json!({"password": PASSWORD})))
        .await
        .assert_problem(403, "mfa_step_up_required");

    next_step(&app);
    let code = code_now(&app, &enrolled.secret);
    let changed = app.put("/v1/me/password", token, change(Some(&code))).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    // The time step is spent: the same code proves nothing twice.
    let replayed = app
        .delete(
            "/v1/me",
            token,
            Some(json!({"password": new_password, "mfa_code": code})),
        )
        .await;
    replayed.assert_problem(422, "validation_failed");
    let deleted = app
        .delete(
            "/v1/me",
            token,
            Some(json!({"password": new_password, "mfa_code": enrolled.recovery_codes[9]})),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

#[tokio::test]
async fn an_administrator_removes_a_users_second_factors_and_lists_who_has_one() {
    let app = spawn_pipeline().await;
    let enrolled = enrolled(&app).await;
    let plain = app.new_user().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let path = format!("/v1/admin/users/{}/mfa", enrolled.user.id);
    app.delete(&path, &plain.token, None)
        .await
        .assert_problem(403, "forbidden");

    let listed = |answer: Answer| -> Vec<String> {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let query = |position: i64, mfa: bool| {
        format!(
            "/v1/admin/users?ids={},{}&mfa_enabled={mfa}&fields=id,mfa_enabled&min_position={position}",
            enrolled.user.id, plain.id
        )
    };
    let position = app.count_events(None).await;
    let with = app.get(&query(position, true), Some(&owner.token)).await;
    assert_eq!(with.body["items"][0]["mfa_enabled"], true, "{}", with.body);
    assert_eq!(listed(with), vec![enrolled.user.id.to_string()]);
    let without = app.get(&query(position, false), Some(&owner.token)).await;
    assert_eq!(listed(without), vec![plain.id.to_string()]);

    let reset = app.delete(&path, &owner.token, None).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let event = app
        .db
        .query_one(
            "SELECT data, metadata FROM events
             WHERE stream_id = $1 AND event_type = 'SecondFactorsReset'",
            &[&enrolled.user.id],
        )
        .await
        .expect("event");
    let (data, metadata): (Value, Value) = (event.get(0), event.get(1));
    assert_eq!(data["administrator"], owner.id.to_string());
    assert_eq!(metadata["actor"], owner.id.to_string());
    // Every session of the account ended with its factors.
    app.get("/v1/me", Some(&enrolled.user.token))
        .await
        .assert_problem(401, "unauthenticated");
    let signed_in = app.sign_in(&enrolled.user.email, PASSWORD).await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    assert_eq!(
        mfa_of(&app, signed_in.body["token"].as_str().expect("token")).await,
        json!({"totp": false, "totp_pending": false, "recovery_codes_left": 0, "passkeys": []})
    );
    let with = app
        .get(&query(reset.position(), true), Some(&owner.token))
        .await;
    assert!(listed(with).is_empty());
}

#[tokio::test]
async fn the_operator_can_require_administrators_to_have_a_second_factor() {
    let app = spawn_app_with(|config| {
        config.require_mfa_for_admins = true;
        config.relay = true;
        config.projector = true;
    })
    .await;
    let owner = app.new_user().await;
    let user = app.new_user().await;
    make_owner(&app, &owner).await;
    app.get("/v1/admin/users", Some(&owner.token))
        .await
        .assert_problem(403, "mfa_enrolment_required");
    app.post(
        &format!("/v1/admin/users/{}/block", user.id),
        Some(&owner.token),
        json!({}),
    )
    .await
    .assert_problem(403, "mfa_enrolment_required");
    // Users are told they are not administrators, not what administrators need.
    app.get("/v1/admin/users", Some(&user.token))
        .await
        .assert_problem(403, "forbidden");

    enrol(&app, &owner).await;
    let listed = app.get("/v1/admin/users", Some(&owner.token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let blocked = app
        .post(
            &format!("/v1/admin/users/{}/block", user.id),
            Some(&owner.token),
            json!({}),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.body);
}

#[tokio::test]
async fn the_owner_is_mailed_when_a_second_factor_is_added_or_removed() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let enrolled = enrolled(&app).await;
    let email = &enrolled.user.email;
    smtp.wait_for_mail(email, "Two-factor authentication is on")
        .await;
    next_step(&app);
    let removed = app
        .delete(
            "/v1/me/mfa/totp",
            &enrolled.user.token,
            Some(json!({"mfa_code": code_now(&app, &enrolled.secret)})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    smtp.wait_for_mail(email, "Two-factor authentication is off")
        .await;
    // Recorded as sent once the server took them (the sink has them already).
    let expected = vec![
        ("TotpEnabled".to_owned(), "sent".to_owned()),
        ("TotpRemoved".to_owned(), "sent".to_owned()),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let deliveries: Vec<(String, String)> = app
            .db
            .query(
                "SELECT e.event_type, d.status FROM message_deliveries d
                 JOIN events e USING (event_id) WHERE e.stream_id = $1 ORDER BY e.position",
                &[&enrolled.user.id],
            )
            .await
            .expect("deliveries")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        if deliveries == expected {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{deliveries:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The `n`-th (from 1) code texted to `phone` for `purpose`.
async fn nth_text_code(gateway: &SmsGateway, phone: &str, purpose: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let codes: Vec<String> = gateway
            .texts()
            .iter()
            .filter(|(_, text)| text["to"] == phone && text["purpose"] == purpose)
            .map(|(_, text)| {
                text["text"]
                    .as_str()
                    .unwrap_or_default()
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|word| word.len() == 6)
                    .expect("a 6-digit code")
                    .to_owned()
            })
            .collect();
        if let Some(code) = codes.get(n - 1) {
            return code.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no text {n} to {phone}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_account_without_a_password_enrols_only_from_a_fresh_sign_in_and_texts_answer_a_challenge()
 {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let phone = format!("+86139{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000);
    let sign_in = async |n: usize| {
        app.post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
        )
        .await;
        let code = nth_text_code(&gateway, &phone, "sign_in", n).await;
        app.post(
            "/v1/sessions/sms",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await
    };
    let signed_up = sign_in(1).await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let old = signed_up.body["token"].as_str().expect("token").to_owned();
    app.clock.advance(chrono::Duration::minutes(11));
    // A session alone, however old, adds no factor that would lock the owner out.
    app.post("/v1/me/mfa/totp", Some(&old), json!({}))
        .await
        .assert_problem(403, "recent_sign_in_required");
    let fresh = sign_in(2).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    let token = fresh.body["token"].as_str().expect("token");
    let started = app.post("/v1/me/mfa/totp", Some(token), json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert!(
        started.body["otpauth_uri"]
            .as_str()
            .expect("uri")
            .contains(&phone.replace('+', "%2B")),
        "{}",
        started.body
    );
    let secret = secret_of(&started);
    let confirmed = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(token),
            json!({"code": code_now(&app, &secret)}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);

    app.clock.advance(chrono::Duration::minutes(2));
    let challenged = sign_in(3).await;
    assert_eq!(
        challenged.status,
        StatusCode::ACCEPTED,
        "{}",
        challenged.body
    );
    assert_eq!(challenged.body["mfa_required"], true);
    let session = answer(
        &app,
        challenged.body["challenge"].as_str().expect("challenge"),
        json!({"totp_code": code_now(&app, &secret)}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
}

#[tokio::test]
async fn what_cannot_be_a_code_is_refused_by_name_and_counts_nothing() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let challenge = challenge(&app, &enrolled.user).await;
    for (field, value) in [
        ("totp_code", ""),
        ("totp_code", "12345"),
        ("totp_code", "１２３４５６"),
        ("totp_code", "+123456"),
        ("recovery_code", "ABCDE-FGHJ"),
        ("recovery_code", "123456"),
    ] {
        let refused = answer(&app, &challenge, json!({ field: value })).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(
            refused.field_errors(),
            vec![(field.to_owned(), "mfa_code_malformed".to_owned())],
            "{value:?}"
        );
    }
    next_step(&app);
    // Spaces and hyphens, as apps show codes, do not matter.
    let code = code_now(&app, &enrolled.secret);
    let typed = format!(" {}-{} ", &code[..3], &code[3..]);
    let session = answer(&app, &challenge, json!({ "totp_code": typed })).await;
    assert_eq!(
        session.status,
        StatusCode::CREATED,
        "the challenge lives: {}",
        session.body
    );

    // A blank step-up code is no code.
    app.post(
        "/v1/me/mfa/recovery-codes",
        Some(&enrolled.user.token),
        json!({"mfa_code": " "}),
    )
    .await
    .assert_problem(403, "mfa_step_up_required");
    let malformed = app
        .post(
            "/v1/me/mfa/recovery-codes",
            Some(&enrolled.user.token),
            json!({"mfa_code": "12-34"}),
        )
        .await;
    assert_eq!(
        malformed.field_errors(),
        vec![("mfa_code".to_owned(), "mfa_code_malformed".to_owned())]
    );
}

#[tokio::test]
async fn a_sessions_wrong_step_ups_do_not_lock_its_owners_sign_in() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    for n in 0..10 {
        app.post(
            "/v1/me/mfa/recovery-codes",
            Some(&enrolled.user.token),
            json!({"mfa_code": format!("{n:06}")}),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    app.post(
        "/v1/me/mfa/recovery-codes",
        Some(&enrolled.user.token),
        json!({"mfa_code": enrolled.recovery_codes[0]}),
    )
    .await
    .assert_problem(429, "too_many_requests");
    let failures = app
        .event_types(enrolled.user.id)
        .await
        .iter()
        .filter(|event_type| *event_type == "StepUpFailed")
        .count();
    assert_eq!(
        failures, 10,
        "each wrong step-up is in the account's history"
    );
    let challenge = challenge(&app, &enrolled.user).await;
    let session = answer(
        &app,
        &challenge,
        json!({"recovery_code": enrolled.recovery_codes[0]}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
}

#[tokio::test]
async fn an_ended_sessions_keys_replay_no_secret_and_a_key_tried_with_many_bodies_replays_nothing()
{
    let app = spawn_app().await;
    let user = app.new_user().await;
    given_email_verified(&app, &user).await;
    let enrol = |key: &'static str| {
        let app = &app;
        let token = user.token.clone();
        async move {
            app.send(
                reqwest::Method::POST,
                "/v1/me/mfa/totp",
                Some(&token),
                Some(json!({"password": PASSWORD})),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = enrol("enrol-1").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // A secret is shown once: a retry under the key is told so, not shown it again.
    let replayed = enrol("enrol-1").await;
    replayed.assert_problem(409, "shown_once");
    assert!(replayed.body.get("secret").is_none());
    let secret = secret_of(&first);
    let code = code_now(&app, &secret);
    let confirm = |body: Value| {
        let app = &app;
        let token = user.token.clone();
        async move {
            app.send(
                reqwest::Method::POST,
                "/v1/me/mfa/totp/confirm",
                Some(&token),
                Some(body),
                &[("Idempotency-Key", "confirm-1")],
            )
            .await
        }
    };
    let confirmed = confirm(json!({ "code": code })).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    // Five other bodies under the key: it replays nothing after, not even to its own body.
    for guess in 0..5 {
        confirm(json!({"code": format!("{guess:06}")}))
            .await
            .assert_problem(422, "idempotency_key_reused");
    }
    confirm(json!({ "code": code }))
        .await
        .assert_problem(422, "idempotency_key_reused");

    // Once the session ends, its keys give their answers to nobody.
    let patch = || {
        app.send(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&user.token),
            Some(json!({"bio": "mine"})),
            &[("Idempotency-Key", "patch-1")],
        )
    };
    assert_eq!(patch().await.status, StatusCode::OK);
    assert_eq!(
        patch().await.body["bio"],
        "mine",
        "a live session's retry replays"
    );
    let ended = app.delete("/v1/sessions/current", &user.token, None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    let after = patch().await;
    after.assert_problem(401, "unauthenticated");
    assert!(after.body.get("bio").is_none());
}

#[tokio::test]
async fn a_pending_enrolment_is_not_confirmed_by_trying_codes() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    given_email_verified(&app, &user).await;
    let started = app
        .post(
            "/v1/me/mfa/totp",
            Some(&user.token),
            json!({"password": PASSWORD}),
        )
        .await;
    let secret = secret_of(&started);
    let statuses = futures::future::join_all((0..30).map(|n| {
        let app = &app;
        let token = user.token.clone();
        async move {
            app.post(
                "/v1/me/mfa/totp/confirm",
                Some(&token),
                json!({"code": format!("{:06}", 900_000 + n)}),
            )
            .await
            .status
            .as_u16()
        }
    }))
    .await;
    let wrong = statuses.iter().filter(|status| **status == 422).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!((wrong, limited), (10, 20), "{statuses:?}");
    app.post(
        "/v1/me/mfa/totp/confirm",
        Some(&user.token),
        json!({"code": code_now(&app, &secret)}),
    )
    .await
    .assert_problem(429, "too_many_requests");
}
