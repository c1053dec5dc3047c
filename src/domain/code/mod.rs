//! One-time codes: one `code` stream per (channel, target, purpose), holding the codes issued to
//! that target for that purpose. The stream decides the per-target send limits (one a minute,
//! ten an hour) and each code's life: valid 10 minutes, dead after 5 wrong tries, used once.
//!
//! The events hold the code only as a keyed hash (to check it) and sealed (for the mail or SMS
//! worker to read); the clear code never enters the log.

mod decide;
#[cfg(test)]
mod tests;

pub use decide::{CodeCommand, CodeError, NewLink, Presented, decide};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::pseudonyms::Pseudonyms;
use super::{Aggregate, DomainEvent};

/// How long a code is valid.
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Wrong tries after which a code is dead.
pub const MAX_ATTEMPTS: u32 = 5;
/// Shortest time between two codes to one target for one purpose.
pub const MIN_INTERVAL: Duration = Duration::minutes(1);
/// Most codes to one target for one purpose in an hour.
pub const MAX_PER_HOUR: usize = 10;

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// By mail.
    Email,
    /// By text message.
    Sms,
}

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sign up with this address or phone.
    SignUp,
    /// Sign in with a code instead of a password.
    SignIn,
    /// Prove the account's email address.
    VerifyEmail,
    /// Reset a forgotten password.
    ResetPassword,
    /// Move the account to a new email address.
    ChangeEmail,
    /// Move the account to a new phone number.
    ChangePhone,
    /// Confirm deleting the account.
    DeleteAccount,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Self; 7] = [
        Self::SignUp,
        Self::SignIn,
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::ChangeEmail,
        Self::ChangePhone,
        Self::DeleteAccount,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
            Self::ChangePhone => "change_phone",
            Self::DeleteAccount => "delete_account",
        }
    }
}

impl Channel {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// The stream of a target's codes for a purpose: the target's keyed pseudonym
/// ([`Pseudonyms::uuid`]), so that it is found again from the request alone, yet its id does not
/// tell whose it is. `target` is the normalized email or E.164 phone.
pub fn stream_id(
    pseudonyms: &Pseudonyms,
    channel: Channel,
    target: &str,
    purpose: Purpose,
) -> Uuid {
    let name = format!("{}:{}:{}", channel.as_str(), purpose.as_str(), target);
    pseudonyms.uuid("code-stream", &name)
}

/// What happens to a target's codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event_type", content = "data")]
pub enum CodeEvent {
    /// A code was issued (and, if `deliver`, is to be sent).
    CodeIssued {
        /// How it travels.
        channel: Channel,
        /// The normalized email address or E.164 phone number.
        target: String,
        /// What it is for.
        purpose: Purpose,
        /// Keyed hash of the code (HMAC-SHA-256 under the service's code key).
        code_hash: String,
        /// The code sealed for the sender (ChaCha20-Poly1305, service key); useless after
        /// `expires_at`.
        sealed_code: String,
        /// Whether to send it. False when sending would tell the caller something (no account
        /// for a sign-in code, say): the answer and the limits are the same either way.
        deliver: bool,
        /// Language of the message (`en` or `zh-CN`).
        locale: String,
        /// When it stops being valid.
        expires_at: DateTime<Utc>,
        /// A link token issued with the code (verification and reset mails), as a keyed hash.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_hash: Option<String>,
        /// The link token sealed for the mail worker.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_link: Option<String>,
        /// When the link stops being valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_expires_at: Option<DateTime<Utc>>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A wrong code was tried.
    CodeAttemptFailed {
        /// Wrong tries left for the current code.
        attempts_left: u32,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The code was used.
    CodeUsed {
        /// When it happened.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CodeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::CodeIssued { .. } => "CodeIssued",
            Self::CodeAttemptFailed { .. } => "CodeAttemptFailed",
            Self::CodeUsed { .. } => "CodeUsed",
        }
    }
}

/// The code currently valid, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentCode {
    /// Keyed hash of the code.
    pub code_hash: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Wrong tries left.
    pub attempts_left: u32,
    /// Whether it was used.
    pub used: bool,
    /// Keyed hash of the link token issued with it, if any.
    pub link_hash: Option<String>,
    /// The link's expiry.
    pub link_expires_at: Option<DateTime<Utc>>,
}

/// A target's codes for a purpose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Codes {
    /// When codes were issued, oldest first (only the last hour matters).
    pub issued_at: Vec<DateTime<Utc>>,
    /// The latest code.
    pub current: Option<CurrentCode>,
    /// Where the codes go: channel and normalized target.
    pub target: Option<(Channel, String)>,
}

impl Aggregate for Codes {
    const STREAM_TYPE: &'static str = "code";
    const STATE_SOURCES: &'static [&'static str] = &[include_str!("mod.rs")];
    type Event = CodeEvent;
    type Command = CodeCommand;
    type Error = CodeError;

    fn decide(&self, command: CodeCommand) -> Result<Vec<Self::Event>, CodeError> {
        decide(self, command)
    }

    fn evolve(mut self, event: &CodeEvent) -> Self {
        match event {
            CodeEvent::CodeIssued {
                channel,
                target,
                code_hash,
                expires_at,
                link_hash,
                link_expires_at,
                at,
                ..
            } => {
                self.target = Some((*channel, target.clone()));
                self.issued_at
                    .retain(|issued| *at - *issued < Duration::hours(1));
                self.issued_at.push(*at);
                self.current = Some(CurrentCode {
                    code_hash: code_hash.clone(),
                    issued_at: *at,
                    expires_at: *expires_at,
                    attempts_left: MAX_ATTEMPTS,
                    used: false,
                    link_hash: link_hash.clone(),
                    link_expires_at: *link_expires_at,
                });
            }
            CodeEvent::CodeAttemptFailed { attempts_left, .. } => {
                if let Some(current) = self.current.as_mut() {
                    current.attempts_left = *attempts_left;
                }
            }
            CodeEvent::CodeUsed { .. } => {
                if let Some(current) = self.current.as_mut() {
                    current.used = true;
                }
            }
        }
        self
    }
}
