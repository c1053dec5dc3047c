//! Plain HTML pages for the links in mails, usable without a front end:
//! `GET /verify-email?token=` (a confirm button) and `GET /reset-password?token=` (a form for
//! the new password). Their forms post back to the same paths. Each page says until when its
//! link works, or that it does not any more (reading it spends nothing); a new password the
//! service refuses brings the form back with the reasons, in the page's language.

use super::edge::command_metadata;
use super::i18n::Language;
use crate::domain::code::Purpose;
use crate::service;
use crate::service::codes::CodeProof;
use crate::service::{Context, ServiceError};
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Html, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use std::sync::LazyLock;

/// A link's token.
#[derive(Debug, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    token: String,
}

/// The verification form: the password is optional and keeps it.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// The reset form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

/// `GET /verify-email?token=`: a button that confirms the address.
#[handler]
pub async fn verify_email_page(
    req: &Request,
    ctx: Data<&Context>,
    Query(params): Query<TokenParams>,
) -> Response {
    let zh = chinese(req);
    match link_works_until(&ctx, &params.token, Purpose::VerifyEmail, zh).await {
        Ok(until) => verify_form(zh, &params.token, &until),
        Err(page) => page,
    }
}

/// The confirmation form for `token`, with `note` (HTML) above the password.
fn verify_form(zh: bool, token: &str, note_html: &str) -> Response {
    let (title, note, label, button) = if zh {
        (
            "验证邮箱",
            "如果这个账户是你注册的，请输入密码以保留它。否则请留空：验证后，之前设置的密码和登录都会失效，你可以通过重置密码设置新密码。",
            "密码（可选）",
            "确认验证",
        )
    } else {
        (
            "Verify your email address",
            "If you signed up for this account, enter its password to keep it. Otherwise leave it \
             empty: once the address is verified, the password and sign-ins set up before stop \
             working, and you choose a password by resetting it.",
            "Password (optional)",
            "Verify",
        )
    };
    page(
        zh,
        title,
        &format!(
            "<form method=\"post\" action=\"/verify-email\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\"><p>{note}</p><p>{note_html}</p>\
             <label>{label} <input type=\"password\" name=\"password\" maxlength=\"128\" \
             autocomplete=\"current-password\"></label> \
             <button type=\"submit\">{button}</button></form>",
            escape(token)
        ),
    )
}

/// `POST /verify-email`: confirms the address.
#[handler]
pub async fn verify_email_submit(
    req: &Request,
    ctx: Data<&Context>,
    Form(form): Form<VerifyForm>,
) -> Response {
    let zh = chinese(req);
    let proof = CodeProof::Link {
        token: form.token.clone(),
    };
    let password = Some(form.password.as_str()).filter(|password| !password.is_empty());
    match service::contact::confirm_email(&ctx, &proof, password, &command_metadata(req)).await {
        Err(ServiceError::WrongPassword) => {
            // The link still works: the form again, saying why.
            let until = match link_works_until(&ctx, &form.token, Purpose::VerifyEmail, zh).await {
                Ok(until) => until,
                Err(page) => return page,
            };
            let note = if zh {
                format!("密码不对。请重试，或留空。{until}")
            } else {
                format!("That is not the account's password. Try again, or leave it empty. {until}")
            };
            verify_form(zh, &form.token, &note)
                .with_status(StatusCode::FORBIDDEN)
                .into_response()
        }
        Ok(_) => result(
            zh,
            StatusCode::OK,
            "邮箱已验证。",
            "Your email address is verified.",
        ),
        Err(ServiceError::EmailAlreadyVerified) => result(
            zh,
            StatusCode::OK,
            "邮箱已经验证过了。",
            "Your email address was verified already.",
        ),
        Err(error) => failure(zh, &error),
    }
}

/// `GET /reset-password?token=`: a form for the new password.
#[handler]
pub async fn reset_password_page(
    req: &Request,
    ctx: Data<&Context>,
    Query(params): Query<TokenParams>,
) -> Response {
    let zh = chinese(req);
    match link_works_until(&ctx, &params.token, Purpose::ResetPassword, zh).await {
        Ok(until) => reset_form(zh, &params.token, &until),
        Err(page) => page,
    }
}

/// The new-password form for `token`, above `note` (HTML).
fn reset_form(zh: bool, token: &str, note: &str) -> Response {
    let (title, label, button) = if zh {
        ("重置密码", "新密码", "保存")
    } else {
        ("Choose a new password", "New password", "Save")
    };
    page(
        zh,
        title,
        &format!(
            "<p>{note}</p><form method=\"post\" action=\"/reset-password\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <label>{label} <input type=\"password\" name=\"new_password\" minlength=\"8\" \
             maxlength=\"128\" autocomplete=\"new-password\" required></label> \
             <button type=\"submit\">{button}</button></form>",
            escape(token)
        ),
    )
}

/// "This link works until …" for a link that works, in the page's language; otherwise the
/// page that says it does not (or that the service cannot tell now).
async fn link_works_until(
    ctx: &Context,
    token: &str,
    purpose: Purpose,
    zh: bool,
) -> Result<String, Response> {
    match service::codes::link_expiry(ctx, token, purpose).await {
        Ok(Some(until)) => {
            let at = until.format("%Y-%m-%d %H:%M UTC");
            Ok(if zh {
                format!("此链接在 {at} 之前有效。")
            } else {
                format!("This link works until {at}.")
            })
        }
        Ok(None) => Err(failure(zh, &ServiceError::CodeInvalid)),
        Err(error) => Err(failure(zh, &error)),
    }
}

/// `POST /reset-password`: sets the new password; every session ends.
#[handler]
pub async fn reset_password_submit(
    req: &Request,
    ctx: Data<&Context>,
    Form(form): Form<ResetForm>,
) -> Response {
    let zh = chinese(req);
    // A link that no longer works says so first, whatever the password: the form again would
    // only lead to a second refusal.
    let until = match link_works_until(&ctx, &form.token, Purpose::ResetPassword, zh).await {
        Ok(until) => until,
        Err(page) => return page,
    };
    let proof = CodeProof::Link {
        token: form.token.clone(),
    };
    match service::recovery::reset_password(
        &ctx,
        &proof,
        &form.new_password,
        &command_metadata(req),
    )
    .await
    {
        Ok(_) => result(
            zh,
            StatusCode::OK,
            "密码已重置，请用新密码登录。",
            "Your password is changed. Sign in with the new one.",
        ),
        Err(ServiceError::Validation(errors)) => {
            // The link is still good: the form again, with the reasons.
            let reasons: Vec<String> = errors
                .iter()
                .map(|error| match zh {
                    false => escape(&error.message),
                    true => escape(
                        super::problem::catalog::field_title(error.code)
                            .map_or(error.message.as_str(), |title| title.zh),
                    ),
                })
                .collect();
            let note = if zh {
                format!(
                    "不能使用这个新密码：{}。请换一个。{until}",
                    reasons.join("；")
                )
            } else {
                format!(
                    "That new password cannot be used: {}. Choose another. {until}",
                    reasons.join("; ")
                )
            };
            reset_form(zh, &form.token, &note)
                .with_status(StatusCode::UNPROCESSABLE_ENTITY)
                .into_response()
        }
        Err(error) => failure(zh, &error),
    }
}

fn failure(zh: bool, error: &ServiceError) -> Response {
    match error {
        ServiceError::CodeInvalid | ServiceError::CodeExpired => result(
            zh,
            StatusCode::BAD_REQUEST,
            "链接无效或已过期，请重新申请。",
            "This link is not valid any more. Ask for a new one.",
        ),
        ServiceError::Validation(errors) => {
            let reasons: Vec<String> = errors.iter().map(|e| escape(&e.message)).collect();
            result(
                zh,
                StatusCode::UNPROCESSABLE_ENTITY,
                "新密码不符合要求，请返回重试。",
                &format!(
                    "The new password cannot be used: {}. Go back and try again.",
                    reasons.join("; ")
                ),
            )
        }
        ServiceError::WrongPassword => result(
            zh,
            StatusCode::FORBIDDEN,
            "密码不对。请返回重试，或留空。",
            "That is not the account's password. Go back and try again, or leave it empty.",
        ),
        ServiceError::TooManyRequests(_) => result(
            zh,
            StatusCode::TOO_MANY_REQUESTS,
            "尝试次数过多，请稍后再试。",
            "Too many tries. Try again later.",
        ),
        _ => result(
            zh,
            StatusCode::SERVICE_UNAVAILABLE,
            "服务暂时不可用，请稍后再试。",
            "Something went wrong. Try again in a moment.",
        ),
    }
}

/// The paths of the pages.
pub const PATHS: [&str; 2] = ["/verify-email", "/reset-password"];

/// The page for a request to a page that failed with `status` before its handler could say
/// more (a token given twice, a form sent as JSON, a body over the limit): the edge answers
/// every failed request to `PATHS` with it, as a person opening a link expects, not with a
/// problem document.
pub fn error_page(zh: bool, status: StatusCode) -> Response {
    let (chinese, english) = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "请通过页面上的表单提交。",
            "Send the form from the page (application/x-www-form-urlencoded).",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("提交的内容过大。", "The form is too large."),
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => {
            ("页面不存在。", "There is no such page.")
        }
        status if status.is_server_error() => (
            "出了点问题，请稍后再试。",
            "Something went wrong. Try again in a moment.",
        ),
        _ => (
            "这个链接无效。请使用邮件中的链接，或重新申请。",
            "This link is not valid. Use the link in the mail, or ask for a new one.",
        ),
    };
    result(zh, status, chinese, english)
}

fn result(zh: bool, status: StatusCode, chinese: &str, english: &str) -> Response {
    let text = if zh { chinese } else { english };
    page(zh, text, "").with_status(status).into_response()
}

fn chinese(req: &Request) -> bool {
    Language::of(req) == Language::ZhCn
}

/// The pages' only style, as a `<style>` element so that the policy can allow it by hash.
const STYLE: &str =
    "body{font-family:sans-serif;max-width:32rem;margin:4rem auto}h1{font-size:1.4rem}";

/// The pages' `Content-Security-Policy` (CSP Level 3): nothing loads, no script runs, the one
/// style block is allowed by its SHA-256, forms post only to this service, and no site may
/// frame the page.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// A page in the caller's language (`<html lang>`), under the pages' security policy; the edge
/// adds `Cache-Control: no-store`, `X-Frame-Options` and `Referrer-Policy` to every answer.
fn page(zh: bool, title: &str, body: &str) -> Response {
    let lang = if zh { "zh-CN" } else { "en" };
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>"
    ))
    .with_header(
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY.as_str(),
    )
    .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
