//! Validated values. Each can only be built through `parse`, so the rest of the code never checks
//! them again. A failed parse names a stable `code` that the API reports per field.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused: a stable machine code and an English explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// Stable, snake_case code, e.g. `password_too_short`.
    pub code: &'static str,
    /// A human-readable explanation in English.
    pub message: String,
}

impl InvalidValue {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

fn has_control_chars(value: &str) -> bool {
    value.chars().any(char::is_control)
}

fn char_count(value: &str) -> usize {
    value.chars().count()
}

/// An email address, trimmed and lower-cased so that one mailbox has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Longest address SMTP can carry (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses and normalizes an email address.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let normalized = raw.trim().to_lowercase();
        if normalized.len() > Self::MAX_LEN {
            return Err(InvalidValue::new(
                "invalid_email",
                "an email address has at most 254 characters",
            ));
        }
        let valid = email_address::EmailAddress::parse_with_options(
            &normalized,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .is_ok();
        // A deliverable address needs a dotted domain: `user@localhost` is not one.
        let dotted_domain = normalized
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if valid && dotted_domain {
            Ok(Self(normalized))
        } else {
            Err(InvalidValue::new(
                "invalid_email",
                "this is not a valid email address",
            ))
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
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
                "invalid_username",
                "a username has 3 to 30 characters",
            ));
        }
        let starts_with_letter = value.starts_with(|c: char| c.is_ascii_alphabetic());
        let allowed = value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if starts_with_letter && allowed {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "invalid_username",
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

/// A phone number in E.164 form (`+8613812345678`). A bare 11-digit mainland China mobile
/// number is read as `+86`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let e164 = if let Some(digits) = compact.strip_prefix('+') {
            digits.to_owned()
        } else if compact.len() == 11 && compact.starts_with('1') {
            format!("86{compact}")
        } else {
            return Err(InvalidValue::new(
                "invalid_phone",
                "a phone number is in E.164 form (+8613812345678) or an 11-digit mainland China mobile number",
            ));
        };
        let digits_only = e164.chars().all(|c| c.is_ascii_digit());
        let plausible = (8..=15).contains(&e164.len()) && !e164.starts_with('0');
        let china_mobile_ok = !e164.starts_with("86")
            || (e164.len() == 13 && matches!(e164.as_bytes()[2..4], [b'1', b'3'..=b'9']));
        if digits_only && plausible && china_mobile_ok {
            Ok(Self(format!("+{e164}")))
        } else {
            Err(InvalidValue::new(
                "invalid_phone",
                "this is not a valid phone number",
            ))
        }
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
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
                "password_too_short",
                "a password has at least 8 characters",
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                "password_too_long",
                "a password has at most 128 characters",
            ));
        }
        let estimate = zxcvbn::zxcvbn(raw, context);
        if estimate.score() < Self::MIN_SCORE {
            return Err(InvalidValue::new(
                "password_too_weak",
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

/// The name shown to other users: 1 to 32 characters, any script, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() || char_count(value) > 32 || has_control_chars(value) {
            return Err(InvalidValue::new(
                "invalid_display_name",
                "a display name has 1 to 32 characters and no control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The display name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short text about the user: at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Bio(String);

impl Bio {
    /// Parses a bio.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        let stray_control = value.chars().any(|c| c.is_control() && c != '\n');
        if char_count(value) > 500 || stray_control {
            return Err(InvalidValue::new(
                "invalid_bio",
                "a bio has at most 500 characters and no control characters but line breaks",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The bio.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The address of an image (avatar, cover): an absolute http or https URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Parses an image URL.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        let parsed = url::Url::parse(value)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
        match parsed {
            Some(url) if value.len() <= 2048 => Ok(Self(url.to_string())),
            _ => Err(InvalidValue::new(
                "invalid_url",
                "an image address is an http or https URL of at most 2048 characters",
            )),
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A place name (country, province, city): 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct PlaceName(String);

impl PlaceName {
    /// Parses a place name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() || char_count(value) > 64 || has_control_chars(value) {
            return Err(InvalidValue::new(
                "invalid_place",
                "a place name has 1 to 64 characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The place name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A birthday: a real date, not in the future and not before 1900.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Birthday(NaiveDate);

impl Birthday {
    /// Parses a birthday given today's date.
    pub fn parse(date: NaiveDate, today: NaiveDate) -> Result<Self, InvalidValue> {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
        if date < earliest || date > today {
            return Err(InvalidValue::new(
                "invalid_birthday",
                "a birthday lies between 1900-01-01 and today",
            ));
        }
        Ok(Self(date))
    }

    /// The date.
    pub fn date(&self) -> NaiveDate {
        self.0
    }
}

/// Gender as the seed products record it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Not told.
    #[default]
    Unknown,
    /// Male.
    Male,
    /// Female.
    Female,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_need_a_dotted_domain() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").map(|e| e.0),
            Ok("alice@example.com".to_owned())
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@localhost",
            "a b@example.com",
        ] {
            assert_eq!(
                Email::parse(bad).map_err(|e| e.code),
                Err("invalid_email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames_start_with_a_letter_and_compare_without_case() {
        let name = Username::parse("Alice_01").expect("valid");
        assert_eq!(name.as_str(), "Alice_01");
        assert_eq!(name.normalized(), "alice_01");
        for bad in [
            "al",
            "1alice",
            "alice!",
            "ali ce",
            &"a".repeat(31),
            "张三丰",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_accept_e164_and_bare_mainland_mobiles() {
        assert_eq!(
            Phone::parse("13812345678").map(|p| p.0),
            Ok("+8613812345678".into())
        );
        assert_eq!(
            Phone::parse("+1 (415) 555-0100").map(|p| p.0),
            Ok("+14155550100".into())
        );
        for bad in ["12345", "+86123", "+8612812345678", "phone", "+0123456789"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_must_be_long_and_hard_to_guess() {
        let code = |raw: &str| Password::parse(raw, &[]).map(|_| ()).map_err(|e| e.code);
        assert_eq!(code("short"), Err("password_too_short"));
        assert_eq!(code(&"x".repeat(129)), Err("password_too_long"));
        assert_eq!(code("password123"), Err("password_too_weak"));
        assert_eq!(code("correct horse battery staple"), Ok(()));
        assert_eq!(
            Password::parse("alice.wonder@example.com", &["alice.wonder@example.com"])
                .map_err(|e| e.code)
                .map(|_| ()),
            Err("password_too_weak")
        );
    }

    #[test]
    fn passwords_do_not_show_in_debug_output() {
        let password = Password::parse("correct horse battery staple", &[]).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn profile_texts_have_bounds() {
        assert!(DisplayName::parse("  小明  ").is_ok_and(|n| n.as_str() == "小明"));
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"名".repeat(33)).is_err());
        assert!(Bio::parse("line one\nline two").is_ok());
        assert!(Bio::parse(&"x".repeat(501)).is_err());
        assert!(ImageUrl::parse("https://cdn.example.com/a.png").is_ok());
        assert!(ImageUrl::parse("javascript:alert(1)").is_err());
        assert!(PlaceName::parse("广东").is_ok());
        assert!(PlaceName::parse("").is_err());
    }

    #[test]
    fn birthdays_lie_between_1900_and_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert!(Birthday::parse(date(1990, 5, 17), today).is_ok());
        assert!(Birthday::parse(date(1899, 12, 31), today).is_err());
        assert!(Birthday::parse(date(2026, 11, 23), today).is_err());
    }
}

/// Trimmed text of `min..=max` characters without control characters.
fn bounded_text(
    raw: &str,
    max: usize,
    code: &'static str,
    message: &str,
) -> Result<String, InvalidValue> {
    let value = raw.trim();
    if value.is_empty() || char_count(value) > max || has_control_chars(value) {
        return Err(InvalidValue::new(code, message));
    }
    Ok(value.to_owned())
}

/// Who receives parcels at an address: 1 to 20 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Receiver(String);

impl Receiver {
    /// Parses a receiver's name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(
            raw,
            20,
            "invalid_receiver",
            "a receiver's name has 1 to 20 characters",
        )
        .map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A street address: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct AddressLine(String);

impl AddressLine {
    /// Parses an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(
            raw,
            200,
            "invalid_address",
            "an address has 1 to 200 characters",
        )
        .map(Self)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A label for an address (家, 公司): 1 to 10 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct AddressTag(String);

impl AddressTag {
    /// Parses a tag.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(raw, 10, "invalid_tag", "a tag has 1 to 10 characters").map(Self)
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal code: digits; 6 of them in mainland China (+86 numbers), 3 to 10 elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Postcode(String);

impl Postcode {
    /// Parses a postcode for an address whose receiver has `phone` (its country decides).
    pub fn parse(raw: &str, phone: &Phone) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        let digits = !value.is_empty() && value.chars().all(|c| c.is_ascii_digit());
        let chinese = phone.as_str().starts_with("+86");
        let length_ok = if chinese {
            value.len() == 6
        } else {
            (3..=10).contains(&value.len())
        };
        if digits && length_ok {
            Ok(Self(value.to_owned()))
        } else if chinese {
            Err(InvalidValue::new(
                "invalid_postcode",
                "a mainland China postcode has 6 digits",
            ))
        } else {
            Err(InvalidValue::new(
                "invalid_postcode",
                "a postcode has 3 to 10 digits",
            ))
        }
    }

    /// Parses a postcode whose country is not known yet (3 to 10 digits); the address book
    /// checks it against the receiver's phone.
    pub fn parse_any(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if (3..=10).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "invalid_postcode",
                "a postcode has 3 to 10 digits (6 in mainland China)",
            ))
        }
    }

    /// The postcode.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
