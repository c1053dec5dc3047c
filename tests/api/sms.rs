//! Phone flows end to end, from the texts a real HTTP SMS gateway receives.

use crate::helpers::{SmsGateway, SmtpSink, code_in, spawn_app_with, spawn_with_sms};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

fn a_phone() -> String {
    format!("+86139{:08}", rand_digits())
}

fn rand_digits() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 100_000_000
}

#[tokio::test]
async fn a_texted_code_signs_up_a_new_phone_and_signs_in_a_known_one() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let phone = a_phone();
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let (code, key) = gateway.wait_for_code(&phone, "sign_in").await;
    assert!(
        uuid::Uuid::parse_str(&key).is_ok(),
        "the event id keys the text: {key}"
    );

    let signed_up = app
        .post(
            "/v1/sessions/sms",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    assert_eq!(signed_up.body["account"]["phone"], phone);
    assert_eq!(signed_up.body["account"]["phone_verified"], true);
    let id = signed_up.body["account"]["id"].clone();

    // The same phone, another day: a sign-up code, then... the phone is taken.
    let taken = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": phone, "purpose": "sign_up"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "answered alike");
    // A password-reset text signs the known phone's account back in through a new password.
    app.post("/v1/password-reset", None, json!({"phone": phone}))
        .await;
    let (reset, _) = gateway.wait_for_code(&phone, "reset_password").await;
    let done = app
        .post(
            "/v1/password-reset/confirm",
            None,
            json!({"phone": phone, "code": reset, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let signed_in = app
        .post(
            "/v1/sessions",
            None,
            json!({"phone": phone, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    assert_eq!(signed_in.body["account"]["id"], id);
    app.post(
        "/v1/sessions/sms",
        None,
        json!({"phone": phone, "code": code}),
    )
    .await
    .assert_problem(400, "code_invalid");
}

#[tokio::test]
async fn a_phone_signs_up_with_a_code_and_a_password() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let phone = a_phone();
    app.post(
        "/v1/accounts",
        None,
        json!({"phone": phone, "password": PASSWORD}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": phone, "purpose": "sign_up"}),
    )
    .await;
    let (code, _) = gateway.wait_for_code(&phone, "sign_up").await;
    let signed_up = app
        .post(
            "/v1/accounts",
            None,
            json!({"phone": phone, "code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let signed_in = app
        .post(
            "/v1/sessions",
            None,
            json!({"phone": phone, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    // Now a sign-in code goes to it and signs in (200, not a new account).
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
    )
    .await;
    let (code, _) = gateway.wait_for_code(&phone, "sign_in").await;
    let again = app
        .post(
            "/v1/sessions/sms",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["account"]["id"], signed_up.body["account"]["id"]);
}

#[tokio::test]
async fn a_service_requiring_an_email_code_at_sign_up() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.smtp_url = Some(url);
        config.sign_up_email_code = true;
    })
    .await;
    let email = format!("coded-{}@example.com", uuid::Uuid::new_v4().simple());
    let refused = app
        .post(
            "/v1/accounts",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(
        refused.field_errors(),
        [("code".to_owned(), "required".to_owned())]
    );
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "email", "to": email, "purpose": "sign_up"}),
    )
    .await;
    let code = code_in(&smtp.wait_for_mail(&email, "Your code to sign up").await);
    let signed_up = app
        .post(
            "/v1/accounts",
            None,
            json!({"email": email, "password": PASSWORD, "code": code}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    assert_eq!(signed_up.body["account"]["email_verified"], true);
}

#[tokio::test]
async fn changing_the_phone_needs_codes_to_the_new_and_the_old_number() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let old = a_phone();
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": old, "purpose": "sign_in"}),
    )
    .await;
    let (code, _) = gateway.wait_for_code(&old, "sign_in").await;
    let signed_up = app
        .post(
            "/v1/sessions/sms",
            None,
            json!({"phone": old, "code": code}),
        )
        .await;
    let token = signed_up.body["token"].as_str().unwrap().to_owned();

    let new = a_phone();
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": new, "purpose": "change_phone"}),
    )
    .await;
    let (new_code, _) = gateway.wait_for_code(&new, "change_phone").await;
    let missing = app
        .put(
            "/v1/me/phone",
            &token,
            json!({"phone": new, "code": new_code}),
        )
        .await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(
        missing.field_errors(),
        [("current_phone_code".to_owned(), "required".to_owned())]
    );
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": old, "purpose": "change_phone"}),
    )
    .await;
    let (old_code, _) = gateway.wait_for_code(&old, "change_phone").await;
    let changed = app
        .put(
            "/v1/me/phone",
            &token,
            json!({"phone": new, "code": new_code, "current_phone_code": old_code}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["phone"], new);
    assert_eq!(changed.body["phone_verified"], true);
    let history = app
        .get("/v1/me/events?types=PhoneChanged", Some(&token))
        .await;
    assert_eq!(history.body["events"][0]["data"]["previous"], old);
}

#[tokio::test]
async fn a_gateway_that_fails_first_gets_the_text_once_when_it_recovers() {
    let gateway = SmsGateway::start().await;
    gateway
        .refusals
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let app = spawn_with_sms(&gateway).await;
    let phone = a_phone();
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": phone, "purpose": "sign_up"}),
    )
    .await;
    gateway.wait_for_code(&phone, "sign_up").await;
    assert!(gateway.requests.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    // A later text comes after it; the first was delivered once.
    let other = a_phone();
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": other, "purpose": "sign_up"}),
    )
    .await;
    gateway.wait_for_code(&other, "sign_up").await;
    let texts = gateway.texts();
    assert_eq!(
        texts.iter().filter(|(_, text)| text["to"] == phone).count(),
        1
    );
}

#[tokio::test]
async fn new_phones_count_as_sign_ups_of_the_clients_address() {
    let gateway = SmsGateway::start().await;
    let url = gateway.url.clone();
    let app = spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.sms_webhook_url = Some(url);
        config.sign_ups_per_address = 2;
        config.trusted_proxies = vec![accounts::config::parse_network("127.0.0.1").unwrap()];
    })
    .await;
    let text_code = |phone: String| {
        let (app, gateway) = (&app, &gateway);
        async move {
            app.post(
                "/v1/codes",
                None,
                json!({"channel": "sms", "to": phone, "purpose": "sign_in"}),
            )
            .await;
            gateway.wait_for_code(&phone, "sign_in").await.0
        }
    };
    let from = "198.51.100.77";
    let mut phones = Vec::new();
    for _ in 0..2 {
        let phone = a_phone();
        let code = text_code(phone.clone()).await;
        let body = json!({"phone": phone, "code": code});
        assert_eq!(
            app.post_from(from, "/v1/sessions/sms", body).await.status,
            201
        );
        phones.push(phone);
    }
    // A third new phone from the address needs a captcha; its code is not spent meanwhile.
    let phone = a_phone();
    let code = text_code(phone.clone()).await;
    app.post_from(
        from,
        "/v1/sessions/sms",
        json!({"phone": phone, "code": code}),
    )
    .await
    .assert_problem(428, "captcha_required");
    let captcha = app.solved_captcha().await;
    let body = json!({"phone": phone, "code": code, "captcha": captcha});
    assert_eq!(
        app.post_from(from, "/v1/sessions/sms", body).await.status,
        201
    );
    // Signing in to a phone that has an account is no sign-up.
    let known = phones.remove(0);
    app.clock.advance(chrono::Duration::minutes(2));
    app.post(
        "/v1/codes",
        None,
        json!({"channel": "sms", "to": known, "purpose": "sign_in"}),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let code = loop {
        let texts: Vec<_> = gateway
            .texts()
            .into_iter()
            .filter(|(_, text)| text["to"] == known.as_str())
            .collect();
        if let [_, .., (_, newest)] = texts.as_slice() {
            break newest["text"]
                .as_str()
                .unwrap()
                .split(|c: char| !c.is_ascii_digit())
                .find(|word| word.len() == 6)
                .unwrap()
                .to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no second text");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let body = json!({"phone": known, "code": code});
    let signed_in = app.post_from(from, "/v1/sessions/sms", body).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
}
