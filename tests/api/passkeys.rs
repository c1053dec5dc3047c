//! Passkeys over HTTP with a real WebAuthn authenticator (`webauthn-authenticator-rs`'s
//! `SoftPasskey`, which signs with its own P-256 keys): registration, the sign-in challenge
//! answered with an assertion, passwordless sign-in, removal as a step-up, and what is refused
//! (another authenticator, no user verification, a ceremony of another session or used twice,
//! parallel finishes). The discoverable flow in a browser is `tests/browser/passkeys.mjs`.

use crate::helpers::*;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// The origin the test service's relying party takes.
fn origin() -> Url {
    Url::parse("https://accounts.test").expect("origin")
}

/// A software authenticator that verifies its user (as a PIN or biometric would).
fn authenticator() -> WebauthnAuthenticator<SoftPasskey> {
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

/// The authenticator's answer to creation `options`, as the browser's JSON.
fn create(authenticator: &mut WebauthnAuthenticator<SoftPasskey>, options: &Value) -> Value {
    let options = serde_json::from_value(options.clone()).expect("creation options");
    let credential = authenticator
        .do_registration(origin(), options)
        .expect("registration");
    serde_json::to_value(credential).expect("credential")
}

/// The authenticator's assertion for request `options`, as the browser's JSON.
fn get(authenticator: &mut WebauthnAuthenticator<SoftPasskey>, options: &Value) -> Value {
    let options = serde_json::from_value(options.clone()).expect("request options");
    let assertion = authenticator
        .do_authentication(origin(), options)
        .expect("assertion");
    serde_json::to_value(assertion).expect("assertion")
}

/// Begins a registration for `user` with the password: the ceremony and its options.
async fn start_registration(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post("/v1/me/passkeys/register/start", Some(token), body)
        .await
}

async fn finish_registration(
    app: &TestApp,
    token: &str,
    ceremony: &str,
    credential: Value,
) -> Answer {
    app.post(
        "/v1/me/passkeys/register/finish",
        Some(token),
        json!({"ceremony": ceremony, "name": "laptop", "credential": credential}),
    )
    .await
}

/// Registers a passkey of `authenticator` for `user` (whose address is proven, without a second
/// factor): the finish's answer.
async fn register(
    app: &TestApp,
    user: &User,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
) -> Value {
    let started = start_registration(app, &user.token, json!({"password": PASSWORD})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = create(authenticator, &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let finished = finish_registration(app, &user.token, ceremony, credential).await;
    assert_eq!(finished.status, StatusCode::CREATED, "{}", finished.body);
    // The registering session proved the new passkey; that proof ages past the step-up
    // window, as it has for a session used later.
    app.clock
        .advance(accounts::domain::account::STEP_UP_WINDOW + chrono::Duration::minutes(1));
    finished.body
}

/// A user whose address is proven, with a passkey of `key` registered: the finish's answer.
async fn user_with_passkey(app: &TestApp) -> (User, WebauthnAuthenticator<SoftPasskey>, Value) {
    let user = verified_user(app).await;
    let mut key = authenticator();
    let registered = register(app, &user, &mut key).await;
    (user, key, registered)
}

async fn verified_user(app: &TestApp) -> User {
    let user = app.new_user().await;
    given_email_verified(app, &user).await;
    user
}

/// Signs in with the password: the challenge's body.
async fn challenged(app: &TestApp, user: &User) -> Value {
    let answer = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["mfa_required"], true);
    answer.body
}

async fn answer_with(app: &TestApp, challenge: &Value, assertion: Value) -> Answer {
    app.post(
        "/v1/sessions/mfa",
        None,
        json!({"challenge": challenge["challenge"], "passkey_assertion": assertion}),
    )
    .await
}

#[tokio::test]
async fn a_passkey_is_registered_listed_and_then_answers_the_sign_in_challenge() {
    let app = spawn_app().await;
    let user = verified_user(&app).await;
    let mut key = authenticator();
    let started = start_registration(&app, &user.token, json!({"password": PASSWORD})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let public_key = &started.body["options"]["publicKey"];
    assert_eq!(public_key["rp"]["id"], "accounts.test");
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let user_handle = public_key["user"]["id"].as_str().expect("user handle");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(user_handle)
            .expect("base64url"),
        user.id.as_bytes(),
        "the user handle is the account's id, no personal data"
    );
    let credential = create(&mut key, &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let finished = finish_registration(&app, &user.token, ceremony, credential).await;
    assert_eq!(finished.status, StatusCode::CREATED, "{}", finished.body);
    assert_eq!(finished.body["passkey"]["name"], "laptop");
    let codes = finished.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(
        codes.len(),
        10,
        "the first second factor brings recovery codes"
    );

    let mfa = app.get("/v1/me/mfa", Some(&user.token)).await;
    assert_eq!(mfa.body["totp"], false);
    assert_eq!(mfa.body["recovery_codes_left"], 10);
    assert_eq!(
        mfa.body["passkeys"][0]["id"],
        finished.body["passkey"]["id"]
    );
    assert!(mfa.body["passkeys"][0].get("last_used_at").is_none());

    let challenge = challenged(&app, &user).await;
    assert_eq!(challenge["methods"], json!(["passkey", "recovery_code"]));
    let options = &challenge["passkey_options"];
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the account's passkey: {options}"
    );
    let assertion = get(&mut key, options);
    let signed_in = answer_with(&app, &challenge, assertion.clone()).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    let token = signed_in.body["token"].as_str().expect("token");
    let sessions = app.get("/v1/sessions", Some(token)).await;
    let this = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["id"] == signed_in.body["session_id"])
        .expect("the new session")
        .clone();
    assert_eq!(this["aal"], "aal2");
    assert_eq!(this["methods"], json!(["password", "passkey"]));
    let mfa = app.get("/v1/me/mfa", Some(token)).await;
    assert!(mfa.body["passkeys"][0]["last_used_at"].is_string());

    // The same assertion again, on a new challenge, is refused: its WebAuthn challenge was
    // the old one's.
    let again = challenged(&app, &user).await;
    answer_with(&app, &again, assertion)
        .await
        .assert_problem(401, "mfa_invalid");
}

#[tokio::test]
async fn another_authenticator_or_one_that_does_not_verify_its_user_is_refused() {
    let app = spawn_app().await;
    let (user, _, _) = user_with_passkey(&app).await;

    // A passkey registered nowhere here, answering with its own credential.
    let mut stranger = authenticator();
    let other = verified_user(&app).await;
    register(&app, &other, &mut stranger).await;
    let challenge = challenged(&app, &user).await;
    let mut options = challenge["passkey_options"].clone();
    let other_challenge = challenged(&app, &other).await;
    options["publicKey"]["allowCredentials"] =
        other_challenge["passkey_options"]["publicKey"]["allowCredentials"].clone();
    let assertion = get(&mut stranger, &options);
    answer_with(&app, &challenge, assertion)
        .await
        .assert_problem(401, "mfa_invalid");

    // A client that tells its authenticator user verification does not matter registers
    // nothing: the ceremony required it.
    let mut careless = WebauthnAuthenticator::new(SoftPasskey::new(false));
    let third = verified_user(&app).await;
    let started = start_registration(&app, &third.token, json!({"password": PASSWORD})).await;
    let mut options = started.body["options"].clone();
    options["publicKey"]["authenticatorSelection"]["userVerification"] = json!("discouraged");
    let credential = create(&mut careless, &options);
    let refused = finish_registration(
        &app,
        &third.token,
        started.body["ceremony"].as_str().expect("ceremony"),
        credential,
    )
    .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(
        refused.field_errors(),
        vec![(
            "credential".to_owned(),
            "passkey_credential_invalid".to_owned()
        )]
    );
    let mfa = app.get("/v1/me/mfa", Some(&third.token)).await;
    assert_eq!(mfa.body["passkeys"], json!([]));
}

#[tokio::test]
async fn a_registration_needs_the_password_a_proven_address_and_its_own_live_ceremony() {
    let app = spawn_app().await;
    let unproven = app.new_user().await;
    start_registration(&app, &unproven.token, json!({"password": PASSWORD}))
        .await
        .assert_problem(409, "email_not_verified");

    let user = verified_user(&app).await;
    let without = start_registration(&app, &user.token, json!({})).await;
    without.assert_problem(422, "validation_failed");
    assert_eq!(
        without.field_errors(),
        vec![("password".to_owned(), "required".to_owned())]
    );
    start_registration(
        &app,
        &user.token,
        json!({"password": "not the password at all"}),
    )
    .await
    .assert_problem(403, "wrong_password");

    let mut key = authenticator();
    let started = start_registration(&app, &user.token, json!({"password": PASSWORD})).await;
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let credential = create(&mut key, &started.body["options"]);
    // Another session of the same account cannot finish it.
    let other_session = app.sign_in(&user.email, PASSWORD).await;
    let other_token = other_session.body["token"].as_str().expect("token");
    finish_registration(&app, other_token, ceremony, credential.clone())
        .await
        .assert_problem(401, "passkey_challenge_expired");
    // A bad name is refused before the ceremony is spent.
    let named = app
        .post(
            "/v1/me/passkeys/register/finish",
            Some(&user.token),
            json!({"ceremony": ceremony, "name": "  ", "credential": credential}),
        )
        .await;
    named.assert_problem(422, "validation_failed");
    assert_eq!(
        named.field_errors(),
        vec![("name".to_owned(), "invalid_passkey_name".to_owned())]
    );
    let finished = finish_registration(&app, &user.token, ceremony, credential.clone()).await;
    assert_eq!(finished.status, StatusCode::CREATED, "{}", finished.body);
    finish_registration(&app, &user.token, ceremony, credential)
        .await
        .assert_problem(401, "passkey_challenge_expired");
    // The registering session's proof of the passkey ages past the step-up window.
    app.clock
        .advance(accounts::domain::account::STEP_UP_WINDOW + chrono::Duration::minutes(1));

    // With a second factor on, a second passkey needs the step-up too, and brings no new
    // recovery codes.
    let started = start_registration(&app, &user.token, json!({"password": PASSWORD})).await;
    started.assert_problem(403, "mfa_step_up_required");
    let code = finished.body["recovery_codes"][0].as_str().expect("code");
    let started = start_registration(
        &app,
        &user.token,
        json!({"password": PASSWORD, "mfa_code": code}),
    )
    .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let excluded = &started.body["options"]["publicKey"]["excludeCredentials"];
    assert_eq!(
        excluded.as_array().map(Vec::len),
        Some(1),
        "the first is excluded"
    );
    let mut second_key = authenticator();
    let credential = create(&mut second_key, &started.body["options"]);
    let second = finish_registration(
        &app,
        &user.token,
        started.body["ceremony"].as_str().expect("ceremony"),
        credential,
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert!(second.body.get("recovery_codes").is_none());
    let mfa = app.get("/v1/me/mfa", Some(&user.token)).await;
    assert_eq!(mfa.body["passkeys"].as_array().map(Vec::len), Some(2));
    assert_eq!(mfa.body["recovery_codes_left"], 9);
}

#[tokio::test]
async fn removing_a_passkey_is_a_step_up_and_the_last_one_takes_the_recovery_codes() {
    let app = spawn_app().await;
    let (user, mut key, registered) = user_with_passkey(&app).await;
    let id = registered["passkey"]["id"].as_str().expect("id");
    let path = format!("/v1/me/passkeys/{id}");
    // The registering session proved no second factor.
    app.delete(&path, &user.token, Some(json!({})))
        .await
        .assert_problem(403, "mfa_step_up_required");
    // A session signed in with the passkey is its own step-up for 10 minutes.
    let challenge = challenged(&app, &user).await;
    let assertion = get(&mut key, &challenge["passkey_options"]);
    let signed_in = answer_with(&app, &challenge, assertion).await;
    let token = signed_in.body["token"].as_str().expect("token");
    app.delete(
        &format!("/v1/me/passkeys/{}", uuid::Uuid::new_v4()),
        token,
        Some(json!({})),
    )
    .await
    .assert_problem(404, "passkey_not_found");
    let removed = app.delete(&path, token, Some(json!({}))).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    // The sessions the passkey signed in or registered it went with it.
    for ended in [token, user.token.as_str()] {
        app.get("/v1/me", Some(ended))
            .await
            .assert_problem(401, "unauthenticated");
    }
    let plain = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
    let token = plain.body["token"].as_str().expect("token");
    let mfa = app.get("/v1/me/mfa", Some(token)).await;
    assert_eq!(mfa.body["passkeys"], json!([]));
    assert_eq!(mfa.body["recovery_codes_left"], 0);
}

#[tokio::test]
async fn removing_a_stolen_passkey_ends_every_session_it_signed_in_or_stepped_up() {
    let app = spawn_app().await;
    let user = verified_user(&app).await;
    let mut own = authenticator();
    let first = register(&app, &user, &mut own).await;
    let code = first["recovery_codes"][0].as_str().expect("code");
    // A second passkey, which the thief holds.
    let started = start_registration(
        &app,
        &user.token,
        json!({"password": PASSWORD, "mfa_code": code}),
    )
    .await;
    let mut stolen = authenticator();
    let credential = create(&mut stolen, &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let second = finish_registration(&app, &user.token, ceremony, credential).await;
    let stolen_id = second.body["passkey"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The thief signs in with it alone, and steps up another session with it.
    let challenge = challenged(&app, &user).await;
    let options = &challenge["passkey_options"];
    let all = options["publicKey"]["allowCredentials"].clone();
    let signed_in = answer_with(&app, &challenge, get(&mut stolen, options)).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    let thief = signed_in.body["token"].as_str().expect("token").to_owned();
    let started = passwordless_start(&app).await;
    let alone = finish_passwordless(&app, &started, pick(&mut stolen, &started, &all, &user)).await;
    assert_eq!(alone.status, StatusCode::CREATED, "{}", alone.body);
    let thief_alone = alone.body["token"].as_str().expect("token").to_owned();
    let plain = verified_session(&app, &user, &mut own).await;
    let step = begin_step_up(&app, &plain).await;
    let proven = finish_step_up(
        &app,
        &plain,
        &step.body["ceremony"],
        get(&mut stolen, &step.body["options"]),
    )
    .await;
    assert_eq!(proven.status, StatusCode::NO_CONTENT, "{}", proven.body);

    // The owner removes it from the session its own passkey signed in.
    let owner = verified_session(&app, &user, &mut own).await;
    let removed = app
        .delete(
            &format!("/v1/me/passkeys/{stolen_id}"),
            &owner,
            Some(json!({})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    for token in [&thief, &thief_alone, &plain] {
        app.get("/v1/me", Some(token))
            .await
            .assert_problem(401, "unauthenticated");
    }
    let me = app.get("/v1/me", Some(&owner)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

/// A session of `user` signed in with the password and `key` as the second factor.
async fn verified_session(
    app: &TestApp,
    user: &User,
    key: &mut WebauthnAuthenticator<SoftPasskey>,
) -> String {
    let challenge = challenged(app, user).await;
    let signed_in = answer_with(app, &challenge, get(key, &challenge["passkey_options"])).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    signed_in.body["token"].as_str().expect("token").to_owned()
}

async fn finish_passwordless(app: &TestApp, started: &Value, credential: Value) -> Answer {
    app.post(
        "/v1/sessions/passkey/finish",
        None,
        json!({"ceremony": started["ceremony"], "credential": credential}),
    )
    .await
}

/// `assertion` as a discoverable authenticator returns it: with the user handle it keeps
/// (`SoftPasskey` keeps none; the handle is outside the signed data, so the signature stands).
fn with_user_handle(mut assertion: Value, user: &User) -> Value {
    assertion["response"]["userHandle"] =
        json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(user.id.as_bytes()));
    assertion
}

/// Begins a passwordless sign-in: the ceremony's body.
async fn passwordless_start(app: &TestApp) -> Value {
    let started = app
        .post("/v1/sessions/passkey/start", None, json!({}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    started.body
}

/// The authenticator's discoverable assertion for `started`, its credential picked as a user
/// picks it in the browser's account chooser.
fn pick(
    key: &mut WebauthnAuthenticator<SoftPasskey>,
    started: &Value,
    allow: &Value,
    user: &User,
) -> Value {
    let mut options = started["options"].clone();
    options["publicKey"]["allowCredentials"] = allow.clone();
    with_user_handle(get(key, &options), user)
}

#[tokio::test]
async fn a_discoverable_passkey_signs_in_alone_at_aal2_once_per_ceremony() {
    let app = spawn_app().await;
    let (user, mut key, _) = user_with_passkey(&app).await;
    let allow =
        challenged(&app, &user).await["passkey_options"]["publicKey"]["allowCredentials"].clone();

    let started = passwordless_start(&app).await;
    let public_key = &started["options"]["publicKey"];
    assert!(
        public_key.get("allowCredentials").is_none() || public_key["allowCredentials"] == json!([]),
        "any passkey of the RP: {public_key}"
    );
    assert_eq!(public_key["userVerification"], "required");
    let assertion = pick(&mut key, &started, &allow, &user);
    let finish = |ceremony: &Value, credential: Value| {
        app.post(
            "/v1/sessions/passkey/finish",
            None,
            json!({"ceremony": ceremony, "credential": credential}),
        )
    };
    let signed_in = finish(&started["ceremony"], assertion.clone()).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    assert_eq!(signed_in.body["account"]["id"], user.id.to_string());
    let token = signed_in.body["token"].as_str().expect("token");
    let sessions = app.get("/v1/sessions", Some(token)).await;
    let this = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["id"] == signed_in.body["session_id"])
        .expect("the session")
        .clone();
    assert_eq!(this["aal"], "aal2");
    assert_eq!(this["methods"], json!(["passkey"]));
    // The ceremony is spent.
    finish(&started["ceremony"], assertion.clone())
        .await
        .assert_problem(401, "passkey_challenge_expired");
    // Its assertion does not answer another ceremony (another WebAuthn challenge).
    let other = passwordless_start(&app).await;
    finish(&other["ceremony"], assertion)
        .await
        .assert_problem(401, "passkey_invalid");
    // A user handle naming another account does not borrow this passkey.
    let stranger = verified_user(&app).await;
    let third = passwordless_start(&app).await;
    let borrowed = pick(&mut key, &third, &allow, &stranger);
    finish(&third["ceremony"], borrowed)
        .await
        .assert_problem(401, "passkey_invalid");
    // What is no credential at all.
    let fourth = passwordless_start(&app).await;
    let malformed = finish(&fourth["ceremony"], json!({"id": "x"})).await;
    malformed.assert_problem(422, "validation_failed");
    assert_eq!(
        malformed.field_errors(),
        vec![(
            "credential".to_owned(),
            "passkey_credential_malformed".to_owned()
        )]
    );
    // A refused assertion is in the account's history.
    let events = app.get("/v1/me/events", Some(token)).await;
    assert!(
        events.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|event| event["type"] == "SignInFailed"
                && event["data"]["reason"] == "passkey_invalid"),
        "{}",
        events.body
    );
}

#[tokio::test]
async fn a_blocked_account_is_told_so_only_after_its_passkey_is_proven() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let (user, mut key, _) = user_with_passkey(&app).await;
    let allow =
        challenged(&app, &user).await["passkey_options"]["publicKey"]["allowCredentials"].clone();
    let blocked = app
        .post(
            &format!("/v1/admin/users/{}/block", user.id),
            Some(&owner.token),
            json!({}),
        )
        .await;
    assert!(blocked.status.is_success(), "{}", blocked.body);
    let started = passwordless_start(&app).await;
    let assertion = pick(&mut key, &started, &allow, &user);
    app.post(
        "/v1/sessions/passkey/finish",
        None,
        json!({"ceremony": started["ceremony"], "credential": assertion}),
    )
    .await
    .assert_problem(403, "account_blocked");
}

#[tokio::test]
async fn thirty_parallel_finishes_of_one_ceremony_or_challenge_start_one_session() {
    let app = spawn_app().await;
    let (user, mut key, _) = user_with_passkey(&app).await;

    let challenge = challenged(&app, &user).await;
    let assertion = get(&mut key, &challenge["passkey_options"]);
    let answers = futures::future::join_all(
        (0..30).map(|_| answer_with(&app, &challenge, assertion.clone())),
    )
    .await;
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "one session from one challenge");
    assert!(
        answers
            .iter()
            .all(|answer| answer.status == StatusCode::CREATED
                || answer.status == StatusCode::UNAUTHORIZED)
    );

    let allow = challenge["passkey_options"]["publicKey"]["allowCredentials"].clone();
    let started = passwordless_start(&app).await;
    let assertion = pick(&mut key, &started, &allow, &user);
    let answers = futures::future::join_all((0..30).map(|_| {
        app.post(
            "/v1/sessions/passkey/finish",
            None,
            json!({"ceremony": started["ceremony"], "credential": assertion}),
        )
    }))
    .await;
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "one session from one ceremony");
}

#[tokio::test]
async fn thirty_parallel_finishes_of_one_registration_register_one_passkey() {
    let app = spawn_app().await;
    let user = verified_user(&app).await;
    let started = start_registration(&app, &user.token, json!({"password": PASSWORD})).await;
    let credential = create(&mut authenticator(), &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let answers = futures::future::join_all(
        (0..30).map(|_| finish_registration(&app, &user.token, ceremony, credential.clone())),
    )
    .await;
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    let mfa = app.get("/v1/me/mfa", Some(&user.token)).await;
    assert_eq!(mfa.body["passkeys"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn passwordless_starts_are_limited_per_client_address_even_in_parallel() {
    let app = spawn_app().await;
    let answers = futures::future::join_all(
        (0..70).map(|_| app.post("/v1/sessions/passkey/start", None, json!({}))),
    )
    .await;
    let started = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::OK)
        .count();
    assert_eq!(started, 60);
    let refused = answers
        .iter()
        .find(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("a refusal");
    assert!(refused.retry_after() > 0);
}

#[tokio::test]
async fn an_administrator_sees_a_passkey_as_a_second_factor_and_removes_it() {
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let (user, _, _) = user_with_passkey(&app).await;
    let listed = |mfa: bool, position: i64| {
        format!(
            "/v1/admin/users?ids={}&mfa_enabled={mfa}&fields=id,mfa_enabled&min_position={position}",
            user.id
        )
    };
    let position = app.count_events(None).await;
    let with = app.get(&listed(true, position), Some(&owner.token)).await;
    assert_eq!(
        with.body["items"][0]["id"],
        user.id.to_string(),
        "{}",
        with.body
    );
    assert_eq!(with.body["items"][0]["mfa_enabled"], true);

    let reset = app
        .delete(
            &format!("/v1/admin/users/{}/mfa", user.id),
            &owner.token,
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let position = app.count_events(None).await;
    let without = app.get(&listed(false, position), Some(&owner.token)).await;
    assert_eq!(
        without.body["items"][0]["id"],
        user.id.to_string(),
        "{}",
        without.body
    );
    // Every session ended: whoever held the factors holds no session of them.
    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
    let signed_in = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    let token = signed_in.body["token"].as_str().expect("token");
    let mfa = app.get("/v1/me/mfa", Some(token)).await;
    assert_eq!(mfa.body["passkeys"], json!([]));
}

#[tokio::test]
async fn what_is_no_assertion_counts_nothing_and_another_users_handle_proves_nothing() {
    let app = spawn_app().await;
    let (user, mut key, _) = user_with_passkey(&app).await;
    let challenge = challenged(&app, &user).await;
    // Six answers that are no credential at all: the challenge takes five, and is alive.
    for malformed in [
        json!({}),
        json!({"id": "x"}),
        json!({"id": "", "rawId": "", "type": "public-key", "response": {}}),
        json!({"type": "password"}),
        json!({"nested": {"deep": null}}),
        json!({"id": 5}),
    ] {
        let refused = answer_with(&app, &challenge, malformed).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(
            refused.field_errors(),
            vec![(
                "passkey_assertion".to_owned(),
                "passkey_credential_malformed".to_owned()
            )]
        );
    }
    // A signed assertion whose user handle names another user (WebAuthn §7.2 step 6).
    let stranger = verified_user(&app).await;
    let assertion = with_user_handle(get(&mut key, &challenge["passkey_options"]), &stranger);
    answer_with(&app, &challenge, assertion)
        .await
        .assert_problem(401, "mfa_invalid");
    // Its own handle, or none, is the account's.
    let assertion = with_user_handle(get(&mut key, &challenge["passkey_options"]), &user);
    let signed_in = answer_with(&app, &challenge, assertion).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
}

#[tokio::test]
async fn the_owner_is_mailed_when_a_passkey_is_added_or_removed() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let (user, _, registered) = user_with_passkey(&app).await;
    smtp.wait_for_mail(&user.email, "A passkey was added").await;
    let code = registered["recovery_codes"][0].as_str().expect("code");
    let id = registered["passkey"]["id"].as_str().expect("id");
    let removed = app
        .delete(
            &format!("/v1/me/passkeys/{id}"),
            &user.token,
            Some(json!({"mfa_code": code})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    smtp.wait_for_mail(&user.email, "A passkey was removed")
        .await;
}

async fn begin_step_up(app: &TestApp, token: &str) -> Answer {
    app.post("/v1/me/mfa/step-up/passkey/start", Some(token), json!({}))
        .await
}

async fn finish_step_up(app: &TestApp, token: &str, ceremony: &Value, credential: Value) -> Answer {
    app.post(
        "/v1/me/mfa/step-up/passkey/finish",
        Some(token),
        json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn a_session_steps_up_with_a_passkey_and_then_acts_without_a_code() {
    let app = spawn_app().await;
    let (user, mut key, registered) = user_with_passkey(&app).await;
    let id = registered["passkey"]["id"].as_str().expect("id");
    let path = format!("/v1/me/passkeys/{id}");
    app.delete(&path, &user.token, Some(json!({})))
        .await
        .assert_problem(403, "mfa_step_up_required");

    // An assertion of another authenticator is refused by name, and recorded.
    let mut stranger = authenticator();
    let other = verified_user(&app).await;
    register(&app, &other, &mut stranger).await;
    let started = begin_step_up(&app, &user.token).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let other_started = begin_step_up(&app, &other.token).await;
    let mut options = started.body["options"].clone();
    options["publicKey"]["allowCredentials"] =
        other_started.body["options"]["publicKey"]["allowCredentials"].clone();
    let refused = finish_step_up(
        &app,
        &user.token,
        &started.body["ceremony"],
        get(&mut stranger, &options),
    )
    .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(
        refused.field_errors(),
        vec![(
            "credential".to_owned(),
            "passkey_credential_invalid".to_owned()
        )]
    );
    // Another session cannot finish this session's ceremony.
    let started = begin_step_up(&app, &user.token).await;
    let assertion = get(&mut key, &started.body["options"]);
    let second_session = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(second_session.body["mfa_required"], true);
    finish_step_up(
        &app,
        &other.token,
        &started.body["ceremony"],
        assertion.clone(),
    )
    .await
    .assert_problem(401, "passkey_challenge_expired");
    let proven = finish_step_up(&app, &user.token, &started.body["ceremony"], assertion).await;
    assert_eq!(proven.status, StatusCode::NO_CONTENT, "{}", proven.body);
    let sessions = app.get("/v1/sessions", Some(&user.token)).await;
    let this = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["current"] == true)
        .expect("the current session")
        .clone();
    assert_eq!(this["aal"], "aal2", "{}", sessions.body);
    let removed = app.delete(&path, &user.token, Some(json!({}))).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    // The session stepped up with the passkey ended with it.
    begin_step_up(&app, &user.token)
        .await
        .assert_problem(401, "unauthenticated");
    // Without a passkey there is nothing to step up with.
    let again = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let token = again.body["token"].as_str().expect("token");
    begin_step_up(&app, token)
        .await
        .assert_problem(404, "passkey_not_found");
    let events = app.get("/v1/me/events", Some(token)).await;
    let types: Vec<&str> = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    assert!(
        types.contains(&"StepUpFailed") && types.contains(&"StepUpProven"),
        "{types:?}"
    );
}

#[tokio::test]
async fn a_registration_begun_without_a_second_factor_does_not_finish_once_one_is_on() {
    let app = spawn_app().await;
    let user = verified_user(&app).await;
    let started = start_registration(&app, &user.token, json!({"password": PASSWORD})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = create(&mut authenticator(), &started.body["options"]);
    // Meanwhile TOTP goes on: adding a way in now needs the step-up this start did not ask.
    let totp = app
        .post(
            "/v1/me/mfa/totp",
            Some(&user.token),
            json!({"password": PASSWORD}),
        )
        .await;
    let secret = totp_rs::Secret::Encoded(totp.body["secret"].as_str().expect("secret").into())
        .to_bytes()
        .expect("secret");
    let confirmed = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&user.token),
            json!({"code": accounts::factors::totp_code(&secret, app.clock.now())}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    finish_registration(&app, &user.token, ceremony, credential)
        .await
        .assert_problem(403, "mfa_step_up_required");
    let mfa = app.get("/v1/me/mfa", Some(&user.token)).await;
    assert_eq!(mfa.body["passkeys"], json!([]));
}

#[tokio::test]
async fn an_owner_without_an_email_address_is_texted_when_a_passkey_is_added() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let phone = format!("+86139{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000);
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let (code, _) = gateway.wait_for_code(&phone, "sign_in").await;
    let signed_up = app
        .post(
            "/v1/sessions/sms",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let token = signed_up.body["token"].as_str().expect("token");
    // No password: a session this fresh stands for it.
    let started = start_registration(&app, token, json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = create(&mut authenticator(), &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let added = finish_registration(&app, token, ceremony, credential).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let notice = gateway
            .texts()
            .into_iter()
            .find(|(_, text)| text["to"] == phone.as_str() && text["purpose"] == "notice");
        if let Some((_, text)) = notice {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no notice texted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let text = text["text"].as_str().expect("text");
    assert!(
        text.contains("A passkey was added") && text.contains("通行密钥"),
        "{text}"
    );
}

#[tokio::test]
async fn the_first_factor_ends_old_sessions_and_totp_joins_a_passkey_only_with_a_step_up() {
    let app = spawn_app().await;
    let user = verified_user(&app).await;
    // The owner signs in again and registers a passkey: the first session, which proved no
    // second factor, ends.
    let fresh = app.sign_in(&user.email, PASSWORD).await;
    let owner = fresh.body["token"].as_str().expect("token");
    let started = start_registration(&app, owner, json!({"password": PASSWORD})).await;
    let mut key = authenticator();
    let credential = create(&mut key, &started.body["options"]);
    let ceremony = started.body["ceremony"].as_str().expect("ceremony");
    let added = finish_registration(&app, owner, ceremony, credential).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
    // The adding session proved the passkey by registering it (user verified): it is aal2.
    let sessions = app.get("/v1/sessions", Some(owner)).await;
    assert_eq!(
        sessions.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        sessions.body
    );
    assert_eq!(sessions.body[0]["aal"], "aal2");
    assert_eq!(sessions.body[0]["methods"], json!(["password", "passkey"]));
    // A session whose second factor is older than 10 minutes adds no TOTP without a step-up.
    let session = verified_session(&app, &user, &mut key).await;
    app.clock.advance(chrono::Duration::minutes(11));
    app.post(
        "/v1/me/mfa/totp",
        Some(&session),
        json!({"password": PASSWORD}),
    )
    .await
    .assert_problem(403, "mfa_step_up_required");
    let codes = added.body["recovery_codes"].as_array().expect("codes");
    let enrolled = app
        .post(
            "/v1/me/mfa/totp",
            Some(&session),
            json!({"password": PASSWORD, "mfa_code": codes[0]}),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    let secret = totp_rs::Secret::Encoded(enrolled.body["secret"].as_str().expect("secret").into())
        .to_bytes()
        .expect("secret");
    let confirmed = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&session),
            json!({"code": accounts::factors::totp_code(&secret, app.clock.now())}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(
        confirmed.body["recovery_codes"],
        json!([]),
        "the owner's codes stay"
    );
    let challenge = challenged(&app, &user).await;
    let signed_in = app
        .post(
            "/v1/sessions/mfa",
            None,
            json!({"challenge": challenge["challenge"], "recovery_code": codes[1]}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
}

#[tokio::test]
async fn forty_parallel_step_up_starts_leave_one_ceremony_for_the_session() {
    let app = spawn_app().await;
    let (user, mut key, _) = user_with_passkey(&app).await;
    let answers =
        futures::future::join_all((0..40).map(|_| begin_step_up(&app, &user.token))).await;
    assert!(answers.iter().all(|answer| answer.status == StatusCode::OK));
    let kept: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM passkey_ceremonies WHERE account_id = $1 AND purpose = 'step_up'",
            &[&user.id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(kept, 1);
    // The one kept is the one whose token still finishes; the others finish nothing.
    let assertions: Vec<Value> = answers
        .iter()
        .map(|answer| get(&mut key, &answer.body["options"]))
        .collect();
    let finished =
        futures::future::join_all(answers.iter().zip(assertions).map(|(answer, assertion)| {
            finish_step_up(&app, &user.token, &answer.body["ceremony"], assertion)
        }))
        .await;
    let proven = finished
        .iter()
        .filter(|answer| answer.status == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(proven, 1);
}
