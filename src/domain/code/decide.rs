//! Deciding code commands: issuing (at most one live code per target and purpose, paced and
//! capped per hour) and checking (constant-time, a few tries, once).

use super::{
    CODE_LIFETIME, Channel, CodeEvent, Codes, CurrentCode, MAX_PER_HOUR, MIN_INTERVAL, Purpose,
};
use chrono::{DateTime, Duration, Utc};

/// A link token to issue with a code.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLink {
    /// Keyed hash of the token.
    pub hash: String,
    /// The token, sealed.
    pub sealed: String,
    /// How long the link is valid.
    pub lifetime: Duration,
}

/// What a caller presents.
#[derive(Debug, Clone, PartialEq)]
pub enum Presented {
    /// The 6-digit code (keyed hash).
    Code(String),
    /// The link token (keyed hash).
    Link(String),
}

/// A request about a target's codes.
#[derive(Debug, Clone)]
pub enum CodeCommand {
    /// Issue a new code (replacing the current one).
    Issue {
        /// How it travels.
        channel: Channel,
        /// The normalized target.
        target: String,
        /// What it is for.
        purpose: Purpose,
        /// Keyed hash of the new code.
        code_hash: String,
        /// The new code, sealed.
        sealed_code: String,
        /// Whether to send it.
        deliver: bool,
        /// Message language.
        locale: String,
        /// A link token to issue with it.
        link: Option<NewLink>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Check a code or link; `consume` spends it when right.
    Check {
        /// What the caller presents.
        presented: Presented,
        /// Spend it if right.
        consume: bool,
        /// A code or link issued before this instant is refused: the account it would prove
        /// something for changed its credentials or identifiers since
        /// (`Account::codes_valid_from`).
        issued_after: Option<DateTime<Utc>>,
        /// The clock.
        now: DateTime<Utc>,
    },
}

/// Why a code command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Too many codes to this target: retry after this many seconds.
    #[error("too many codes for this target; retry in {0} s")]
    TooMany(i64),
    /// No live code matches (none issued, used, dead after too many tries, or wrong and
    /// recorded as such by the command's events).
    #[error("the code is not valid")]
    Invalid,
    /// The code expired.
    #[error("the code expired")]
    Expired,
}

/// Decides a code command.
pub fn decide(codes: &Codes, command: CodeCommand) -> Result<Vec<CodeEvent>, CodeError> {
    match command {
        CodeCommand::Issue {
            channel,
            target,
            purpose,
            code_hash,
            sealed_code,
            deliver,
            locale,
            link,
            now,
        } => {
            let recent: Vec<&DateTime<Utc>> = codes
                .issued_at
                .iter()
                .filter(|at| now - **at < Duration::hours(1))
                .collect();
            if let Some(last) = recent.last() {
                let wait = MIN_INTERVAL - (now - **last);
                if wait > Duration::zero() {
                    return Err(CodeError::TooMany(seconds_up(wait)));
                }
            }
            if recent.len() >= MAX_PER_HOUR {
                let oldest = recent[recent.len() - MAX_PER_HOUR];
                return Err(CodeError::TooMany(seconds_up(
                    Duration::hours(1) - (now - *oldest),
                )));
            }
            Ok(vec![CodeEvent::CodeIssued {
                channel,
                target,
                purpose,
                code_hash,
                sealed_code,
                deliver,
                locale,
                expires_at: now + CODE_LIFETIME,
                link_expires_at: link.as_ref().map(|link| now + link.lifetime),
                link_hash: link.as_ref().map(|link| link.hash.clone()),
                sealed_link: link.map(|link| link.sealed),
                at: now,
            }])
        }
        CodeCommand::Check {
            presented: Presented::Link(link_hash),
            consume,
            issued_after,
            now,
        } => {
            let Some(current) = live_for(codes, issued_after) else {
                return Err(CodeError::Invalid);
            };
            let (Some(expected), Some(expires_at)) = (&current.link_hash, current.link_expires_at)
            else {
                return Err(CodeError::Invalid);
            };
            // A link token is 256 random bits: wrong ones need no counting.
            if current.used || !constant_time_eq(expected, &link_hash) {
                return Err(CodeError::Invalid);
            }
            if now >= expires_at {
                return Err(CodeError::Expired);
            }
            Ok(if consume {
                vec![CodeEvent::CodeUsed { at: now }]
            } else {
                Vec::new()
            })
        }
        CodeCommand::Check {
            presented: Presented::Code(code_hash),
            consume,
            issued_after,
            now,
        } => {
            let Some(current) = live_for(codes, issued_after) else {
                return Err(CodeError::Invalid);
            };
            if current.used || current.attempts_left == 0 {
                return Err(CodeError::Invalid);
            }
            if now >= current.expires_at {
                return Err(CodeError::Expired);
            }
            if !constant_time_eq(&current.code_hash, &code_hash) {
                return Ok(vec![CodeEvent::CodeAttemptFailed {
                    attempts_left: current.attempts_left - 1,
                    at: now,
                }]);
            }
            Ok(if consume {
                vec![CodeEvent::CodeUsed { at: now }]
            } else {
                Vec::new()
            })
        }
    }
}

/// The current code, unless it was issued before `issued_after`: then it is as good as none.
fn live_for(codes: &Codes, issued_after: Option<DateTime<Utc>>) -> Option<&CurrentCode> {
    codes
        .current
        .as_ref()
        .filter(|current| issued_after.is_none_or(|after| current.issued_at >= after))
}

fn seconds_up(duration: Duration) -> i64 {
    let millis = duration.num_milliseconds().max(0);
    (millis + 999) / 1000
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
