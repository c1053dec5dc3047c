//! `/v1/sessions`: sign in, list my sessions, sign out, end sessions.

use super::ApiTags;
use super::accounts::parse_identifier;
use super::auth::SignedIn;
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::{AccountView, Done};
use crate::domain::account::Identifier;
use crate::domain::account::SessionsToEnd;
use crate::domain::values::Phone;
use crate::service;
use crate::service::Context;
use crate::service::FieldError;
use crate::service::codes::Target;
use crate::service::executor::CommandMetadata;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

/// Sign-in by email or username, with the password.
#[derive(Debug, Object)]
pub struct SignInRequest {
    /// Email address (give this or `username`).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Username (give one of `email`, `username`, `phone`).
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Phone number.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub phone: Option<String>,
    /// Password (give this or `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// A one-time code sent to the email address for `sign_in` (`POST /v1/codes`); give this
    /// or `password`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub code: Option<String>,
    /// A solved captcha from `GET /v1/captcha` (base64 JSON, as the ALTCHA widget sends it);
    /// needed after 3 failed sign-ins for the identifier, or 20 (by default) from the client,
    /// within 30 minutes (`428 captcha_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 4096))]
    pub captcha: Option<String>,
}

/// Sign-in (or sign-up) by a texted code.
#[derive(Debug, Object)]
pub struct SmsSignInRequest {
    /// The phone number the `sign_in` code was texted to.
    #[oai(validator(max_length = 32))]
    pub phone: String,
    /// The code.
    #[oai(validator(max_length = 32))]
    pub code: String,
    /// A solved captcha from `GET /v1/captcha`: needed when the phone is new and the client's
    /// address has sent 20 sign-ups (by default) within an hour (`428 captcha_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 4096))]
    pub captcha: Option<String>,
}

#[derive(ApiResponse)]
enum SmsSignInResponse {
    /// Signed in to the phone's account.
    #[oai(status = 200)]
    SignedIn(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
    /// No account had the phone: one was created with it, and signed in.
    #[oai(status = 201)]
    SignedUp(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
    /// The code is right and the phone's account has a second factor: no session yet; answer
    /// the challenge with it (`POST /v1/sessions/mfa`).
    #[oai(status = 202)]
    MfaRequired(
        Json<MfaChallengeView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// A proof-of-work challenge (ALTCHA-compatible): find `number` in `0..=maxnumber` such that
/// `hex(sha256(salt + number)) == challenge`, then send base64 of the JSON
/// `{algorithm, challenge, number, salt, signature}` as `captcha`.
#[derive(Debug, Object)]
pub struct CaptchaView {
    /// `SHA-256`.
    pub algorithm: String,
    /// The hash to find the number for.
    pub challenge: String,
    /// The number is at most this.
    pub maxnumber: u64,
    /// Salt, with its expiry.
    pub salt: String,
    /// The service's signature of the challenge.
    pub signature: String,
}

/// A new session.
#[derive(Debug, Object)]
pub struct NewSessionView {
    /// Bearer token for `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
    /// Session id.
    pub session_id: Uuid,
    /// The signed-in account.
    pub account: AccountView,
}

/// One of my live sessions.
#[derive(Debug, Object)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// User agent at sign-in.
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// Client address at sign-in.
    #[oai(skip_serializing_if_is_none)]
    pub ip: Option<String>,
    /// True for the session making this request.
    pub current: bool,
    /// Authenticator assurance level (NIST SP 800-63B): `aal2` when a second factor was proven
    /// with the first, else `aal1`.
    pub aal: Aal,
    /// The factors it was signed in with, first factor first.
    pub methods: Vec<AuthenticationMethod>,
}

impl SessionView {
    /// The view of a live session; `current` names the session making the request.
    pub fn of(s: crate::store::sessions::SessionSummary, current: Option<Uuid>) -> Self {
        Self {
            current: Some(s.id) == current,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            ip: s.ip,
            aal: match s.second_factor_at {
                Some(_) => Aal::Aal2,
                None => Aal::Aal1,
            },
            methods: s
                .methods
                .iter()
                .filter_map(|name| AuthenticationMethod::parse(name))
                .collect(),
        }
    }
}

/// Authenticator assurance level (NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Aal {
    /// One factor.
    Aal1,
    /// Two factors of different kinds.
    Aal2,
}

/// A factor a session was signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AuthenticationMethod {
    /// The password.
    Password,
    /// A one-time code mailed or texted to the account.
    Code,
    /// A TOTP code (RFC 6238).
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A passkey (WebAuthn, user verified).
    Passkey,
}

impl AuthenticationMethod {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "password" => Some(Self::Password),
            "code" => Some(Self::Code),
            "totp" => Some(Self::Totp),
            "recovery_code" => Some(Self::RecoveryCode),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }
}

/// A second factor a challenge can be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SecondFactorView {
    /// A TOTP code (`totp_code`).
    Totp,
    /// A recovery code (`recovery_code`).
    RecoveryCode,
    /// A passkey's assertion (`passkey_assertion`, with `passkey_options`).
    Passkey,
}

/// The first factor is proven; the account has a second factor: answer this challenge with
/// it (`POST /v1/sessions/mfa`) to get the session.
#[derive(Debug, Object)]
pub struct MfaChallengeView {
    /// Always `true`: no session yet.
    pub mfa_required: bool,
    /// The challenge token: single-use, dead after 5 minutes or 5 wrong answers.
    pub challenge: String,
    /// The second factors that can answer it.
    pub methods: Vec<SecondFactorView>,
    /// When the challenge dies.
    pub expires_at: DateTime<Utc>,
    /// With `passkey` among the methods: WebAuthn request options for
    /// `navigator.credentials.get()` (`{publicKey: {challenge, allowCredentials, rpId,
    /// userVerification, ...}}`, binary fields in base64url); send what it returns as
    /// `passkey_assertion`.
    #[oai(skip_serializing_if_is_none)]
    pub passkey_options: Option<WebAuthnJson>,
}

impl MfaChallengeView {
    fn of(challenge: service::sessions::Challenge) -> Self {
        use crate::domain::account::SecondFactorMethod as M;
        Self {
            mfa_required: true,
            challenge: challenge.token,
            methods: challenge
                .methods
                .iter()
                .map(|method| match method {
                    M::Totp => SecondFactorView::Totp,
                    M::RecoveryCode => SecondFactorView::RecoveryCode,
                    M::Passkey => SecondFactorView::Passkey,
                })
                .collect(),
            expires_at: challenge.expires_at,
            passkey_options: challenge.passkey_options.map(webauthn_object),
        }
    }
}

/// The second step of a sign-in: the challenge and one second factor.
#[derive(Debug, Object)]
pub struct MfaSignInRequest {
    /// The challenge token `POST /v1/sessions` answered.
    #[oai(validator(max_length = 128))]
    pub challenge: String,
    /// A 6-digit TOTP code from the authenticator app (give this or `recovery_code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub totp_code: Option<String>,
    /// One of the account's recovery codes (give this, `totp_code` or `passkey_assertion`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub recovery_code: Option<String>,
    /// A passkey's assertion: the `PublicKeyCredential` that `navigator.credentials.get()`
    /// returned for the challenge's `passkey_options`, as JSON (`{id, rawId, type, response:
    /// {authenticatorData, clientDataJSON, signature, userHandle}}`, binary in base64url).
    #[oai(skip_serializing_if_is_none)]
    pub passkey_assertion: Option<WebAuthnJson>,
}

/// A WebAuthn structure as JSON (options for the browser, or a `PublicKeyCredential` from
/// it): an object whose binary fields are base64url text.
pub type WebAuthnJson = std::collections::BTreeMap<String, serde_json::Value>;

/// `json` as a WebAuthn object for the client (webauthn-rs' options are objects).
pub fn webauthn_object(json: serde_json::Value) -> WebAuthnJson {
    match json {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => WebAuthnJson::new(),
    }
}

/// A client's WebAuthn object as JSON.
pub fn webauthn_value(json: &WebAuthnJson) -> serde_json::Value {
    serde_json::Value::Object(json.clone().into_iter().collect())
}

/// A passwordless sign-in, or a passkey registration, begun: run the ceremony in the
/// authenticator, then finish it with `ceremony` within 5 minutes.
#[derive(Debug, Object)]
pub struct PasskeyCeremonyView {
    /// The ceremony's token: single-use, for the finish.
    pub ceremony: String,
    /// WebAuthn options (`{publicKey: {...}}`, binary fields in base64url) for
    /// `navigator.credentials.get()` (sign-in) or `.create()` (registration).
    pub options: WebAuthnJson,
    /// When the ceremony dies unfinished.
    pub expires_at: DateTime<Utc>,
}

impl PasskeyCeremonyView {
    /// The view of a ceremony begun.
    pub fn of(started: service::passkeys::CeremonyStarted) -> Self {
        Self {
            ceremony: started.ceremony,
            options: webauthn_object(started.options),
            expires_at: started.expires_at,
        }
    }
}

/// The end of a passkey assertion ceremony (a passwordless sign-in, or a step-up).
#[derive(Debug, Object)]
pub struct PasskeyAssertionRequest {
    /// The ceremony token its start answered.
    #[oai(validator(max_length = 128))]
    pub ceremony: String,
    /// The `PublicKeyCredential` that `navigator.credentials.get()` returned, as JSON (`{id,
    /// rawId, type, response: {authenticatorData, clientDataJSON, signature, userHandle}}`,
    /// binary in base64url).
    pub credential: WebAuthnJson,
}

impl NewSessionView {
    fn of(signed_in: service::sessions::SignedIn) -> Self {
        Self {
            token: signed_in.token,
            expires_at: signed_in.expires_at,
            session_id: signed_in.session_id,
            account: AccountView::of(signed_in.account_id, &signed_in.account),
        }
    }
}

#[derive(ApiResponse)]
#[allow(
    clippy::large_enum_variant,
    reason = "one answer, built once and written out at once"
)]
enum SignInResponse {
    /// Signed in.
    #[oai(status = 201)]
    Created(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
    /// The first factor is right and the account has a second factor: no session yet;
    /// answer the challenge with it (`POST /v1/sessions/mfa`).
    #[oai(status = 200)]
    MfaRequired(
        Json<MfaChallengeView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

impl SignInResponse {
    fn of(outcome: service::sessions::SignInOutcome) -> Self {
        use service::sessions::SignInOutcome as O;
        match outcome {
            O::SignedIn(signed_in) => {
                let position = signed_in.position;
                Self::Created(Json(NewSessionView::of(signed_in)), position)
            }
            O::Challenged(challenge) => {
                let position = challenge.position;
                Self::MfaRequired(Json(MfaChallengeView::of(challenge)), position)
            }
        }
    }
}

#[derive(ApiResponse)]
enum MfaSignInResponse {
    /// Signed in with both factors (`aal2`).
    #[oai(status = 201)]
    Created(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Sessions.
pub struct SessionsApi;

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// Sign in
    ///
    /// Starts a session for an email, username or phone and its password, or for an email or
    /// phone and a `sign_in` code sent to it. A wrong password and an unknown account get the
    /// same `401 invalid_credentials`, in about the same time. Each password attempt is counted
    /// before it is checked: after 3 failures for the identifier, or 20 from the client
    /// address, within 30 minutes, `428 captcha_required` until a solved captcha comes with it.
    /// A mailed code proves the address: on an account whose address was not verified, it
    /// verifies it, removes the password set before and ends every other session.
    ///
    /// On an account with a second factor (TOTP), the right password or code answers `200`
    /// with `mfa_required: true` and a challenge instead of a session: send it with a TOTP or
    /// recovery code to `POST /v1/sessions/mfa` within 5 minutes.
    #[oai(path = "/v1/sessions", method = "post", operation_id = "signIn")]
    async fn sign_in(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<SignInRequest>,
    ) -> Result<SignInResponse, Problems<{ BODY | UNAUTHORIZED | FORBIDDEN | CONFLICT | CAPTCHA }>>
    {
        let identifier = parse_identifier(
            body.email.as_deref(),
            body.username.as_deref(),
            body.phone.as_deref(),
        )
        .map_err(|error| ApiError::validation(vec![error]))?;
        let signed_in = match (&body.password, &body.code, identifier) {
            (Some(password), None, identifier) => {
                service::sign_in::sign_in(
                    &ctx,
                    &identifier,
                    password,
                    body.captcha.as_deref(),
                    &metadata,
                )
                .await?
            }
            (None, Some(code), Identifier::Email(email)) => {
                let target = Target::email(&email);
                service::recovery::sign_in_with_code(&ctx, &target, code, &metadata).await?
            }
            (None, Some(code), Identifier::Phone(phone)) => {
                let target = Target::phone(&phone);
                service::recovery::sign_in_with_code(&ctx, &target, code, &metadata).await?
            }
            (None, Some(_), Identifier::Username(_)) => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "code".to_owned(),
                    code: FieldCode::CodeNeedsEmail.as_str(),
                    message: "codes are sent to an email address or a phone: sign in with \
                              `email` or `phone` and `code`"
                        .to_owned(),
                }])
                .into());
            }
            _ => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "password".to_owned(),
                    code: FieldCode::PasswordOrCode.as_str(),
                    message: "give exactly one of `password` and `code`".to_owned(),
                }])
                .into());
            }
        };
        Ok(SignInResponse::of(signed_in))
    }

    /// Sign in: the second factor
    ///
    /// Answers the challenge `POST /v1/sessions` gave an account with a second factor, with a
    /// TOTP code or a recovery code: the session starts (`aal2`). Each code works once. A
    /// wrong or used code is `401 mfa_invalid`; a challenge expired (5 minutes), answered, or
    /// with 5 wrong answers is dead: `401 mfa_challenge_expired` (sign in again). Every answer
    /// is counted before it is checked, and after 10 wrong second factors for the account in
    /// 30 minutes, `429` with `Retry-After`.
    #[oai(
        path = "/v1/sessions/mfa",
        method = "post",
        operation_id = "signInWithSecondFactor"
    )]
    async fn sign_in_with_second_factor(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<MfaSignInRequest>,
    ) -> Result<MfaSignInResponse, Problems<{ BODY | UNAUTHORIZED | FORBIDDEN | TOO_MANY }>> {
        use service::second_factor::ChallengeAnswer;
        let assertion = body.passkey_assertion.as_ref().map(webauthn_value);
        let answer = match (&body.totp_code, &body.recovery_code, &assertion) {
            (Some(code), None, None) => ChallengeAnswer::Totp(code),
            (None, Some(code), None) => ChallengeAnswer::RecoveryCode(code),
            (None, None, Some(assertion)) => ChallengeAnswer::Passkey(assertion),
            _ => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "totp_code".to_owned(),
                    code: FieldCode::TotpOrRecoveryCode.as_str(),
                    message: "give exactly one of `totp_code`, `recovery_code` and \
                              `passkey_assertion`"
                        .to_owned(),
                }])
                .into());
            }
        };
        let signed_in =
            service::second_factor::answer_challenge(&ctx, &body.challenge, answer, &metadata)
                .await?;
        let position = signed_in.position;
        Ok(MfaSignInResponse::Created(
            Json(NewSessionView::of(signed_in)),
            position,
        ))
    }

    /// Sign in with a passkey: begin
    ///
    /// Begins a passwordless sign-in: WebAuthn request options for a discoverable passkey
    /// (`navigator.credentials.get()`, also with `mediation: "conditional"` for autofill),
    /// user verification required. Finish with `POST /v1/sessions/passkey/finish` within 5
    /// minutes. Each client address begins at most 60 in 5 minutes (`429`).
    #[oai(
        path = "/v1/sessions/passkey/start",
        method = "post",
        operation_id = "startPasskeySignIn"
    )]
    async fn start_passkey_sign_in(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
    ) -> Result<
        Json<PasskeyCeremonyView>,
        Problems<{ BAD_REQUEST | UNPROCESSABLE | UNAVAILABLE | TOO_MANY }>,
    > {
        let started = service::passkeys::start_sign_in(&ctx, &metadata).await?;
        Ok(Json(PasskeyCeremonyView::of(started)))
    }

    /// Sign in with a passkey: finish
    ///
    /// Verifies the authenticator's assertion (signature, challenge, origin, RP ID, user
    /// verification, signature counter) against the passkey its user handle and credential id
    /// name, and starts a session at `aal2` (a user-verified passkey is two factors). The
    /// ceremony is spent by the first finish, right or wrong. `401 passkey_challenge_expired`
    /// for a ceremony expired, finished or unknown; `401 passkey_invalid` for an assertion that
    /// names no registered passkey or does not verify (recorded on the account as a failed
    /// sign-in); `403 account_blocked`.
    #[oai(
        path = "/v1/sessions/passkey/finish",
        method = "post",
        operation_id = "finishPasskeySignIn"
    )]
    async fn finish_passkey_sign_in(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<PasskeyAssertionRequest>,
    ) -> Result<MfaSignInResponse, Problems<{ BODY | UNAUTHORIZED | FORBIDDEN }>> {
        let signed_in = service::passkeys::finish_sign_in(
            &ctx,
            &body.ceremony,
            &webauthn_value(&body.credential),
            &metadata,
        )
        .await?;
        let position = signed_in.position;
        Ok(MfaSignInResponse::Created(
            Json(NewSessionView::of(signed_in)),
            position,
        ))
    }

    /// Sign in or up by text message
    ///
    /// With a `sign_in` code texted to the phone (`POST /v1/codes`, channel `sms`): signs in to
    /// the phone's account (`200`), or creates one with the phone and no password (`201`). When
    /// the phone's account has a second factor, `202` with a challenge for it instead of a
    /// session (`POST /v1/sessions/mfa`).
    #[oai(
        path = "/v1/sessions/sms",
        method = "post",
        operation_id = "signInBySms"
    )]
    async fn sign_in_by_sms(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<SmsSignInRequest>,
    ) -> Result<SmsSignInResponse, Problems<{ BODY | FORBIDDEN | CONFLICT | CAPTCHA }>> {
        let phone = Phone::parse(&body.phone)
            .map_err(|invalid| ApiError::validation(vec![FieldError::new("phone", invalid)]))?;
        let (signed_in, created) = service::recovery::sign_in_or_up_by_sms(
            &ctx,
            &phone,
            &body.code,
            body.captcha.as_deref(),
            &metadata,
        )
        .await?;
        use service::sessions::SignInOutcome as O;
        Ok(match signed_in {
            O::Challenged(challenge) => {
                let position = challenge.position;
                SmsSignInResponse::MfaRequired(Json(MfaChallengeView::of(challenge)), position)
            }
            O::SignedIn(signed_in) => {
                let position = signed_in.position;
                let view = Json(NewSessionView::of(signed_in));
                match created {
                    true => SmsSignInResponse::SignedUp(view, position),
                    false => SmsSignInResponse::SignedIn(view, position),
                }
            }
        })
    }

    /// Get a captcha challenge
    ///
    /// A proof-of-work challenge, valid 10 minutes, compatible with the ALTCHA widget
    /// (`challengeurl`). Its solution goes in `captcha` of a sign-in once one is required.
    #[oai(path = "/v1/captcha", method = "get", operation_id = "getCaptcha")]
    async fn get_captcha(&self, ctx: Data<&Context>) -> Json<CaptchaView> {
        let challenge = service::sign_in::captcha_challenge(&ctx);
        Json(CaptchaView {
            algorithm: challenge.algorithm,
            challenge: challenge.challenge,
            maxnumber: challenge.maxnumber,
            salt: challenge.salt,
            signature: challenge.signature,
        })
    }

    /// List my sessions
    ///
    /// The live sessions of my account, newest first.
    #[oai(path = "/v1/sessions", method = "get", operation_id = "listSessions")]
    async fn list_sessions(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Accepted for uniformity with other queries; sessions are always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Vec<SessionView>>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let sessions = service::sessions::live(&ctx, caller.0.account_id).await?;
        Ok(Json(
            sessions
                .into_iter()
                .map(|s| SessionView::of(s, Some(caller.0.id)))
                .collect(),
        ))
    }

    /// Sign out
    ///
    /// Ends the session making this request.
    #[oai(
        path = "/v1/sessions/current",
        method = "delete",
        operation_id = "signOut"
    )]
    async fn sign_out(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | UNPROCESSABLE }>> {
        let which = SessionsToEnd::One(caller.0.id);
        let position = service::sessions::end_sessions(&ctx, caller.0, which, &metadata).await?;
        Ok(Done::NoContent(position))
    }

    /// End one of my sessions
    ///
    /// Signs out another device. `404 session_not_found` when the session is not a live
    /// session of mine.
    #[oai(
        path = "/v1/sessions/:id",
        method = "delete",
        operation_id = "endSession"
    )]
    async fn end_session(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// The session to end.
        id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>> {
        let position =
            service::sessions::end_sessions(&ctx, caller.0, SessionsToEnd::One(id.0), &metadata)
                .await?;
        Ok(Done::NoContent(position))
    }

    /// End all my other sessions
    ///
    /// Signs out every device but this one.
    #[oai(
        path = "/v1/sessions",
        method = "delete",
        operation_id = "endOtherSessions"
    )]
    async fn end_other_sessions(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | UNPROCESSABLE }>> {
        let which = SessionsToEnd::AllExcept(caller.0.id);
        let position = service::sessions::end_sessions(&ctx, caller.0, which, &metadata).await?;
        Ok(Done::NoContent(position))
    }
}
