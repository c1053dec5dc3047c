//! Answers that carry a token, a code or personal data are never stored by a cache, and the
//! pages for mailed links cannot be framed, run no script, and leak no token in a Referer.

use crate::helpers::{Answer, make_owner, spawn_pipeline};
use base64::Engine as _;
use reqwest::Method;
use serde_json::json;
use sha2::Digest as _;

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[track_caller]
fn assert_not_stored(what: &str, answer: &Answer) {
    assert_eq!(header(answer, "cache-control"), "no-store", "{what}");
    assert_eq!(header(answer, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(answer, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(
        header(answer, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
}

#[tokio::test]
async fn answers_with_tokens_codes_or_personal_data_are_not_stored() {
    let app = spawn_pipeline().await;
    let signed_up = app
        .sign_up_email(&format!(
            "cache-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ))
        .await;
    assert_eq!(signed_up.status, 201);
    assert_not_stored("sign-up", &signed_up);
    let user = app.new_user().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let signed_in = app.sign_in(&user.email, crate::helpers::PASSWORD).await;
    assert_not_stored("sign-in", &signed_in);
    let token = Some(user.token.as_str());
    for (what, answer) in [
        ("me", app.get("/v1/me", token).await),
        ("sessions", app.get("/v1/sessions", token).await),
        ("history", app.get("/v1/me/events", token).await),
        ("privacy", app.get("/v1/me/privacy", token).await),
        ("addresses", app.get("/v1/me/addresses", token).await),
        (
            "profile change",
            app.patch("/v1/me", &user.token, json!({"bio": "hi"})).await,
        ),
        (
            "public profile",
            app.get(&format!("/v1/users/{}", user.id), None).await,
        ),
        (
            "admin listing",
            app.get("/v1/admin/users", Some(&owner.token)).await,
        ),
        (
            "admin account",
            app.get(&format!("/v1/admin/users/{}", user.id), Some(&owner.token))
                .await,
        ),
        (
            "code",
            app.post(
                "/v1/codes",
                None,
                json!({"channel": "email", "to": user.email, "purpose": "sign_in"}),
            )
            .await,
        ),
        ("captcha", app.get("/v1/captcha", None).await),
        ("problem", app.get("/v1/me", None).await),
        (
            "not found",
            app.send(Method::GET, "/v1/nowhere", None, None, &[]).await,
        ),
    ] {
        assert!(answer.status.as_u16() < 500, "{what}: {}", answer.body);
        assert_not_stored(what, &answer);
    }
    // The API document is public and may be cached.
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(header(&spec, "cache-control"), "");
}

#[tokio::test]
async fn link_pages_run_no_script_cannot_be_framed_and_name_their_language() {
    let app = spawn_pipeline().await;
    for (path, lang) in [
        ("/verify-email?token=abc", "en"),
        ("/reset-password?token=abc", "en"),
    ] {
        for (accept, lang) in [("en", lang), ("zh-CN", "zh-CN")] {
            let page = app
                .send(
                    Method::GET,
                    path,
                    None,
                    None,
                    &[("accept-language", accept)],
                )
                .await;
            // `abc` is no link: the page says so (and the form pages are in `recovery.rs`).
            assert_eq!(page.status, 400);
            assert_not_stored(path, &page);
            let html = page.body.as_str().expect("html");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
            assert!(!html.contains("<script"), "{html}");
            assert!(
                !html.contains(" style=\""),
                "inline style attributes: {html}"
            );
            let policy = header(&page, "content-security-policy");
            for directive in [
                "default-src 'none'",
                "frame-ancestors 'none'",
                "form-action 'self'",
                "base-uri 'none'",
            ] {
                assert!(policy.contains(directive), "{policy}");
            }
            assert!(!policy.contains("unsafe-inline"), "{policy}");
            // The one style block is allowed by its hash.
            let style = html
                .split_once("<style>")
                .and_then(|(_, rest)| rest.split_once("</style>"))
                .map(|(style, _)| style)
                .expect("a style block");
            let hash = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(style.as_bytes()));
            assert!(
                policy.contains(&format!("style-src 'sha256-{hash}'")),
                "{policy}"
            );
        }
    }
}
