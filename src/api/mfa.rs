//! `/v1/me/mfa` and `/v1/me/passkeys`: my second factors (TOTP, RFC 6238; passkeys,
//! WebAuthn; recovery codes).

use super::ApiTags;
use super::auth::SignedIn;
use super::problem::{Problems, statuses::*};
use super::views::Done;
use crate::service;
use crate::service::Context;
use crate::service::executor::CommandMetadata;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// My second factors.
#[derive(Debug, Object)]
pub struct MfaView {
    /// TOTP is on: sign-in asks for a second factor, and step-up actions need one.
    pub totp: bool,
    /// A TOTP enrolment waits for its confirming code (`POST /v1/me/mfa/totp/confirm`).
    pub totp_pending: bool,
    /// When TOTP was turned on.
    #[oai(skip_serializing_if_is_none)]
    pub totp_enabled_at: Option<DateTime<Utc>>,
    /// Recovery codes left unused (of 10).
    pub recovery_codes_left: u32,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<PasskeyView>,
}

/// A registered passkey.
#[derive(Debug, Object)]
pub struct PasskeyView {
    /// Its id, for `DELETE /v1/me/passkeys/{id}`.
    pub id: uuid::Uuid,
    /// Its owner's name for it.
    pub name: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last proved a sign-in or step-up.
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl PasskeyView {
    fn of(passkey: &crate::domain::account::RegisteredPasskey) -> Self {
        Self {
            id: passkey.id,
            name: passkey.name.as_str().to_owned(),
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }
}

/// Confirms adding a passkey.
#[derive(Debug, Object)]
pub struct StartPasskeyRegistrationRequest {
    /// The account's password; required when the account has one.
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// With a second factor on: a TOTP code or a recovery code, unless this session proved a
    /// second factor in the last 10 minutes (`403 mfa_step_up_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

/// The end of a passkey registration.
#[derive(Debug, Object)]
pub struct FinishPasskeyRegistrationRequest {
    /// The ceremony token `POST /v1/me/passkeys/register/start` answered.
    #[oai(validator(max_length = 128))]
    pub ceremony: String,
    /// A name for the passkey (1 to 64 characters), e.g. the device's.
    #[oai(validator(max_length = 256))]
    pub name: String,
    /// The `PublicKeyCredential` that `navigator.credentials.create()` returned, as JSON
    /// (`{id, rawId, type, response: {attestationObject, clientDataJSON}, extensions}`, binary
    /// in base64url).
    pub credential: super::sessions::WebAuthnJson,
}

/// A passkey registered.
#[derive(Debug, Object)]
pub struct PasskeyRegisteredView {
    /// The passkey.
    pub passkey: PasskeyView,
    /// When this is the account's first second factor: 10 recovery codes, shown this once.
    #[oai(skip_serializing_if_is_none)]
    pub recovery_codes: Option<Vec<String>>,
}

/// Confirms adding a second factor.
#[derive(Debug, Object)]
pub struct StartTotpRequest {
    /// The account's password; required when the account has one.
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// With a second factor on already (a passkey): a recovery code, unless this session
    /// proved a second factor in the last 10 minutes (`403 mfa_step_up_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

/// What an authenticator app needs to enrol (RFC 6238: HMAC-SHA-1, 6 digits, 30 s).
#[derive(Debug, Object)]
pub struct TotpEnrolmentView {
    /// The shared secret in base32 (RFC 4648, no padding), for typing into the app.
    pub secret: String,
    /// The `otpauth://totp/...` URI (Key Uri Format) that the app scans.
    pub otpauth_uri: String,
    /// The URI as a QR code: an SVG image (`image/svg+xml` text).
    pub qr_svg: String,
}

/// The first code from the authenticator app.
#[derive(Debug, Object)]
pub struct ConfirmTotpRequest {
    /// The 6-digit code the app shows now.
    #[oai(validator(max_length = 32))]
    pub code: String,
}

/// Recovery codes, shown this once.
#[derive(Debug, Object)]
pub struct RecoveryCodesView {
    /// 10 single-use codes (`XXXXX-XXXXX`; case, spaces and hyphens do not matter), each a
    /// second factor once when the authenticator is lost. Only their hashes are kept.
    pub recovery_codes: Vec<String>,
}

/// A step-up: a second factor sent with a sensitive action.
#[derive(Debug, Object)]
pub struct StepUpRequest {
    /// A TOTP code or a recovery code. Not needed when this session proved a second factor
    /// in the last 10 minutes (signed in with one); otherwise `403 mfa_step_up_required`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

#[derive(ApiResponse)]
enum TotpEnrolmentStarted {
    /// Enrolment started: scan the QR code (or type the secret), then confirm with a code.
    #[oai(status = 200)]
    Ok(
        Json<TotpEnrolmentView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum PasskeyCeremonyStarted {
    /// The ceremony begun: run it in the authenticator with the options, then finish it.
    #[oai(status = 200)]
    Ok(Json<super::sessions::PasskeyCeremonyView>),
}

#[derive(ApiResponse)]
enum PasskeyAdded {
    /// The passkey is registered.
    #[oai(status = 201)]
    Created(
        Json<PasskeyRegisteredView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum RecoveryCodesIssued {
    /// The new recovery codes, shown this once.
    #[oai(status = 200)]
    Ok(
        Json<RecoveryCodesView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// My second factors.
pub struct MfaApi;

#[OpenApi(tag = "ApiTags::SecondFactors")]
impl MfaApi {
    /// Get my second factors
    ///
    /// Whether TOTP is on or pending, and how many recovery codes are left.
    #[oai(path = "/v1/me/mfa", method = "get", operation_id = "getMfa")]
    async fn get_mfa(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
    ) -> Result<Json<MfaView>, Problems<SIGNED_IN>> {
        let factors = service::second_factor::factors(&ctx, caller.0).await?;
        Ok(Json(MfaView {
            totp: factors.totp,
            totp_pending: factors.totp_pending,
            totp_enabled_at: factors.enabled_at,
            recovery_codes_left: u32::try_from(factors.recovery_codes_left).unwrap_or(u32::MAX),
            passkeys: factors.passkeys.iter().map(PasskeyView::of).collect(),
        }))
    }

    /// Start TOTP enrolment
    ///
    /// A new TOTP secret (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) for an
    /// authenticator app: its base32 text, `otpauth://` URI and QR code. Not active until
    /// confirmed with a first code; a second call replaces a pending secret. Needs the
    /// account's password when it has one (`403 wrong_password`; `429` after too many), else
    /// a session started in the last 10 minutes (`403 recent_sign_in_required`), and a
    /// verified email address when the account has one (`409 email_not_verified`); with a
    /// passkey already, a step-up too (`mfa_code`, or a second factor proven by this session in
    /// the last 10 minutes, else `403 mfa_step_up_required`); `409 totp_already_enabled` when
    /// TOTP is on. The secret is kept sealed with the service's
    /// key. Under an `Idempotency-Key`, a retry gets `409 shown_once`, not the secret again.
    #[oai(path = "/v1/me/mfa/totp", method = "post", operation_id = "startTotp")]
    async fn start_totp(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<StartTotpRequest>,
    ) -> Result<TotpEnrolmentStarted, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let enrolment = service::second_factor::start_totp_enrolment(
            &ctx,
            caller.0,
            body.password.as_deref(),
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        let shown = enrolment.provisioning;
        Ok(TotpEnrolmentStarted::Ok(
            Json(TotpEnrolmentView {
                secret: shown.secret,
                otpauth_uri: shown.otpauth_uri,
                qr_svg: shown.qr_svg,
            }),
            enrolment.position,
        ))
    }

    /// Confirm TOTP
    ///
    /// Turns TOTP on with a code from the app (the current one, or one step either side), and
    /// answers 10 recovery codes, shown this once (none, `[]`, when the account has codes from
    /// its passkeys: they stay). From then, sign-in asks for a second factor.
    /// A wrong code is `422` naming `code` (`mfa_code_invalid`, also for a code of a secret
    /// that a later enrolment replaced: scan the new one; `mfa_code_malformed` for what cannot
    /// be a code), counted: after 10 wrong in 30 minutes, `429`. `409 totp_not_pending` without
    /// an enrolment, `409 totp_already_enabled` when TOTP is on. An account without a password
    /// confirms from a session started in the last 10 minutes (`403 recent_sign_in_required`).
    /// Under an `Idempotency-Key`, a retry gets `409 shown_once`, not the codes again.
    #[oai(
        path = "/v1/me/mfa/totp/confirm",
        method = "post",
        operation_id = "confirmTotp"
    )]
    async fn confirm_totp(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<ConfirmTotpRequest>,
    ) -> Result<RecoveryCodesIssued, Problems<SIGNED_IN_BODY>> {
        let issued =
            service::second_factor::confirm_totp(&ctx, caller.0, &body.code, &metadata).await?;
        Ok(RecoveryCodesIssued::Ok(
            Json(RecoveryCodesView {
                recovery_codes: issued.codes,
            }),
            issued.position,
        ))
    }

    /// Remove TOTP
    ///
    /// Turns TOTP off and voids the recovery codes. A step-up action: send `mfa_code` unless
    /// this session proved a second factor in the last 10 minutes (`403
    /// mfa_step_up_required`); a wrong code is `422` naming `mfa_code`, and after 10 wrong
    /// second factors in 30 minutes, `429`. With only an enrolment not yet confirmed, withdraws
    /// it (no second factor asked). `409 mfa_not_enabled` when there is neither.
    #[oai(
        path = "/v1/me/mfa/totp",
        method = "delete",
        operation_id = "removeTotp"
    )]
    async fn remove_totp(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<StepUpRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let position = service::second_factor::remove_totp(
            &ctx,
            caller.0,
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(Done::NoContent(position))
    }

    /// Get new recovery codes
    ///
    /// 10 new recovery codes, shown this once; the old ones stop working. A step-up action, as
    /// removing TOTP is. `409 mfa_not_enabled` without a second factor. Under an
    /// `Idempotency-Key`, a retry gets `409 shown_once`, not the codes again.
    #[oai(
        path = "/v1/me/mfa/recovery-codes",
        method = "post",
        operation_id = "regenerateRecoveryCodes"
    )]
    async fn regenerate_recovery_codes(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<StepUpRequest>,
    ) -> Result<RecoveryCodesIssued, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let issued = service::second_factor::regenerate_recovery_codes(
            &ctx,
            caller.0,
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(RecoveryCodesIssued::Ok(
            Json(RecoveryCodesView {
                recovery_codes: issued.codes,
            }),
            issued.position,
        ))
    }

    /// Register a passkey: begin
    ///
    /// WebAuthn creation options for `navigator.credentials.create()`: a passkey bound to the
    /// service's relying party, user verification required, discoverable when the
    /// authenticator can keep it (then it signs in alone). Needs the account's password when it
    /// has one (`403 wrong_password`), else a session started in the last 10 minutes (`403
    /// recent_sign_in_required`); with a second factor on, a step-up too (`mfa_code`, or a
    /// second factor proven by this session in the last 10 minutes, else `403
    /// mfa_step_up_required`); a verified email address when the account has one (`409
    /// email_not_verified`). `409 passkey_limit_reached` at 16 passkeys. Finish within 5
    /// minutes from this session.
    #[oai(
        path = "/v1/me/passkeys/register/start",
        method = "post",
        operation_id = "startPasskeyRegistration"
    )]
    async fn start_passkey_registration(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<StartPasskeyRegistrationRequest>,
    ) -> Result<PasskeyCeremonyStarted, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let started = service::passkeys::start_registration(
            &ctx,
            caller.0,
            body.password.as_deref(),
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(PasskeyCeremonyStarted::Ok(Json(
            super::sessions::PasskeyCeremonyView::of(started),
        )))
    }

    /// Register a passkey: finish
    ///
    /// Verifies the authenticator's new credential against the ceremony and registers it
    /// under `name`. From then, sign-in asks for a second factor (which the passkey is), and a
    /// discoverable passkey signs in alone (`POST /v1/sessions/passkey/start`). On the
    /// account's first second factor, answers 10 recovery codes, shown this once. `401
    /// passkey_challenge_expired` for a ceremony expired, finished, or begun by another
    /// session; `422` naming `credential` (`passkey_credential_invalid`) or `name`
    /// (`invalid_passkey_name`); `409 passkey_already_registered`. Under an
    /// `Idempotency-Key`, a retry gets `409 shown_once`.
    #[oai(
        path = "/v1/me/passkeys/register/finish",
        method = "post",
        operation_id = "finishPasskeyRegistration"
    )]
    async fn finish_passkey_registration(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<FinishPasskeyRegistrationRequest>,
    ) -> Result<PasskeyAdded, Problems<SIGNED_IN_BODY>> {
        let name = crate::domain::account::PasskeyName::parse(&body.name)
            .map_err(|invalid| service::ServiceError::invalid("name", invalid))?;
        let registered = service::passkeys::finish_registration(
            &ctx,
            caller.0,
            &body.ceremony,
            name,
            &super::sessions::webauthn_value(&body.credential),
            &metadata,
        )
        .await?;
        Ok(PasskeyAdded::Created(
            Json(PasskeyRegisteredView {
                passkey: PasskeyView::of(&registered.passkey),
                recovery_codes: registered.recovery_codes,
            }),
            registered.position,
        ))
    }

    /// Remove a passkey
    ///
    /// A step-up action, as removing TOTP is (`mfa_code`, or a second factor proven by this
    /// session in the last 10 minutes, which may be this passkey). With the last second
    /// factor, the recovery codes go too. `404 passkey_not_found`.
    #[oai(
        path = "/v1/me/passkeys/:id",
        method = "delete",
        operation_id = "removePasskey"
    )]
    async fn remove_passkey(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        id: poem_openapi::param::Path<uuid::Uuid>,
        body: Json<StepUpRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND | TOO_MANY }>> {
        let position =
            service::passkeys::remove(&ctx, caller.0, id.0, body.mfa_code.as_deref(), &metadata)
                .await?;
        Ok(Done::NoContent(position))
    }

    /// Step up with a passkey: begin
    ///
    /// WebAuthn request options for an assertion by one of my passkeys
    /// (`navigator.credentials.get()`), for proving the second factor in this session before
    /// step-up actions. `404 passkey_not_found` without a passkey.
    #[oai(
        path = "/v1/me/mfa/step-up/passkey/start",
        method = "post",
        operation_id = "startPasskeyStepUp"
    )]
    async fn start_passkey_step_up(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
    ) -> Result<PasskeyCeremonyStarted, Problems<{ SIGNED_IN | NOT_FOUND | UNPROCESSABLE }>> {
        let started = service::passkeys::start_step_up(&ctx, caller.0).await?;
        Ok(PasskeyCeremonyStarted::Ok(Json(
            super::sessions::PasskeyCeremonyView::of(started),
        )))
    }

    /// Step up with a passkey: finish
    ///
    /// Verifies the assertion: this session has proved its second factor now, and for the
    /// next 10 minutes step-up actions (password, email or phone changes, removing a factor,
    /// new recovery codes, deleting the account) need no `mfa_code`; it counts as `aal2` from
    /// then (`StepUpProven`). An assertion that does not verify is `422` naming `credential`,
    /// counted with wrong step-up codes (after 10 in 30 minutes, `429`); `401
    /// passkey_challenge_expired` for a ceremony expired, finished or of another session.
    #[oai(
        path = "/v1/me/mfa/step-up/passkey/finish",
        method = "post",
        operation_id = "finishPasskeyStepUp"
    )]
    async fn finish_passkey_step_up(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<super::sessions::PasskeyAssertionRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN_BODY | TOO_MANY }>> {
        let position = service::passkeys::finish_step_up(
            &ctx,
            caller.0,
            &body.ceremony,
            &super::sessions::webauthn_value(&body.credential),
            &metadata,
        )
        .await?;
        Ok(Done::NoContent(position))
    }
}
