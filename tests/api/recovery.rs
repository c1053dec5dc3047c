//! Flows proven by mailed codes and links, end to end from the mail a real SMTP server gets.

use crate::helpers::{
    PASSWORD, SmtpSink, code_in, form, link_token_in, mailed_code, make_owner, reset_code,
    spawn_with_mail,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

const NEW_PASSWORD: &str = "a brand new horse battery";

#[tokio::test]
async fn signing_up_by_email_mails_a_link_that_verifies_the_address() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = smtp
        .wait_for_mail(&user.email, "Your code to verify your email address")
        .await;
    assert!(
        mail.contains("http://accounts.test/verify-email?token="),
        "{mail}"
    );
    let token = link_token_in(&mail, "verify-email");

    let page = app.get(&format!("/verify-email?token={token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/verify-email\">"),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{token}\"")));

    assert!(html.contains("name=\"password\""), "{html}");
    // The password shown with the proof keeps it and the session.
    let (status, html) = form(
        &app,
        "/verify-email",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your email address is verified."));
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["email_verified"], true);
    let history = app
        .get("/v1/me/events?types=EmailVerified", Some(&user.token))
        .await;
    assert_eq!(history.body["events"].as_array().unwrap().len(), 1);

    let (status, html) = form(&app, "/verify-email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a link works once: {html}");
    app.post("/v1/email-verification", None, json!({}))
        .await
        .assert_problem(401, "unauthenticated");
    app.send(
        reqwest::Method::POST,
        "/v1/email-verification",
        Some(&user.token),
        None,
        &[],
    )
    .await
    .assert_problem(409, "email_already_verified");
}

#[tokio::test]
async fn an_address_verifies_by_code_too() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = smtp
        .wait_for_mail(&user.email, "Your code to verify your email address")
        .await;
    let code = code_in(&mail);
    let confirmed = app
        .post(
            "/v1/email-verification/confirm",
            None,
            json!({"email": user.email, "code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{}",
        confirmed.body
    );
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["email_verified"], true);
    app.post(
        "/v1/email-verification/confirm",
        None,
        json!({"email": user.email}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_password_reset_by_code_ends_every_session() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    let code = code_in(&mail);

    let weak = app
        .post(
            "/v1/password-reset/confirm",
            None,
            json!({"email": user.email, "code": code, "new_password": "password"}),
        )
        .await;
    weak.assert_problem(422, "validation_failed");
    let reset = app
        .post(
            "/v1/password-reset/confirm",
            None,
            json!({"email": user.email, "code": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);

    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
    app.sign_in(&user.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.sign_in(&user.email, NEW_PASSWORD).await.status,
        StatusCode::CREATED
    );
    app.post(
        "/v1/password-reset/confirm",
        None,
        json!({"email": user.email, "code": code, "new_password": NEW_PASSWORD}),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn a_password_reset_by_the_mailed_link_and_its_page() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    let token = link_token_in(&mail, "reset-password");

    let page = app
        .get(&format!("/reset-password?token={token}"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .as_str()
            .unwrap()
            .contains("name=\"new_password\"")
    );
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        app.sign_in(&user.email, NEW_PASSWORD).await.status,
        StatusCode::CREATED
    );
    // A verification link is no reset link.
    let verification = smtp
        .wait_for_mail(&user.email, "Your code to verify your email address")
        .await;
    let other = link_token_in(&verification, "verify-email");
    app.post(
        "/v1/password-reset/confirm",
        None,
        json!({"token": other, "new_password": "yet another horse battery"}),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_the_password_stays() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    let token = link_token_in(&mail, "reset-password");

    app.clock.advance(chrono::Duration::minutes(61));
    app.post(
        "/v1/password-reset/confirm",
        None,
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .assert_problem(400, "code_expired");
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert_eq!(
        app.sign_in(&user.email, PASSWORD).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.sign_in(&user.email, NEW_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_reset_for_an_unknown_address_is_answered_alike_and_mails_nothing() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let asked = app
        .post("/v1/password-reset", None, json!({"email": unknown}))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    assert_eq!(asked.body["expires_in"], 600);
    // A known address's mail comes after it: by then the unknown one was decided.
    let user = app.new_user().await;
    reset_code(&app, &smtp, &user).await;
    assert!(smtp.mails().iter().all(|mail| !mail.contains(&unknown)));
}

#[tokio::test]
async fn signing_in_with_a_mailed_code() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "email", "to": user.email, "purpose": "sign_in"}),
    )
    .await;
    let code = code_in(
        &smtp
            .wait_for_mail(&user.email, "Your code to sign in")
            .await,
    );
    let signed_in = app
        .post(
            "/v1/sessions",
            None,
            json!({"email": user.email, "code": code}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    let token = signed_in.body["token"].as_str().unwrap();
    let history = app
        .get("/v1/me/events?types=SessionStarted", Some(token))
        .await;
    assert_eq!(history.body["events"][0]["data"]["method"], "code");
    app.post(
        "/v1/sessions",
        None,
        json!({"email": user.email, "code": code}),
    )
    .await
    .assert_problem(400, "code_invalid");
    app.post(
        "/v1/sessions",
        None,
        json!({"email": user.email, "code": code, "password": PASSWORD}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn changing_the_email_address_with_a_code_sent_to_it() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let new = format!("moved-{}@example.com", uuid::Uuid::new_v4().simple());
    let subject = "Your code to change your email address";
    let code = mailed_code(&app, &smtp, &new, "change_email", subject).await;
    let wrong = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": new, "code": "000000x", "password": PASSWORD}),
        )
        .await;
    wrong.assert_problem(400, "code_invalid");
    let changed = app
        .put(
            "/v1/me/email",
            &user.token,
            json!({"email": new, "code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["email"], new);
    assert_eq!(changed.body["email_verified"], true);
    assert_eq!(
        app.sign_in(&new, PASSWORD).await.status,
        StatusCode::CREATED
    );
    // The old address is free again.
    assert_eq!(
        app.sign_up_email(&user.email).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn deleting_the_account_with_a_mailed_code() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "email", "to": user.email, "purpose": "delete_account"}),
    )
    .await;
    let code = code_in(
        &smtp
            .wait_for_mail(&user.email, "Your code to delete your account")
            .await,
    );
    app.delete("/v1/me", &user.token, Some(json!({})))
        .await
        .assert_problem(422, "validation_failed");
    let deleted = app
        .delete("/v1/me", &user.token, Some(json!({"code": code})))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    app.sign_in(&user.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
}

/// A code and the change it proves commit together: when the account refuses the change, the
/// code is not spent, and the same code proves the change once it is allowed.
#[tokio::test]
async fn a_refused_change_leaves_its_code_unspent() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let code = mailed_code(
        &app,
        &smtp,
        &owner.email,
        "delete_account",
        "Your code to delete your account",
    )
    .await;
    app.delete("/v1/me", &owner.token, Some(json!({"code": code})))
        .await
        .assert_problem(409, "last_owner");
    let checked = app
        .post(
            "/v1/codes/check",
            None,
            json!({"channel": "email", "to": owner.email, "purpose": "delete_account", "code": code}),
        )
        .await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    assert_eq!(checked.body["valid"], true);

    let second = app.new_user().await;
    make_owner(&app, &second).await;
    let deleted = app
        .delete("/v1/me", &owner.token, Some(json!({"code": code})))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

/// A wrong code sent with the change it would prove is counted like any other wrong try,
/// though nothing else of the change is kept: five kill the code.
#[tokio::test]
async fn wrong_codes_with_a_change_are_counted_and_kill_the_code() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let code = mailed_code(
        &app,
        &smtp,
        &user.email,
        "delete_account",
        "Your code to delete your account",
    )
    .await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        app.delete("/v1/me", &user.token, Some(json!({"code": wrong})))
            .await
            .assert_problem(400, "code_invalid");
    }
    app.delete("/v1/me", &user.token, Some(json!({"code": code})))
        .await
        .assert_problem(400, "code_invalid");
    assert_eq!(app.count_events(Some("CodeAttemptFailed")).await, 5);
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

/// A use case commits once: a sign-up with the verification mail it owes, and a reset with the
/// code it spends, each write their events in one transaction.
#[tokio::test]
async fn a_sign_up_and_its_mail_and_a_reset_and_its_code_each_commit_once() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let code = code_in(&reset_code(&app, &smtp, &user).await);
    let reset = app
        .post(
            "/v1/password-reset/confirm",
            None,
            json!({"email": user.email, "code": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    let written = app
        .transactions_of(&[
            "AccountRegistered",
            "SessionStarted",
            "CodeIssued",
            "CodeUsed",
            "EmailVerified",
            "PasswordChanged",
            "SessionsEnded",
        ])
        .await;
    assert_eq!(
        written,
        [
            vec!["AccountRegistered", "SessionStarted", "CodeIssued"],
            vec!["CodeIssued"],
            vec![
                "CodeUsed",
                "EmailVerified",
                "PasswordChanged",
                "SessionsEnded"
            ],
        ]
    );
}

/// Posts a link page's form in Chinese.
async fn form_in_chinese(
    app: &crate::helpers::TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header("accept-language", "zh-CN")
        .form(fields)
        .send()
        .await
        .expect("form post");
    (response.status(), response.text().await.expect("page"))
}

#[tokio::test]
async fn link_pages_say_until_when_and_a_refused_password_brings_the_form_back_in_both_languages() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let asked_at = app.clock.now();
    let mail = reset_code(&app, &smtp, &user).await;
    let token = link_token_in(&mail, "reset-password");
    let page_in = |language: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let response = app
                .client
                .get(format!("{}/reset-password?token={token}", app.address))
                .header("accept-language", language)
                .send()
                .await
                .expect("page");
            (response.status(), response.text().await.expect("html"))
        }
    };

    // Until when, in the page's language: an hour after it was sent.
    let (status, html) = page_in("en").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let until = (asked_at + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M UTC");
    let a_minute_later = (asked_at + chrono::Duration::minutes(61)).format("%Y-%m-%d %H:%M UTC");
    assert!(
        html.contains(&format!("This link works until {until}."))
            || html.contains(&format!("This link works until {a_minute_later}.")),
        "{html}"
    );
    let (_, html) = page_in("zh-CN").await;
    assert!(
        html.contains("此链接在 ") && html.contains("之前有效"),
        "{html}"
    );
    let verification = smtp
        .wait_for_mail(&user.email, "Your code to verify your email address")
        .await;
    let verify = link_token_in(&verification, "verify-email");
    let page = app
        .get(&format!("/verify-email?token={verify}"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .as_str()
            .unwrap()
            .contains("This link works until "),
        "{}",
        page.body
    );

    // A link that does not work says so before the password is looked at.
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", "not-a-link"), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("This link is not valid any more."), "{html}");

    // A refused password: the form again, with the reason, and the link still good.
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("That new password cannot be used: "),
        "{html}"
    );
    assert!(html.contains("This link works until "), "{html}");
    assert!(html.contains("name=\"new_password\""), "{html}");
    assert!(html.contains(&format!("value=\"{token}\"")), "{html}");
    let (status, html) = form_in_chinese(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("不能使用这个新密码："), "{html}");
    assert!(!html.contains("cannot be used"), "{html}");
    assert!(html.contains("name=\"new_password\""), "{html}");
    // Showing the page twice and refusing twice spent nothing.
    let (status, html) = form(
        &app,
        "/reset-password",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");

    // A spent link's page says it no longer works, and so does the page of a link sent
    // before the password changed.
    let (status, html) = page_in("en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("This link is not valid any more."), "{html}");
    assert!(!html.contains("name=\"new_password\""), "{html}");
    let page = app
        .get(&format!("/verify-email?token={verify}"), None)
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);

    // And so does an expired one.
    app.clock.advance(chrono::Duration::minutes(2));
    let asked = app
        .post("/v1/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let mails = smtp
        .wait_for_mails(&user.email, "Your code to reset your password", 2)
        .await;
    let second = link_token_in(&mails[1], "reset-password");
    let page = app
        .get(&format!("/reset-password?token={second}"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    app.clock.advance(chrono::Duration::minutes(61));
    let page = app
        .get(&format!("/reset-password?token={second}"), None)
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
}

#[tokio::test]
async fn a_link_page_is_a_page_even_for_a_request_it_cannot_read_and_dies_with_its_account() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = reset_code(&app, &smtp, &user).await;
    let token = link_token_in(&mail, "reset-password");
    let html_page = |answer: &crate::helpers::Answer| {
        answer
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"))
    };

    // A token given twice, or the form sent as JSON: a page saying so, in either language.
    let twice = app
        .get(&format!("/reset-password?token={token}&token=x"), None)
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert!(html_page(&twice), "{:?}", twice.headers);
    let chinese = app
        .send(
            Method::GET,
            &format!("/reset-password?token={token}&token=x"),
            None,
            None,
            &[("accept-language", "zh-CN")],
        )
        .await;
    assert!(
        chinese
            .body
            .as_str()
            .is_some_and(|html| html.contains("链接无效")),
        "{}",
        chinese.body
    );
    let json = app
        .post("/reset-password", None, json!({"token": token}))
        .await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(html_page(&json), "{:?}", json.headers);

    // Once the account is deleted, its link's page says the link is dead at once.
    app.delete("/v1/me", &user.token, Some(json!({"password": PASSWORD})))
        .await;
    let page = app
        .get(&format!("/reset-password?token={token}"), None)
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let html = page.body.as_str().expect("html");
    assert!(!html.contains("name=\"new_password\""), "{html}");
    assert!(!html.contains("works until"), "{html}");
}

#[tokio::test]
async fn a_wrong_password_on_the_verify_page_brings_its_form_back_and_a_large_form_gets_a_page() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let mail = smtp
        .wait_for_mail(&user.email, "Your code to verify your email address")
        .await;
    let token = link_token_in(&mail, "verify-email");
    let (status, html) = form(
        &app,
        "/verify-email",
        &[("token", &token), ("password", "not the password at all")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/verify-email\">"),
        "{html}"
    );
    assert!(
        html.contains("That is not the account's password"),
        "{html}"
    );
    assert!(html.contains("This link works until "), "{html}");
    let (status, html) = form_in_chinese(
        &app,
        "/verify-email",
        &[("token", &token), ("password", "not the password at all")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("密码不对") && html.contains("<form"),
        "{html}"
    );

    // A form over the body limit: a page too, not a problem document.
    let huge = "x".repeat(70_000);
    let response = app
        .client
        .post(format!("{}/reset-password", app.address))
        .form(&[("token", token.as_str()), ("new_password", huge.as_str())])
        .send()
        .await
        .expect("form post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The form is too large.")
    );
    // The address stays unverified: the right password still verifies it.
    let (status, html) = form(
        &app,
        "/verify-email",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
}
