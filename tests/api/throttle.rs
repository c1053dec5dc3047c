//! Guessing in parallel: every password check is counted before it runs, so however many
//! requests arrive at once, no more checks run than the limits allow.

use crate::helpers::{
    Answer, PASSWORD, SmtpSink, TestApp, code_in, spawn_app, spawn_behind_proxy, spawn_with_mail,
};
use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

const WRONG: &str = "not the password at all";
const VERIFY: &str = "Your code to verify your email address";

/// How many answers had each status.
fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

/// Failed sign-ins the account's history records: one for each password checked and wrong.
async fn recorded_failures(app: &TestApp, account: uuid::Uuid) -> usize {
    app.event_types(account)
        .await
        .iter()
        .filter(|t| *t == "SignInFailed")
        .count()
}

#[tokio::test]
async fn forty_wrong_passwords_at_once_for_one_email_check_at_most_three() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answers = join_all((0..40).map(|_| app.sign_in(&user.email, WRONG))).await;
    assert_eq!(count(&answers, 401), 3, "checked and refused");
    assert_eq!(count(&answers, 428), 37, "refused before any check");
    for answer in answers.iter().filter(|a| a.status == 428) {
        answer.assert_problem(428, "captcha_required");
    }
    assert_eq!(recorded_failures(&app, user.id).await, 3);

    // The right password does not slip through either while the identifier is held back.
    let answers = join_all((0..30).map(|_| app.sign_in(&user.email, PASSWORD))).await;
    assert_eq!(count(&answers, 428), 30);
}

#[tokio::test]
async fn forty_accounts_tried_at_once_from_one_address_check_at_most_twenty() {
    let app = spawn_behind_proxy(|_| {}).await;
    let users = join_all((0..40).map(|_| app.new_user())).await;
    let answers = join_all(users.iter().map(|user| {
        app.post_from(
            "198.51.100.23",
            "/v1/sessions",
            json!({"email": user.email, "password": WRONG}),
        )
    }))
    .await;
    assert_eq!(count(&answers, 401), 20, "checked and refused");
    assert_eq!(count(&answers, 428), 20, "refused before any check");
    let mut checked = 0;
    for user in &users {
        checked += recorded_failures(&app, user.id).await;
    }
    assert_eq!(checked, 20);
    // Another address is not held back.
    let other = app
        .post_from(
            "198.51.100.24",
            "/v1/sessions",
            json!({"email": users[0].email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.body);
}

#[tokio::test]
async fn successful_sign_ins_do_not_use_up_the_addresss_allowance() {
    let app = spawn_behind_proxy(|config| config.sign_in_failures_per_address = 5).await;
    let user = app.new_user().await;
    let right = json!({"email": user.email, "password": PASSWORD});
    // One after the other: attempts still in flight count against the limit until they end.
    for _ in 0..30 {
        let answer = app
            .post_from("198.51.100.30", "/v1/sessions", right.clone())
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    // Its failures are still counted: five, and the sixth try needs a captcha.
    for n in 0..5 {
        let wrong = json!({"email": format!("other-{n}@example.com"), "password": WRONG});
        app.post_from("198.51.100.30", "/v1/sessions", wrong)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    app.post_from("198.51.100.30", "/v1/sessions", right)
        .await
        .assert_problem(428, "captcha_required");
}

/// A password re-check by a signed-in caller: change of password or deletion.
async fn recheck(app: &TestApp, token: &str, deleting: bool, password: &str) -> Answer {
    let (method, path, body): (Method, &str, Value) = if deleting {
        (Method::DELETE, "/v1/me", json!({"password": password}))
    } else {
        (
            Method::PUT,
            "/v1/me/password",
            json!({"current_password": password, "new_password": "a wholly new horse battery"}),
        )
    };
    app.send(method, path, Some(token), Some(body), &[]).await
}

#[tokio::test]
async fn a_stolen_session_cannot_guess_the_password_of_signed_in_actions() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Thirty guesses at once, at both actions that re-check the password.
    let answers = join_all((0..30).map(|n| recheck(&app, &user.token, n % 2 == 0, WRONG))).await;
    assert_eq!(count(&answers, 403), 5, "checked and refused");
    assert_eq!(count(&answers, 429), 25, "refused before any check");
    for answer in answers.iter().filter(|a| a.status == 429) {
        answer.assert_problem(429, "too_many_requests");
        assert!((1..=1800).contains(&answer.retry_after()));
    }
    // Even the right password waits for the window to pass...
    recheck(&app, &user.token, false, PASSWORD)
        .await
        .assert_problem(429, "too_many_requests");
    assert_eq!(app.count_events(Some("PasswordChanged")).await, 0);
    // ...and then works. A success gives back its own attempt, not the failures before it.
    app.clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    for _ in 0..4 {
        recheck(&app, &user.token, true, WRONG)
            .await
            .assert_problem(403, "wrong_password");
    }
    let changed = recheck(&app, &user.token, false, PASSWORD).await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    recheck(&app, &user.token, true, WRONG)
        .await
        .assert_problem(403, "wrong_password");
    recheck(&app, &user.token, true, WRONG)
        .await
        .assert_problem(429, "too_many_requests");
}

#[tokio::test]
async fn the_owners_sign_ins_hand_a_guesser_no_fresh_allowance() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Sixty at once: fifty guesses and ten sign-ins with the right password.
    let answers = join_all((0..60).map(|n| {
        let password = if n % 6 == 0 { PASSWORD } else { WRONG };
        app.sign_in(&user.email, password)
    }))
    .await;
    assert!(
        count(&answers, 401) <= 3,
        "{} checked wrong",
        count(&answers, 401)
    );
    assert!(recorded_failures(&app, user.id).await <= 3);
}

#[tokio::test]
async fn an_accounts_email_and_username_share_one_allowance() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let renamed = app
        .patch(
            "/v1/me",
            &user.token,
            json!({"username": "shared_allowance"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let (app, email) = (&app, user.email.as_str());
    let answers = join_all((0..30).map(|n| async move {
        let body = if n % 2 == 0 {
            json!({"email": email, "password": WRONG})
        } else {
            json!({"username": "shared_allowance", "password": WRONG})
        };
        app.post("/v1/sessions", None, body).await
    }))
    .await;
    assert_eq!(count(&answers, 401), 3);
    assert_eq!(recorded_failures(app, user.id).await, 3);
}

#[tokio::test]
async fn the_password_kept_at_verification_is_checked_only_with_a_right_code_and_counted() {
    let smtp = SmtpSink::start().await;
    let app = spawn_with_mail(&smtp).await;
    let user = app.new_user().await;
    let confirm = |code: String, password: &'static str| {
        app.post(
            "/v1/email-verification/confirm",
            None,
            json!({"email": user.email, "code": code, "password": password}),
        )
    };
    // Without the mailbox, the password is never checked: no oracle, no budget spent.
    for _ in 0..3 {
        confirm("000000".into(), WRONG)
            .await
            .assert_problem(400, "code_invalid");
    }
    // The code mailed at sign-up: three wrong tries left it alive.
    let code = code_in(&smtp.wait_for_mail(&user.email, VERIFY).await);
    let answers = join_all((0..30).map(|_| confirm(code.clone(), WRONG))).await;
    assert_eq!(count(&answers, 403), 5, "checked and refused");
    assert_eq!(count(&answers, 429), 25, "refused before any check");
    assert_eq!(app.count_events(Some("EmailVerified")).await, 0);
}

/// A known account's sign-ins count on one key, the SHA-256 of `account:<id>`, whichever of
/// its identifiers names it (and the key keeps its form, so counts made before an upgrade
/// still count).
#[tokio::test]
async fn a_known_accounts_attempts_count_on_its_account_key() {
    use sha2::Digest as _;
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"username": "keyed"}))
        .await;
    app.sign_in(&user.email, WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    let by_username = app
        .post(
            "/v1/sessions",
            None,
            json!({"username": "keyed", "password": WRONG}),
        )
        .await;
    by_username.assert_problem(401, "invalid_credentials");
    let key = sha2::Sha256::digest(format!("account:{}", user.id).as_bytes()).to_vec();
    let failures: i32 = app
        .db
        .query_one(
            "SELECT failures FROM sign_in_throttle WHERE identifier_hash = $1",
            &[&key],
        )
        .await
        .expect("the account's key")
        .get(0);
    assert_eq!(failures, 2);
}
