//! One mailbox, one phone, one account: every spelling of an identifier is canonicalized before
//! it is claimed, looked up, counted or stored, on every endpoint it reaches.

use crate::helpers::{
    PASSWORD, SmsGateway, TestApp, make_owner, spawn_app, spawn_pipeline, spawn_with_sms,
};
use futures::future::join_all;
use serde_json::json;

/// A fresh domain, so that tests sharing the NATS server and the clock never meet.
fn fresh(label: &str) -> String {
    format!("{label}{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[tokio::test]
async fn a_unicode_domain_and_its_a_label_are_one_mailbox() {
    let app = spawn_app().await;
    let local = fresh("u");
    let unicode = format!("{local}@bücher.example");
    let ascii = format!("{local}@xn--bcher-kva.example");
    let first = app.sign_up_email(&unicode).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["account"]["email"], ascii, "stored canonical");
    app.sign_up_email(&ascii)
        .await
        .assert_problem(409, "email_taken");
    app.sign_up_email(&format!("{}@BÜCHER.example", local.to_uppercase()))
        .await
        .assert_problem(409, "email_taken");
    // Either spelling signs in to the one account.
    for spelling in [&unicode, &ascii] {
        let signed_in = app.sign_in(spelling, PASSWORD).await;
        assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    }
}

#[tokio::test]
async fn full_width_letters_in_a_domain_are_the_plain_domain() {
    let app = spawn_app().await;
    let local = fresh("v");
    let plain = format!("{local}@mail.example.org");
    assert_eq!(app.sign_up_email(&plain).await.status, 201);
    for spelling in [
        format!("{local}@ｍａｉｌ.example.org"),
        format!("{local}@mail。example。org"),
        format!("{local}@MAIL.EXAMPLE.ORG"),
    ] {
        app.sign_up_email(&spelling)
            .await
            .assert_problem(409, "email_taken");
    }
}

#[tokio::test]
async fn thirty_two_spellings_of_one_mailbox_signed_up_at_once_give_one_account() {
    let app = spawn_app().await;
    let local = fresh("w");
    let spellings: Vec<String> = (0..32)
        .map(|n| match n % 4 {
            0 => format!("{local}@bücher.example"),
            1 => format!("{local}@xn--bcher-kva.example"),
            2 => format!("{}@BÜCHER.EXAMPLE", local.to_uppercase()),
            _ => format!("  {local}@ｂücher.example "),
        })
        .collect();
    let answers = join_all(spellings.iter().map(|email| app.sign_up_email(email))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.status == 409 && a.body["code"] == "email_taken")
            .count(),
        31
    );
}

#[tokio::test]
async fn another_spelling_of_a_held_address_is_taken_for_email_changes_and_admin_edits() {
    let app = spawn_pipeline().await;
    let local = fresh("x");
    let held = app.sign_up_email(&format!("{local}@bücher.example")).await;
    assert_eq!(held.status, 201);
    let other = app.new_user().await;
    let taken = app
        .put(
            "/v1/me/email",
            &other.token,
            json!({"email": format!("{local}@XN--BCHER-KVA.example"), "code": "123456"}),
        )
        .await;
    taken.assert_problem(409, "email_taken");

    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    app.patch(
        &format!("/v1/admin/users/{}", other.id),
        &owner.token,
        json!({"email": format!("{local}@ｂücher.example")}),
    )
    .await
    .assert_problem(409, "email_taken");
    // An administrator finds the account by any spelling of its address.
    let found = app
        .get(
            &format!(
                "/v1/admin/users?email={local}@BÜCHER.example&min_position={}",
                held.position()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["items"][0]["id"], held.body["account"]["id"]);
}

#[tokio::test]
async fn claims_stored_in_an_older_spelling_are_rewritten_and_collisions_left_alone() {
    let app = spawn_app().await;
    let first = app.new_user().await;
    let second = app.new_user().await;
    let local = fresh("old");
    // As an older version stored them: a U-label domain, a trunk 0 after the country code.
    let set_claim = |kind: &'static str, value: String, account: uuid::Uuid| {
        let db = &app.db;
        async move {
            db.execute(
                "UPDATE unique_claims SET value = $2 WHERE kind = $1 AND stream_id = $3",
                &[&kind, &value, &account],
            )
            .await
            .expect("claim");
        }
    };
    set_claim("email", format!("{local}@bücher.example"), first.id).await;
    // The second account holds another spelling of the same mailbox, claimed later.
    set_claim("email", format!("{local}@BÜCHER.example"), second.id).await;
    app.db
        .execute(
            "INSERT INTO unique_claims (kind, value, stream_id) VALUES ('phone', '+610412000001', $1)",
            &[&first.id],
        )
        .await
        .expect("phone claim");

    let client: &tokio_postgres::Client = &app.db;
    let (rewritten, collided) = accounts::store::claims::canonicalize_stored(client)
        .await
        .expect("rewrite");
    assert_eq!((rewritten, collided), (2, 1));
    let holder = |kind: &'static str, value: String| {
        let db = &app.db;
        async move {
            accounts::store::claims::holder(
                db,
                match kind {
                    "email" => accounts::store::claims::ClaimKind::Email,
                    _ => accounts::store::claims::ClaimKind::Phone,
                },
                &value,
            )
            .await
            .expect("holder")
        }
    };
    assert_eq!(
        holder("email", format!("{local}@xn--bcher-kva.example")).await,
        Some(first.id)
    );
    assert_eq!(holder("phone", "+61412000001".into()).await, Some(first.id));
    // Taken in every spelling now, and the rewrite is done: running it again changes nothing.
    app.sign_up_email(&format!("{local}@bücher.example"))
        .await
        .assert_problem(409, "email_taken");
    let again = accounts::store::claims::canonicalize_stored(client)
        .await
        .expect("rewrite");
    assert_eq!(again, (0, 1));
}

#[tokio::test]
async fn sign_in_failures_count_once_whatever_the_spelling() {
    let app = spawn_app().await;
    let local = fresh("y");
    assert_eq!(
        app.sign_up_email(&format!("{local}@bücher.example"))
            .await
            .status,
        201
    );
    for spelling in [
        format!("{local}@bücher.example"),
        format!("{local}@xn--bcher-kva.example"),
        format!("{}@Bücher.Example", local.to_uppercase()),
    ] {
        app.sign_in(&spelling, "not the password at all")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    app.sign_in(&format!("{local}@ｂücher.example"), PASSWORD)
        .await
        .assert_problem(428, "captcha_required");
}

#[tokio::test]
async fn codes_to_one_mailbox_count_once_whatever_the_spelling() {
    let app = spawn_app().await;
    let local = fresh("z");
    let send = |to: String| {
        app.post(
            "/v1/codes",
            None,
            json!({"channel": "email", "to": to, "purpose": "sign_up"}),
        )
    };
    assert_eq!(send(format!("{local}@bücher.example")).await.status, 202);
    // A minute has not passed for this mailbox, in any spelling.
    send(format!("{local}@XN--BCHER-KVA.EXAMPLE"))
        .await
        .assert_problem(429, "too_many_requests");
}

#[tokio::test]
async fn addresses_the_mailer_cannot_send_to_are_refused_wherever_an_email_enters() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let admin_edit = format!("/v1/admin/users/{}", user.id);
    let codes_before = app.count_events(Some("CodeIssued")).await;
    for bad in [
        "\"x@attacker.example.net\"@example.org",
        "\"x\"@example.org",
        "x(comment)@example.org",
        "x@[192.0.2.1]",
        "x@127.0.0.1",
        "x@0x7f.0.0.1",
        "x@127.0.0.0x1",
        "x@example.123",
        "x%evil.example@relay.example",
        "host!x@example.org",
        "x@xn--a.example",
        "用户@example.org",
    ] {
        let answers = [
            app.sign_up_email(bad).await,
            app.post(
                "/v1/codes",
                None,
                json!({"channel": "email", "to": bad, "purpose": "sign_up"}),
            )
            .await,
            app.post("/v1/password-reset", None, json!({"email": bad}))
                .await,
            app.post(
                "/v1/sessions",
                None,
                json!({"email": bad, "password": PASSWORD}),
            )
            .await,
            app.put(
                "/v1/me/email",
                &user.token,
                json!({"email": bad, "code": "123456"}),
            )
            .await,
            app.patch(&admin_edit, &owner.token, json!({"email": bad}))
                .await,
        ];
        for answer in answers {
            answer.assert_problem(422, "validation_failed");
            let fields = answer.field_errors();
            assert!(
                fields.iter().any(|(field, code)| code == "invalid_email"
                    && matches!(field.as_str(), "email" | "to")),
                "{bad}: {fields:?}"
            );
        }
    }
    assert_eq!(app.count_events(Some("CodeIssued")).await, codes_before);
}

async fn text_code(app: &TestApp, gateway: &SmsGateway, to: &str, purpose: &str) -> String {
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "sms", "to": to, "purpose": purpose}),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    gateway.wait_for_code(to, purpose).await.0
}

#[tokio::test]
async fn a_trunk_zero_after_the_country_code_is_the_same_phone() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    for (canonical, trunk_spelling) in [
        ("+61412000001", "+61 0412 000 001"),
        ("+4915123456789", "+49 (0)151 2345 6789"),
        ("+447911123456", "+44 07911 123456"),
    ] {
        let code = text_code(&app, &gateway, canonical, "sign_up").await;
        let signed_up = app
            .post(
                "/v1/accounts",
                None,
                json!({"phone": trunk_spelling, "code": code, "password": PASSWORD}),
            )
            .await;
        assert_eq!(signed_up.status, 201, "{}", signed_up.body);
        assert_eq!(signed_up.body["account"]["phone"], canonical);
        app.post(
            "/v1/accounts",
            None,
            json!({"phone": canonical, "code": code, "password": PASSWORD}),
        )
        .await
        .assert_problem(409, "phone_taken");
        let signed_in = app
            .post(
                "/v1/sessions",
                None,
                json!({"phone": trunk_spelling, "password": PASSWORD}),
            )
            .await;
        assert_eq!(signed_in.status, 201, "{}", signed_in.body);
    }

    // Moving another account onto a held number in its trunk spelling is refused.
    let other = app
        .post(
            "/v1/accounts",
            None,
            json!({"username": "other_user", "password": PASSWORD}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.body);
    app.put(
        "/v1/me/phone",
        other.body["session"]["token"].as_str().unwrap(),
        json!({"phone": "+61 0412 000 001", "code": "123456"}),
    )
    .await
    .assert_problem(409, "phone_taken");
}

#[tokio::test]
async fn thirty_two_spellings_of_one_phone_signed_up_at_once_give_one_account() {
    let gateway = SmsGateway::start().await;
    let app = spawn_with_sms(&gateway).await;
    let code = text_code(&app, &gateway, "+61412000002", "sign_up").await;
    let spellings = [
        "+61412000002",
        "+61 0412 000 002",
        "+61-0412-000-002",
        "+61 (0)412 000 002",
    ];
    let answers = join_all((0..32).map(|n| {
        app.post(
            "/v1/accounts",
            None,
            json!({"phone": spellings[n % 4], "code": code, "password": PASSWORD}),
        )
    }))
    .await;
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    // The others were refused: the number is taken, or the one code was spent.
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 201)
            .all(|a| a.body["code"] == "phone_taken" || a.body["code"] == "code_invalid")
    );
}

#[tokio::test]
async fn numbers_that_are_not_valid_for_their_country_are_refused() {
    let app = spawn_app().await;
    for bad in [
        "+86123",
        "+8612812345678",
        "+0123456789",
        "+61 412",
        "tel:+4917908215540",
        "phone",
    ] {
        let answer = app
            .post(
                "/v1/codes",
                None,
                json!({"channel": "sms", "to": bad, "purpose": "sign_in"}),
            )
            .await;
        answer.assert_problem(422, "validation_failed");
        assert_eq!(
            answer.field_errors(),
            vec![("to".to_owned(), "invalid_phone".to_owned())],
            "{bad}"
        );
    }
}
