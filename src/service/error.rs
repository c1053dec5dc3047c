//! Why a use case failed, in terms a caller can act on. `api::problem` maps each to an HTTP
//! status and a stable code, in one place.

use crate::domain::account::AccountError;
use crate::domain::values::{InvalidValue, Refusal};
use crate::store::StoreError;
use crate::store::claims::ClaimKind;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name in the request.
    pub field: String,
    /// Stable code, e.g. `password_too_weak`.
    pub code: &'static str,
    /// English explanation.
    pub message: String,
}

impl FieldError {
    /// A field error from a refused value.
    pub fn new(field: &str, invalid: InvalidValue) -> Self {
        Self {
            field: field.to_owned(),
            code: invalid.code.as_str(),
            message: invalid.message,
        }
    }
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Some fields are invalid.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// No valid session.
    #[error("not signed in")]
    Unauthenticated,
    /// Wrong identifier or password (deliberately not saying which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password confirming a signed-in action is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The account is blocked.
    #[error("the account is blocked")]
    AccountBlocked,
    /// No such account.
    #[error("no such account")]
    AccountNotFound,
    /// Only a deleted account can be restored.
    #[error("the account is not deleted")]
    AccountNotDeleted,
    /// The account's personal data was erased: it cannot be restored.
    #[error("the account is erased")]
    AccountErased,
    /// The change would leave no owner.
    #[error("the last owner cannot be demoted or deleted")]
    LastOwner,
    /// The caller's role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// An administrator tried to block their own account.
    #[error("administrators cannot block their own account")]
    CannotBlockSelf,
    /// A follow command was refused.
    #[error("{0}")]
    Follow(crate::domain::follow_graph::FollowError),
    /// The user hides whom they follow and who follows them.
    #[error("the user's follows are hidden")]
    FollowsHidden,
    /// No such active address of the caller's.
    #[error("no such address")]
    AddressNotFound,
    /// The address book is full.
    #[error("the address book is full")]
    AddressBookFull,
    /// The account has no email address.
    #[error("the account has no email address")]
    NoEmail,
    /// The email address is verified already.
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
    /// The email address must be verified first.
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// Too many requests: retry after this many seconds.
    #[error("too many requests; retry in {0} s")]
    TooManyRequests(i64),
    /// The one-time code is wrong, used, or dead after too many tries.
    #[error("the code is not valid")]
    CodeInvalid,
    /// The one-time code expired.
    #[error("the code expired")]
    CodeExpired,
    /// Too many failed sign-ins: a solved captcha is needed.
    #[error("a captcha is required")]
    CaptchaRequired,
    /// The captcha solution is wrong, expired or already used.
    #[error("the captcha solution is invalid")]
    CaptchaInvalid,
    /// No such user (in the public read model).
    #[error("no such user")]
    UserNotFound,
    /// `min_position` is beyond the end of the log: no command has answered it (yet).
    #[error("min_position is beyond the end of the log")]
    PositionAhead,
    /// Too many reads wait for read models already.
    #[error("too many reads are waiting for the read models")]
    TooManyWaitingReads,
    /// The read model has not reached the requested position in time.
    #[error("the read model has not reached the requested position yet")]
    ReadModelBehind,
    /// No such session of the caller's.
    #[error("no such session")]
    SessionNotFound,
    /// The identifier belongs to another account.
    #[error("the {0} is taken")]
    IdentifierTaken(ClaimKind),
    /// The new password is the current one.
    #[error("the new password is the current password")]
    PasswordUnchanged,
    /// The idempotency key is being used by a request still running.
    #[error("a request with this idempotency key is in progress")]
    IdempotencyKeyInUse,
    /// The account has a second factor: the sign-in must answer its challenge.
    #[error("a second factor is required")]
    SecondFactorRequired,
    /// The second factor is wrong or was used already.
    #[error("the second factor is not valid")]
    MfaInvalid,
    /// The second-factor challenge is unknown, expired, answered, or out of tries.
    #[error("the second-factor challenge is no longer valid")]
    MfaChallengeExpired,
    /// The action needs a second factor: proven in the session within 10 minutes, or sent.
    #[error("the action needs a second factor")]
    StepUpRequired,
    /// The account has no second factor.
    #[error("the account has no second factor")]
    MfaNotEnabled,
    /// The action needs a session started lately (a fresh sign-in).
    #[error("sign in again first")]
    RecentSignInRequired,
    /// The operator requires administrators to have a second factor, and the caller has none.
    #[error("administrators need a second factor")]
    MfaEnrolmentRequired,
    /// TOTP is enabled already.
    #[error("TOTP is already enabled")]
    TotpAlreadyEnabled,
    /// No TOTP enrolment waits for confirmation.
    #[error("no TOTP enrolment is pending")]
    TotpNotPending,
    /// The account has as many passkeys as it may.
    #[error("the account has as many passkeys as it may")]
    PasskeyLimitReached,
    /// The passkey is registered to the account already.
    #[error("the passkey is registered already")]
    PasskeyAlreadyRegistered,
    /// No passkey of the caller's has that id.
    #[error("no such passkey")]
    PasskeyNotFound,
    /// The passkey ceremony is unknown, expired, finished, or another session's.
    #[error("the passkey ceremony is no longer valid")]
    PasskeyCeremonyExpired,
    /// A passkey's assertion for a sign-in did not verify or names no passkey of an account.
    #[error("the passkey was not accepted")]
    PasskeyInvalid,
    /// The database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// A fault on our side.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    /// A validation failure of one field.
    pub fn invalid(field: &str, invalid: InvalidValue) -> Self {
        Self::Validation(vec![FieldError::new(field, invalid)])
    }

    /// A field this request needs is missing (`required`).
    pub fn required(field: &str, message: &str) -> Self {
        Self::invalid(
            field,
            InvalidValue {
                code: Refusal::Required,
                message: message.to_owned(),
            },
        )
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ClaimTaken(kind) => Self::IdentifierTaken(kind),
            StoreError::IdempotencyKeyTaken => Self::IdempotencyKeyInUse,
            StoreError::LastOwner => Self::LastOwner,
            StoreError::SessionEnded => Self::Unauthenticated,
            StoreError::ChallengeSpent => Self::MfaChallengeExpired,
            error if error.is_unavailable() => {
                tracing::warn!(%error, "database unavailable");
                Self::Unavailable
            }
            error => Self::Internal(error.into()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ServiceError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        StoreError::from(error).into()
    }
}

impl From<AccountError> for ServiceError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::NotFound => Self::AccountNotFound,
            AccountError::Blocked => Self::AccountBlocked,
            AccountError::InvalidCredentials => Self::InvalidCredentials,
            AccountError::SessionNotFound => Self::SessionNotFound,
            AccountError::EmailAlreadyVerified => Self::EmailAlreadyVerified,
            AccountError::EmailNotVerified => Self::EmailNotVerified,
            AccountError::AddressMismatch => Self::CodeInvalid,
            AccountError::TooManyPhoneChanges(seconds) => Self::TooManyRequests(seconds),
            AccountError::SecondFactorRequired => Self::SecondFactorRequired,
            AccountError::SecondFactorInvalid => Self::MfaInvalid,
            AccountError::StepUpRequired => Self::StepUpRequired,
            AccountError::SecondFactorNotEnabled => Self::MfaNotEnabled,
            AccountError::TotpAlreadyEnabled => Self::TotpAlreadyEnabled,
            AccountError::TotpNotPending => Self::TotpNotPending,
            AccountError::PasskeyLimitReached => Self::PasskeyLimitReached,
            AccountError::PasskeyAlreadyRegistered => Self::PasskeyAlreadyRegistered,
            AccountError::PasskeyNotFound => Self::PasskeyNotFound,
            AccountError::NotDeleted => Self::AccountNotDeleted,
            AccountError::Erased => Self::AccountErased,
            AccountError::AlreadyRegistered => Self::Internal(anyhow::anyhow!(
                "a new account id collided with an existing stream"
            )),
        }
    }
}
