//! The values that name an account: email address, username, phone number, and its password.

use super::{InvalidValue, Refusal, char_count};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address in its one canonical form, so that one mailbox has one spelling: trimmed,
/// the local part lower-cased, the domain through UTS #46 processing to lower-case A-labels
/// (`u@Bücher.example` and `u@ｘｎ--bcher-kva.example` are both `u@xn--bcher-kva.example`).
///
/// Only addresses the mailer sends to are accepted: the local part is an RFC 5322 dot-atom in
/// ASCII (no quoted strings, no comments), the domain a dotted DNS name (no address literals),
/// and lettre, which sends the mail, must parse the canonical form back to itself. Refused
/// input is `invalid_email`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Longest address SMTP can carry (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;
    /// Longest local part (RFC 5321, 4.5.3.1.1).
    const MAX_LOCAL_LEN: usize = 64;

    /// Parses an address into its canonical form.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = |message: &str| InvalidValue::new(Refusal::InvalidEmail, message);
        let (local, domain) = raw
            .trim()
            .rsplit_once('@')
            .ok_or_else(|| invalid("this is not a valid email address"))?;
        if !is_dot_atom(local) || local.len() > Self::MAX_LOCAL_LEN {
            return Err(invalid(
                "the part before @ has at most 64 ASCII letters, digits, dots and #$&'*+-/=?^_`{|}~, \
                 without quotes",
            ));
        }
        // A dotted name whose top-level label starts with a letter (RFC 3696, 2: top-level
        // domains are not numeric): so no IPv4 address in any notation a resolver reads
        // (`127.0.0.1`, `127.1`, `0x7f.0.0.0x1`) passes for a domain.
        let domain = idna::domain_to_ascii_strict(domain)
            .ok()
            .filter(|domain| {
                domain
                    .rsplit_once('.')
                    .is_some_and(|(_, top)| top.starts_with(|c: char| c.is_ascii_alphabetic()))
            })
            .ok_or_else(|| invalid("the part after @ is not a valid domain name"))?;
        let canonical = format!("{}@{domain}", local.to_ascii_lowercase());
        if canonical.len() > Self::MAX_LEN {
            return Err(invalid("an email address has at most 254 characters"));
        }
        // The mailer's own parser must read the address back unchanged, or the mail could
        // never be sent: validation and sending must agree.
        let mailer_reads_it = canonical
            .parse::<lettre::message::Mailbox>()
            .is_ok_and(|mailbox| mailbox.email.to_string() == canonical);
        if !mailer_reads_it {
            return Err(invalid("this address cannot receive mail"));
        }
        Ok(Self(canonical))
    }

    /// The canonical address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An RFC 5322 `dot-atom` in ASCII: atoms of `atext` joined by single dots, less `%` and `!`,
/// with which some mail servers still route (`user%host@relay`, `host!user@relay`).
fn is_dot_atom(text: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "#$&'*+-/=?^_`{|}~".contains(c);
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// Events recorded before canonical forms existed may hold another spelling: it is read in its
/// canonical form, or, when it no longer parses, as it was written.
impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = String::deserialize(deserializer)?;
        Ok(Self::parse(&stored).unwrap_or(Self(stored)))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username: 3 to 30 ASCII letters, digits or underscores, starting with a letter. It keeps
/// the case it was chosen with; uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        let length = value.len();
        if !(3..=30).contains(&length) {
            return Err(InvalidValue::new(
                Refusal::InvalidUsername,
                "a username has 3 to 30 characters",
            ));
        }
        let starts_with_letter = value.starts_with(|c: char| c.is_ascii_alphabetic());
        let allowed = value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if starts_with_letter && allowed {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                Refusal::InvalidUsername,
                "a username starts with a letter and has only letters, digits and underscores",
            ))
        }
    }

    /// The username as chosen.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that uniqueness is checked on.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in its one canonical form, E.164 (`+8613812345678`), as libphonenumber's
/// metadata reads it (the `phonenumber` crate): separators dropped, a national trunk prefix
/// written after the country code dropped (`+61 0412 000 001` is `+61412000001`), and the number
/// valid for its country. A number without `+` is read as mainland Chinese (`13812345678`,
/// the seed products' users). Refused input is `invalid_phone`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Longest input read (E.164 has 15 digits; room for spaces, dashes and brackets).
    const MAX_INPUT_LEN: usize = 40;

    /// Parses a phone number into E.164.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        // Digits and separators only: a `tel:` URI or a word would be read with the default
        // region and could become another number. A full-width plus or the international
        // prefix `00` marks an international number as `+` does.
        let plain = raw
            .chars()
            .all(|c| c.is_numeric() || c.is_whitespace() || "+＋-‐‑–—()（）./".contains(c));
        let international = raw
            .strip_prefix('＋')
            .or_else(|| raw.strip_prefix("00"))
            .map(|rest| format!("+{rest}"));
        let raw = international.as_deref().unwrap_or(raw);
        let e164 = (plain && raw.len() <= Self::MAX_INPUT_LEN)
            .then(|| Self::e164(raw))
            .flatten()
            // The canonical form must read back as itself, or two spellings could still part.
            .filter(|e164| Self::e164(e164).as_ref() == Some(e164));
        match e164 {
            Some(e164) => Ok(Self(e164)),
            None => Err(InvalidValue::new(
                Refusal::InvalidPhone,
                "this is not a valid phone number: give it in international form \
                 (+8613812345678) or as an 11-digit mainland China mobile number",
            )),
        }
    }

    /// The number in E.164, when libphonenumber's metadata reads `text` as a valid number
    /// without an extension. The default region (mainland China) is given only for numbers
    /// without `+`: given for international ones, the `phonenumber` crate strips the default
    /// region's national prefixes from them (`+5511912341066` read as `+55341066`).
    fn e164(text: &str) -> Option<String> {
        let region = (!text.starts_with('+')).then_some(phonenumber::country::Id::CN);
        phonenumber::parse(region, text)
            .ok()
            .filter(|number| number.is_valid() && number.extension().is_none())
            .map(|number| number.format().mode(phonenumber::Mode::E164).to_string())
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Like `Email`'s: numbers recorded in an older spelling are read in E.164.
impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = String::deserialize(deserializer)?;
        Ok(Self::parse(&stored).unwrap_or(Self(stored)))
    }
}

/// A new password, checked for length and strength. Its text never appears in `Debug` output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Fewest characters a password may have.
    pub const MIN_CHARS: usize = 8;
    /// Most characters a password may have (bounds the cost of hashing and strength checks).
    pub const MAX_CHARS: usize = 128;
    /// zxcvbn score (0 to 4) a password needs: 3 is "safely unguessable".
    const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

    /// Parses a new password. `context` holds the account's own identifiers and names, which
    /// make a password weak when it contains them.
    pub fn parse(raw: &str, context: &[&str]) -> Result<Self, InvalidValue> {
        let chars = char_count(raw);
        if chars < Self::MIN_CHARS {
            return Err(InvalidValue::new(
                Refusal::PasswordTooShort,
                "a password has at least 8 characters",
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                Refusal::PasswordTooLong,
                "a password has at most 128 characters",
            ));
        }
        let estimate = zxcvbn::zxcvbn(raw, context);
        if estimate.score() < Self::MIN_SCORE {
            return Err(InvalidValue::new(
                Refusal::PasswordTooWeak,
                "this password is too easy to guess: use a longer phrase or mix unrelated words",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password's text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}
