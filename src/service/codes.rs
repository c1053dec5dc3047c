//! One-time codes: sending (`POST /v1/codes`) and checking them, for the flows that use them.
//!
//! Every well-formed request is answered the same way whether or not an account holds the
//! target, and counts against the same limits; only whether the code is delivered differs, and
//! that is known to the mail and SMS workers alone (`deliver` in the event).

use super::executor::{self, CommandMetadata, ExecuteError};
use super::{ServiceError, Services};
use crate::domain::code::{self, Channel, CodeCommand, CodeError, CodeEvent, Codes, Purpose};
use crate::domain::values::{Email, Phone};
use crate::store::claims::{self, ClaimKind};
use crate::store::throttle;
use chrono::Utc;
use hmac::Mac as _;
use rand::Rng as _;
use uuid::Uuid;

/// Codes one client address may ask for in an hour.
pub const CODES_PER_IP_PER_HOUR: i32 = 30;

/// A code's target, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How the code travels.
    pub channel: Channel,
    /// The normalized email or E.164 phone.
    pub value: String,
}

impl Target {
    /// Parses `to` for `channel`; the field error names `field`.
    pub fn parse(channel: Channel, to: &str, field: &str) -> Result<Self, ServiceError> {
        let value = match channel {
            Channel::Email => Email::parse(to)
                .map_err(|invalid| ServiceError::invalid(field, invalid))?
                .as_str()
                .to_owned(),
            Channel::Sms => Phone::parse(to)
                .map_err(|invalid| ServiceError::invalid(field, invalid))?
                .as_str()
                .to_owned(),
        };
        Ok(Self { channel, value })
    }

    fn claim_kind(&self) -> ClaimKind {
        match self.channel {
            Channel::Email => ClaimKind::Email,
            Channel::Sms => ClaimKind::Phone,
        }
    }
}

impl Services {
    /// Issues a code for `purpose` to `target`; whether it is delivered depends on the purpose
    /// and on whether an account holds the target, which the answer never tells.
    pub async fn send_code(
        &self,
        target: &Target,
        purpose: Purpose,
        locale: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let now = Utc::now();
        let client = self.pool.get().await?;
        if let Some(ip) = &metadata.ip {
            let key = format!("codes_per_ip:{ip}");
            if let Some(retry_after) = throttle::hit_rate_limit(
                &client,
                key.as_bytes(),
                now,
                chrono::Duration::hours(1),
                CODES_PER_IP_PER_HOUR,
            )
            .await?
            {
                return Err(ServiceError::TooManyRequests(retry_after));
            }
        }
        let holder = claims::holder(&client, target.claim_kind(), &target.value).await?;
        drop(client);
        let deliver = match purpose {
            // A new address or phone: send only if it is free.
            Purpose::SignUp | Purpose::ChangeEmail | Purpose::ChangePhone => holder.is_none(),
            // An existing account's address or phone.
            Purpose::SignIn
            | Purpose::VerifyEmail
            | Purpose::ResetPassword
            | Purpose::DeleteAccount => holder.is_some(),
        };
        let stream = code::stream_id(target.channel, &target.value, purpose);
        let clear = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let command = CodeCommand::Issue {
            channel: target.channel,
            target: target.value.clone(),
            purpose,
            code_hash: self.code_hash(stream, &clear),
            sealed_code: self.secrets.seal_text(&clear),
            deliver,
            locale: locale.to_owned(),
            now,
        };
        let committed = executor::execute::<Codes, _>(
            &self.pool,
            stream,
            metadata,
            |codes| code::decide(codes, command.clone()),
            |_, _| Vec::new(),
        )
        .await
        .map_err(from_code_error)?;
        Ok(committed.position)
    }

    /// Checks a code; `consume` spends it. A wrong code is recorded (five kill it) and
    /// answered `CodeInvalid`.
    pub async fn check_code(
        &self,
        target: &Target,
        purpose: Purpose,
        code: &str,
        consume: bool,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let stream = code::stream_id(target.channel, &target.value, purpose);
        let command = CodeCommand::Check {
            code_hash: self.code_hash(stream, code.trim()),
            consume,
            now: Utc::now(),
        };
        // A wrong try is recorded even when the request is retried with its key.
        let metadata = CommandMetadata {
            idempotency: None,
            ..metadata.clone()
        };
        let committed = executor::execute::<Codes, _>(
            &self.pool,
            stream,
            &metadata,
            |codes| code::decide(codes, command.clone()),
            |_, _| Vec::new(),
        )
        .await
        .map_err(from_code_error)?;
        if committed
            .events
            .iter()
            .any(|event| matches!(event, CodeEvent::CodeAttemptFailed { .. }))
        {
            return Err(ServiceError::CodeInvalid);
        }
        Ok(committed.position)
    }

    /// The keyed hash of a code in its stream: without the service's key, the hashes in the
    /// log cannot be tried against the million possible codes.
    fn code_hash(&self, stream: Uuid, code: &str) -> String {
        let key = self.secrets.derive_key("one-time-codes");
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key) else {
            unreachable!("HMAC accepts a 32-byte key");
        };
        mac.update(stream.as_bytes());
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn from_code_error(error: ExecuteError<CodeError>) -> ServiceError {
    match error {
        ExecuteError::Domain(CodeError::TooMany(seconds)) => ServiceError::TooManyRequests(seconds),
        ExecuteError::Domain(CodeError::Invalid) => ServiceError::CodeInvalid,
        ExecuteError::Domain(CodeError::Expired) => ServiceError::CodeExpired,
        ExecuteError::Store(error) => error.into(),
    }
}
