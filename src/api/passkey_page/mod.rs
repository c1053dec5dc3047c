//! `GET /passkeys`: a plain page that signs in with a password, adds a passkey, and signs in
//! with a passkey alone, through the API and the browser's WebAuthn (`navigator.credentials`).
//! It shows front ends how the API's JSON maps to WebAuthn, and lets a browser test drive
//! every passkey ceremony end to end. Its one script and style are allowed by their SHA-256;
//! it talks to this service only.

use super::i18n::Language;
use poem::http::header;
use poem::web::Html;
use poem::{IntoResponse, Request, Response, handler};
use std::sync::LazyLock;

/// The page's script.
const SCRIPT: &str = include_str!("page.js");

/// The page's style.
const STYLE: &str = "body{font-family:sans-serif;max-width:32rem;margin:4rem auto}\
                     h1{font-size:1.4rem}label,button{display:block;margin:.5rem 0}";

/// The page's `Content-Security-Policy` (CSP Level 3): its own script and style by hash,
/// requests to this service only, no framing.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        sha256(SCRIPT),
        sha256(STYLE)
    )
});

fn sha256(text: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(text);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// `GET /passkeys`: the page, in the caller's language.
#[handler]
pub async fn passkeys_page(req: &Request) -> Response {
    let zh = Language::of(req) == Language::ZhCn;
    let lang = if zh { "zh-CN" } else { "en" };
    let t = |en: &'static str, chinese: &'static str| if zh { chinese } else { en };
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1>\
         <label>{email} <input id=\"email\" type=\"email\" autocomplete=\"username webauthn\"></label>\
         <label>{password} <input id=\"password\" type=\"password\" \
         autocomplete=\"current-password\"></label>\
         <button id=\"sign-in\" type=\"button\">{sign_in}</button>\
         <label>{name} <input id=\"name\" value=\"{device}\" maxlength=\"64\"></label>\
         <button id=\"add\" type=\"button\">{add}</button>\
         <button id=\"passkey\" type=\"button\">{passkey}</button>\
         <p id=\"status\" role=\"status\"></p><script>{SCRIPT}</script></body></html>",
        title = t("Passkeys", "通行密钥"),
        email = t("Email", "邮箱"),
        password = t("Password", "密码"),
        sign_in = t("Sign in with the password", "使用密码登录"),
        name = t("Passkey name", "通行密钥名称"),
        device = t("This device", "此设备"),
        add = t("Add a passkey", "添加通行密钥"),
        passkey = t("Sign in with a passkey", "使用通行密钥登录"),
    );
    Html(html)
        .with_header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY.as_str(),
        )
        .into_response()
}
