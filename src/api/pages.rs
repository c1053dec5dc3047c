//! Plain HTML pages for the links in mails, usable without a front end:
//! `GET /verify-email?token=` (a confirm button) and `GET /reset-password?token=` (a form for
//! the new password). Their forms post back to the same paths.

use super::edge::command_metadata;
use super::i18n::Language;
use crate::service::codes::CodeProof;
use crate::service::{ServiceError, Services};
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Html, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

/// A link's token.
#[derive(Debug, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    token: String,
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
pub async fn verify_email_page(req: &Request, Query(params): Query<TokenParams>) -> Html<String> {
    let zh = chinese(req);
    let (title, button) = if zh {
        ("验证邮箱", "确认验证")
    } else {
        ("Verify your email address", "Verify")
    };
    Html(page(
        title,
        &format!(
            "<form method=\"post\" action=\"/verify-email\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">{button}</button></form>",
            escape(&params.token)
        ),
    ))
}

/// `POST /verify-email`: confirms the address.
#[handler]
pub async fn verify_email_submit(
    req: &Request,
    services: Data<&Services>,
    Form(form): Form<TokenParams>,
) -> Response {
    let zh = chinese(req);
    let proof = CodeProof::Link { token: form.token };
    match services.confirm_email(&proof, &command_metadata(req)).await {
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
pub async fn reset_password_page(req: &Request, Query(params): Query<TokenParams>) -> Html<String> {
    let zh = chinese(req);
    let (title, label, button) = if zh {
        ("重置密码", "新密码", "保存")
    } else {
        ("Choose a new password", "New password", "Save")
    };
    Html(page(
        title,
        &format!(
            "<form method=\"post\" action=\"/reset-password\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <label>{label} <input type=\"password\" name=\"new_password\" minlength=\"8\" \
             maxlength=\"128\" autocomplete=\"new-password\" required></label> \
             <button type=\"submit\">{button}</button></form>",
            escape(&params.token)
        ),
    ))
}

/// `POST /reset-password`: sets the new password; every session ends.
#[handler]
pub async fn reset_password_submit(
    req: &Request,
    services: Data<&Services>,
    Form(form): Form<ResetForm>,
) -> Response {
    let zh = chinese(req);
    let proof = CodeProof::Link { token: form.token };
    match services
        .reset_password(&proof, &form.new_password, &command_metadata(req))
        .await
    {
        Ok(_) => result(
            zh,
            StatusCode::OK,
            "密码已重置，请用新密码登录。",
            "Your password is changed. Sign in with the new one.",
        ),
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
        _ => result(
            zh,
            StatusCode::SERVICE_UNAVAILABLE,
            "服务暂时不可用，请稍后再试。",
            "Something went wrong. Try again in a moment.",
        ),
    }
}

fn result(zh: bool, status: StatusCode, chinese: &str, english: &str) -> Response {
    let text = if zh { chinese } else { english };
    Html(page(text, "")).with_status(status).into_response()
}

fn chinese(req: &Request) -> bool {
    Language::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok()),
    ) == Language::ZhCn
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 32rem; margin: 4rem auto\">\
         <h1 style=\"font-size: 1.4rem\">{title}</h1>{body}</body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
