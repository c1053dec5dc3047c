//! Takeover paths: codes and links that outlive the credentials they were sent for, and an
//! address signed up by someone who does not own it.

use crate::helpers::{
    Answer, PASSWORD, SmsGateway, SmtpSink, TestApp, User, admin_create, code_in, form,
    link_token_in, mailed_code, make_owner, reset_code, spawn_pipeline, spawn_with_mail,
    spawn_with_mail_and_sms,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

const NEW_PASSWORD: &str = "a brand new horse battery";
const VERIFY: &str = "Your code to verify your email address";
const SIGN_IN: &str = "Your code to sign in";

async fn reset_by_code(app: &TestApp, email: &str, code: &str) -> Answer {
    app.post(
        "/v1/password-reset/confirm",
        None,
        json!({"email": email, "code": code, "new_password": NEW_PASSWORD}),
    )
    .await
}

async fn reset_by_link(app: &TestApp, token: &str) -> Answer {
    app.post(
        "/v1/password-reset/confirm",
        None,
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
}

/// Both the code and the link of a reset mail are refused, by the API and by the page.
async fn assert_reset_mail_is_dead(app: &TestApp, user: &User, mail: &str) {
    let token = link_token_in(mail, "reset-password");
    reset_by_link(app, &token)
        .await
        .assert_problem(400, "code_invalid");
    reset_by_code(app, &user.email, &code_in(mail))
        .await
        .assert_problem(400, "code_invalid");
    let (status, html) = form(
        app,
        "/reset-password",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    app.sign_in(&user.email, NEW_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn a_password_change_ends_the_reset_link_and_code_mailed_before() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    let changed = app
        .put(
            "/v1/me/password",
            &user.token,
            json!({"current_password": PASSWORD, "new_password": "the owner's own new phrase"}),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_reset_mail_is_dead(&app, &user, &mail).await;
    // A code asked for after the change works.
    app.clock.advance(chrono::Duration::minutes(2));
    let again = app
        .post("/v1/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(again.status, 202);
    let mails = smtp
        .wait_for_mails(&user.email, "Your code to reset your password", 2)
        .await;
    assert_eq!(
        reset_by_code(&app, &user.email, &code_in(&mails[1]))
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn a_completed_reset_ends_every_other_code_sent_before_it() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let sign_in_code = mailed_code(&app, &smtp, &user.email, "sign_in", SIGN_IN).await;
    let mail = reset_code(&app, &smtp, &user).await;
    assert_eq!(
        reset_by_link(&app, &link_token_in(&mail, "reset-password"))
            .await
            .status,
        204
    );
    // The reset's own code went with its link; the sign-in code mailed before is dead too.
    reset_by_code(&app, &user.email, &code_in(&mail))
        .await
        .assert_problem(400, "code_invalid");
    app.post(
        "/v1/sessions",
        None,
        json!({"email": user.email, "code": sign_in_code}),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn an_email_change_ends_codes_sent_to_the_old_address_even_for_its_next_holder() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let old = user.email.clone();
    let reset = reset_code(&app, &smtp, &user).await;
    let sign_in_code = mailed_code(&app, &smtp, &old, "sign_in", SIGN_IN).await;

    let new = format!("moved-{}@example.com", uuid::Uuid::new_v4().simple());
    let subject = "Your code to change your email address";
    let change = mailed_code(&app, &smtp, &new, "change_email", subject).await;
    let moved = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": new, "code": change, "password": PASSWORD}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let moved_user = User {
        email: new.clone(),
        ..user.clone()
    };
    assert_reset_mail_is_dead(&app, &moved_user, &reset).await;

    // Someone else takes the old address: what was mailed to it before proves nothing for them.
    let next = app.sign_up_email(&old).await;
    assert_eq!(next.status, 201, "{}", next.body);
    app.post(
        "/v1/sessions",
        None,
        json!({"email": old, "code": sign_in_code}),
    )
    .await
    .assert_problem(400, "code_invalid");
    reset_by_code(&app, &old, &code_in(&reset))
        .await
        .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn a_block_ends_outstanding_reset_mails_even_once_lifted() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let mail = reset_code(&app, &smtp, &user).await;
    for action in ["block", "unblock"] {
        let answer = app
            .send(
                Method::POST,
                &format!("/v1/admin/users/{}/{action}", user.id),
                Some(&owner.token),
                None,
                &[],
            )
            .await;
        assert!(answer.status.is_success(), "{action}: {}", answer.body);
    }
    assert_reset_mail_is_dead(&app, &user, &mail).await;
}

/// A squatter signs up with someone else's address and keeps the session.
async fn squat(app: &TestApp, email: &str) -> String {
    let squatted = app.sign_up_email(email).await;
    assert_eq!(squatted.status, 201, "{}", squatted.body);
    assert_eq!(squatted.body["account"]["email_verified"], false);
    squatted.body["session"]["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// The squatter's password and session no longer work, and the log says why.
async fn assert_squatter_is_out(app: &TestApp, email: &str, squatter: &str) {
    app.get("/v1/me", Some(squatter))
        .await
        .assert_problem(401, "unauthenticated");
    app.sign_in(email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.count_events(Some("UnverifiedPasswordRemoved")).await, 1);
}

#[tokio::test]
async fn the_owner_verifying_a_squatted_address_by_its_link_locks_the_squatter_out() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let squatter = squat(&app, &email).await;
    let mail = smtp.wait_for_mail(&email, VERIFY).await;
    let (status, html) = form(
        &app,
        "/verify-email",
        &[("token", &link_token_in(&mail, "verify-email"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_squatter_is_out(&app, &email, &squatter).await;

    // The owner sets a password by reset, from a mail the squatter never sees.
    let owner = User {
        id: uuid::Uuid::nil(),
        token: String::new(),
        email: email.clone(),
    };
    let reset = reset_code(&app, &smtp, &owner).await;
    assert_eq!(
        reset_by_code(&app, &email, &code_in(&reset)).await.status,
        204
    );
    let signed_in = app.sign_in(&email, NEW_PASSWORD).await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    assert_eq!(signed_in.body["account"]["email_verified"], true);
}

#[tokio::test]
async fn the_owner_signing_in_by_a_mailed_code_locks_the_squatter_out() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let squatter = squat(&app, &email).await;
    let code = mailed_code(&app, &smtp, &email, "sign_in", SIGN_IN).await;
    let signed_in = app
        .post("/v1/sessions", None, json!({"email": email, "code": code}))
        .await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    assert_squatter_is_out(&app, &email, &squatter).await;
    let token = signed_in.body["token"].as_str().unwrap();
    let me = app.get("/v1/me", Some(token)).await;
    assert_eq!(me.body["email_verified"], true, "{}", me.body);
    let history = app
        .get("/v1/me/events?types=SessionsEnded", Some(token))
        .await;
    assert_eq!(
        history.body["events"][0]["data"]["reason"], "address_proven",
        "{}",
        history.body
    );
}

#[tokio::test]
async fn the_owner_verifying_with_the_password_keeps_it_and_the_session() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let code = code_in(&smtp.wait_for_mail(&user.email, VERIFY).await);
    // A wrong password spends nothing: the code still works with the right one.
    app.post(
        "/v1/email-verification/confirm",
        None,
        json!({"email": user.email, "code": code, "password": "somebody's guess here"}),
    )
    .await
    .assert_problem(403, "wrong_password");
    let confirmed = app
        .post(
            "/v1/email-verification/confirm",
            None,
            json!({"email": user.email, "code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.status, 200);
    assert_eq!(app.sign_in(&user.email, PASSWORD).await.status, 201);
    assert_eq!(app.count_events(Some("UnverifiedPasswordRemoved")).await, 0);
}

#[tokio::test]
async fn a_reset_by_mail_verifies_the_address() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    assert_eq!(
        reset_by_code(&app, &user.email, &code_in(&mail))
            .await
            .status,
        204
    );
    let signed_in = app.sign_in(&user.email, NEW_PASSWORD).await;
    assert_eq!(signed_in.body["account"]["email_verified"], true);
}

#[tokio::test]
async fn an_unverified_address_adds_no_phone_to_keep_a_way_in() {
    let smtp = SmtpSink::start().await;
    let gateway = SmsGateway::start().await;
    let app = spawn_with_mail_and_sms(&smtp, &gateway).await;
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let squatter = squat(&app, &email).await;
    let phone = "+61412010001";
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": phone, "purpose": "change_phone"}),
        )
        .await;
    assert_eq!(sent.status, 202);
    let (code, _) = gateway.wait_for_code(phone, "change_phone").await;
    app.put(
        "/v1/me/phone",
        &squatter,
        json!({"phone": phone, "code": code}),
    )
    .await
    .assert_problem(409, "email_not_verified");
    assert_eq!(app.count_events(Some("PhoneChanged")).await, 0);

    // Once the owner proves the address, the account may add a phone, and the code sent
    // before was not spent by the refusal.
    let mail = smtp.wait_for_mail(&email, VERIFY).await;
    let code_mail = code_in(&mail);
    let confirmed = app
        .post(
            "/v1/email-verification/confirm",
            None,
            json!({"email": email, "code": code_mail}),
        )
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);
    let sign_in_code = mailed_code(&app, &smtp, &email, "sign_in", SIGN_IN).await;
    let signed_in = app
        .post(
            "/v1/sessions",
            None,
            json!({"email": email, "code": sign_in_code}),
        )
        .await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    let owner = signed_in.body["token"].as_str().unwrap();
    // The proof removed the squatter's password: a code mailed to the verified address stands
    // for the way in the account already has.
    let subject = "Your code to change your phone number";
    let current = mailed_code(&app, &smtp, &email, "change_phone", subject).await;
    let added = app
        .put(
            "/v1/me/phone",
            owner,
            json!({"phone": phone, "code": code, "current_email_code": current}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
}

#[tokio::test]
async fn a_session_alone_cannot_move_a_verified_address_away() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = verified_user(&app, &smtp).await;

    // Whoever holds the session proves only a mailbox of their own.
    let thief = format!("thief-{}@example.com", uuid::Uuid::new_v4().simple());
    let subject = "Your code to change your email address";
    let code = mailed_code(&app, &smtp, &thief, "change_email", subject).await;
    let moved = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": thief, "code": code}),
        )
        .await;
    moved.assert_problem(422, "validation_failed");
    assert_eq!(
        moved.field_errors(),
        vec![("current_email_code".to_owned(), "required".to_owned())]
    );
    app.put(
        "/v1/me/email",
        &user.token,
        json!({"email": thief, "code": code, "current_email_code": "000000"}),
    )
    .await
    .assert_problem(400, "code_invalid");
    app.put(
        "/v1/me/email",
        &user.token,
        json!({"email": thief, "code": code, "password": "a guess at the password"}),
    )
    .await
    .assert_problem(403, "wrong_password");
    assert_eq!(app.count_events(Some("EmailChanged")).await, 0);

    // The owner proves the current address with a code sent to it, or the password.
    let new = format!("moved-{}@example.com", uuid::Uuid::new_v4().simple());
    let new_code = mailed_code(&app, &smtp, &new, "change_email", subject).await;
    let current = mailed_code(&app, &smtp, &user.email, "change_email", subject).await;
    let moved = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": new, "code": new_code, "current_email_code": current}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let third = format!("third-{}@example.com", uuid::Uuid::new_v4().simple());
    let third_code = mailed_code(&app, &smtp, &third, "change_email", subject).await;
    let moved = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": third, "code": third_code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["email"], third);
}

#[tokio::test]
async fn a_session_alone_adds_no_first_phone() {
    let smtp = SmtpSink::start().await;
    let gateway = SmsGateway::start().await;
    let app = spawn_with_mail_and_sms(&smtp, &gateway).await;
    let user = verified_user(&app, &smtp).await;

    // The thief's own phone, proven by a text to it, with the stolen session only.
    let phone = "+4917908215540";
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": phone, "purpose": "change_phone"}),
    )
    .await;
    let (code, _) = gateway.wait_for_code(phone, "change_phone").await;
    let added = app
        .put(
            "/v1/me/phone",
            &user.token,
            json!({"phone": phone, "code": code}),
        )
        .await;
    added.assert_problem(422, "validation_failed");
    assert_eq!(
        added.field_errors(),
        vec![("current_email_code".to_owned(), "required".to_owned())]
    );
    app.put(
        "/v1/me/phone",
        &user.token,
        json!({"phone": phone, "code": code, "password": "a guess at the password"}),
    )
    .await
    .assert_problem(403, "wrong_password");
    assert_eq!(app.count_events(Some("PhoneChanged")).await, 0);
    // The owner, who knows the password, adds it.
    let added = app
        .put(
            "/v1/me/phone",
            &user.token,
            json!({"phone": phone, "code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
}

#[tokio::test]
async fn the_command_line_promotes_no_squatter_to_owner() {
    let app = spawn_pipeline().await;
    let email = format!("boss-{}@example.com", uuid::Uuid::new_v4().simple());
    let squatter = squat(&app, &email).await;
    let refused = admin_create(&app, &email, None).await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("never proved it"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let me = app.get("/v1/me", Some(&squatter)).await;
    assert_eq!(me.body["role"], "user");

    // Vouching for the address with a password verifies it and shuts whoever signed up out.
    let vouched = admin_create(&app, &email, Some("the operator's own long phrase")).await;
    assert!(
        vouched.status.success(),
        "{}",
        String::from_utf8_lossy(&vouched.stderr)
    );
    app.get("/v1/me", Some(&squatter))
        .await
        .assert_problem(401, "unauthenticated");
    app.sign_in(&email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
}

/// A new user who proved the address by its mailed code, keeping the password.
async fn verified_user(app: &TestApp, smtp: &SmtpSink) -> User {
    let user = app.new_user().await;
    let verification = code_in(&smtp.wait_for_mail(&user.email, VERIFY).await);
    let verified = app
        .post(
            "/v1/email-verification/confirm",
            None,
            json!({"email": user.email, "code": verification, "password": PASSWORD}),
        )
        .await;
    assert_eq!(verified.status, 204, "{}", verified.body);
    user
}
