//! Second factors as the account holds them (OWASP ASVS 5.0 V6, NIST SP 800-63B): a TOTP
//! authenticator (RFC 6238), passkeys (WebAuthn Level 2 public-key credentials) and
//! single-use recovery codes. What needs the service's key or the WebAuthn ceremony (opening
//! the TOTP secret, hashing a recovery code, verifying an assertion's signature) is done
//! before a command; the account decides what the result proves: whether a time step was used
//! already, whether a recovery code is one of its unused ones, whether a passkey is one of its
//! own and its signature counter went forward.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long after a second factor was proven in a session that session may take a step-up
/// action (change a credential, remove a factor, delete the account) without another.
pub const STEP_UP_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// How many recovery codes a set holds.
pub const RECOVERY_CODES_PER_SET: usize = 10;

/// How many passkeys an account may register.
pub const PASSKEYS_PER_ACCOUNT: usize = 16;

/// A registered WebAuthn credential as `webauthn-rs` stores it (its id, COSE public key,
/// signature counter, backup flags): public, so kept in clear. Opaque to the domain, which
/// matches credentials by `credential_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasskeyCredential(pub serde_json::Value);

impl schemars::JsonSchema for PasskeyCredential {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PasskeyCredential".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "The WebAuthn credential as webauthn-rs 0.5 serialises a Passkey: \
                            credential id, COSE public key, signature counter, backup flags."
        })
    }
}

/// A passkey's name as its owner gave it: 1 to 64 characters after trimming, none hidden
/// (control, invisible or reordering characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// The name, trimmed; `InvalidPasskeyName` when blank, too long or holding hidden
    /// characters.
    pub fn parse(raw: &str) -> Result<Self, crate::domain::values::InvalidValue> {
        let name = raw.trim();
        let length = name.chars().count();
        if length == 0 || length > Self::MAX_CHARS || crate::domain::values::has_hidden_chars(name)
        {
            return Err(crate::domain::values::InvalidValue {
                code: crate::domain::values::Refusal::InvalidPasskeyName,
                message: format!(
                    "a passkey's name is 1 to {} characters, without control or invisible \
                     characters",
                    Self::MAX_CHARS
                ),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A passkey registered to the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredPasskey {
    /// The account's id for it (in paths and events).
    pub id: Uuid,
    /// Its owner's name for it.
    pub name: PasskeyName,
    /// The WebAuthn credential id, base64url without padding.
    pub credential_id: String,
    /// The credential, for verifying assertions.
    pub credential: PasskeyCredential,
    /// The highest signature counter seen (WebAuthn §6.1.1); 0 while the authenticator keeps
    /// none.
    pub sign_count: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last proved a sign-in or step-up.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A TOTP shared secret (RFC 6238 `K`, 160 random bits), sealed with the service's key before
/// it enters an event, so that neither the log nor its subscribers hold it in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct SealedTotpSecret(pub String);

impl std::fmt::Debug for SealedTotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedTotpSecret(..)")
    }
}

/// A recovery code's keyed hash: HMAC-SHA-256 of the code (upper case, without separators)
/// under a key derived from the service's key, in hex. Codes carry 50 random bits, so a keyed
/// hash is as safe to keep as a slow one, and checking a code costs no password hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct RecoveryCodeHash(pub String);

impl std::fmt::Debug for RecoveryCodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCodeHash(..)")
    }
}

/// A second factor, as sessions and events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorMethod {
    /// A TOTP code (RFC 6238) from an authenticator app.
    Totp,
    /// One of the single-use recovery codes.
    RecoveryCode,
    /// A passkey's assertion (WebAuthn), with user verification.
    Passkey,
}

impl SecondFactorMethod {
    /// The snake_case name (`totp`, `recovery_code`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
        }
    }
}

/// A second factor presented with a command, checked as far as the service's key allows.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondFactor {
    /// A TOTP code that matched the account's secret at this time step (RFC 6238 `T`, the
    /// Unix time divided by 30 s). The account accepts each step once.
    Totp {
        /// The matched time step.
        time_step: u64,
    },
    /// A recovery code, by its keyed hash: the account finds it among its unused codes.
    RecoveryCode(RecoveryCodeHash),
    /// A passkey assertion whose signature verified against the credential it names, with
    /// user verification: the account finds the credential among its passkeys and takes the
    /// signature counter only when it went forward (or both are 0).
    Passkey {
        /// The credential id, base64url without padding.
        credential_id: String,
        /// The assertion's signature counter.
        sign_count: u32,
    },
}

impl SecondFactor {
    /// Which kind of second factor it is.
    pub fn method(&self) -> SecondFactorMethod {
        match self {
            Self::Totp { .. } => SecondFactorMethod::Totp,
            Self::RecoveryCode(_) => SecondFactorMethod::RecoveryCode,
            Self::Passkey { .. } => SecondFactorMethod::Passkey,
        }
    }
}

/// How a step-up action is confirmed by an account that has a second factor.
#[derive(Debug, Clone, PartialEq)]
pub enum StepUp {
    /// The caller's session proved a second factor within `STEP_UP_WINDOW`.
    Recent,
    /// A second factor came with the request.
    Factor(SecondFactor),
    /// Neither: an account with a second factor is refused (`StepUpRequired`).
    Missing,
    /// An administrator acts on the account (named in the event's metadata): the owner's
    /// second factor is not theirs to give.
    Administrator,
}

/// The account's second factors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondFactors {
    /// A TOTP secret enrolled and not yet confirmed by a first code.
    pub totp_pending: Option<SealedTotpSecret>,
    /// The pending enrolment began on an account that had a second factor already, and so
    /// with a step-up: one begun without it does not confirm once the account has one.
    #[serde(default)]
    pub totp_pending_stepped_up: bool,
    /// The confirmed TOTP secret.
    pub totp: Option<SealedTotpSecret>,
    /// The last TOTP time step accepted: no code of it or before is accepted again.
    pub totp_last_step: Option<u64>,
    /// The current set of recovery codes; a used one is `None`.
    pub recovery_codes: Vec<Option<RecoveryCodeHash>>,
    /// When TOTP was confirmed.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Registered passkeys, oldest first.
    #[serde(default)]
    pub passkeys: Vec<RegisteredPasskey>,
}

impl SecondFactors {
    /// Whether the account has a second factor: sign-in asks for it, step-up actions need it.
    pub fn enabled(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    /// The registered passkey with this credential id.
    pub fn passkey(&self, credential_id: &str) -> Option<&RegisteredPasskey> {
        self.passkeys
            .iter()
            .find(|passkey| passkey.credential_id == credential_id)
    }

    /// How many recovery codes are left unused.
    pub fn recovery_codes_left(&self) -> usize {
        self.recovery_codes.iter().flatten().count()
    }

    /// The second factors a sign-in may be completed with.
    pub fn methods(&self) -> Vec<SecondFactorMethod> {
        let mut methods = Vec::new();
        if self.totp.is_some() {
            methods.push(SecondFactorMethod::Totp);
        }
        if !self.passkeys.is_empty() {
            methods.push(SecondFactorMethod::Passkey);
        }
        if self.recovery_codes_left() > 0 {
            methods.push(SecondFactorMethod::RecoveryCode);
        }
        methods
    }
}
