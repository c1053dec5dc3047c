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
        let invalid = |message: &str| InvalidValue::new("invalid_email", message);
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
                "invalid_phone",
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

    fn canonical_email(raw: &str) -> Result<String, &'static str> {
        Email::parse(raw).map(|e| e.0).map_err(|e| e.code)
    }

    #[test]
    fn emails_are_normalized_and_need_a_dotted_domain() {
        assert_eq!(
            canonical_email("  Alice@Example.COM "),
            Ok("alice@example.com".to_owned())
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@localhost",
            "a b@example.com",
            "alice@example.com.",
            "alice@[192.0.2.1]",
            "alice@127.0.0.1",
            "alice@1.2.3.4.5",
            "alice@0x7f.0.0.1",
            "alice@example.123",
            "alice@127.0.0.0x1",
            "alice@0x7f.0x1",
            "alice@169.254.169.0xfe",
            "alice@127.0.0.0X1",
            "alice..b@example.com",
            ".alice@example.com",
            "alice@exa mple.com",
            "Alice <alice@example.com>",
        ] {
            assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
        }
    }

    #[test]
    fn email_domains_have_one_spelling_under_uts46() {
        let canonical = Ok("u@xn--bcher-kva.example".to_owned());
        assert_eq!(canonical_email("u@bücher.example"), canonical);
        assert_eq!(canonical_email("u@BÜCHER.example"), canonical);
        assert_eq!(canonical_email("u@xn--bcher-kva.example"), canonical);
        assert_eq!(canonical_email("u@XN--BCHER-KVA.EXAMPLE"), canonical);
        // Full-width letters and the ideographic full stop map to their plain forms.
        assert_eq!(
            canonical_email("v@ｍａｉｌ.example.org"),
            Ok("v@mail.example.org".to_owned())
        );
        assert_eq!(
            canonical_email("v@mail。example。org"),
            Ok("v@mail.example.org".to_owned())
        );
        assert_eq!(
            canonical_email("w@例子.中国"),
            Ok("w@xn--fsqu00a.xn--fiqs8s".to_owned())
        );
        // A label that is not a valid IDN, or a domain with characters DNS forbids.
        for bad in ["u@xn--a.example", "u@exa_mple.com", "u@-example.com"] {
            assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
        }
    }

    #[test]
    fn email_local_parts_are_plain_ascii_dot_atoms_the_mailer_accepts() {
        for bad in [
            "\"x@attacker.example.net\"@example.org",
            "\"x\"@example.org",
            "x(comment)@example.org",
            "用户@example.org",
            "x\\y@example.org",
            "x%evil.example@relay.example",
            "host!x@example.org",
            &format!("{}@example.org", "a".repeat(65)),
        ] {
            assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
        }
        assert_eq!(
            canonical_email("First.Last+tag@example.org"),
            Ok("first.last+tag@example.org".to_owned())
        );
        let accepted = canonical_email("o'brien#$&*=?^_`{|}~-/@example.org").expect("valid");
        let mailbox: lettre::message::Mailbox = accepted.parse().expect("lettre reads it");
        assert_eq!(mailbox.email.to_string(), accepted);
    }

    #[test]
    fn a_canonical_email_reads_back_as_itself() {
        for raw in [
            "u@Bücher.example",
            "v@ｍａｉｌ.example.org",
            "w@例子.中国",
            "First.Last+tag@Example.COM",
            "x@ÉCOLE.fr",
            "y@straße.de",
            "z@ΑΒΓ.gr",
        ] {
            let canonical = canonical_email(raw).unwrap_or_else(|code| panic!("{raw}: {code}"));
            assert_eq!(canonical_email(&canonical), Ok(canonical.clone()), "{raw}");
        }
    }

    #[test]
    fn stored_emails_in_an_older_spelling_read_canonical() {
        let read = |stored: &str| -> Email {
            serde_json::from_value(serde_json::json!(stored)).expect("reads")
        };
        assert_eq!(read("u@bücher.example").as_str(), "u@xn--bcher-kva.example");
        // What no longer parses is kept as written, so old events still load.
        assert_eq!(read("\"q\"@example.org").as_str(), "\"q\"@example.org");
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

    fn canonical_phone(raw: &str) -> Result<String, &'static str> {
        Phone::parse(raw).map(|p| p.0).map_err(|e| e.code)
    }

    #[test]
    fn phones_accept_e164_and_bare_mainland_mobiles() {
        assert_eq!(canonical_phone("13812345678"), Ok("+8613812345678".into()));
        assert_eq!(
            canonical_phone("+1 (415) 555-0100"),
            Ok("+14155550100".into())
        );
        for bad in [
            "12345",
            "+86123",
            "+8612812345678",
            "phone",
            "+0123456789",
            "",
            "+61 412 000 001 ext. 7",
            "tel:+4917908215540",
            "tel:+8613812345678",
            "phone: 13812345678",
        ] {
            assert_eq!(canonical_phone(bad), Err("invalid_phone"), "{bad}");
        }
    }

    #[test]
    fn a_national_trunk_prefix_after_the_country_code_is_dropped() {
        for (spellings, canonical) in [
            (
                &["+61412000001", "+61 0412 000 001", "+61-0412-000-001"][..],
                "+61412000001",
            ),
            (
                &["+4915123456789", "+49 0151 23456789", "+49 (0)151 23456789"][..],
                "+4915123456789",
            ),
            (
                &["+447911123456", "+44 07911 123456", "+44 (0) 7911 123456"][..],
                "+447911123456",
            ),
            (
                &["+86 138 1234 5678", "+86-13812345678"][..],
                "+8613812345678",
            ),
            // A trunk 0 with a carrier selection code (15) in Brazil.
            (
                &[
                    "+5511912341066",
                    "+55 0 15 11 91234 1066",
                    "+55 (011) 91234-1066",
                ][..],
                "+5511912341066",
            ),
            (&["+7 8 912 345 6789", "+79123456789"][..], "+79123456789"),
            // A full-width plus and the international prefix 00 are a plus.
            (
                &["＋4917908215540", "004917908215540", "00 49 179 0821 5540"][..],
                "+4917908215540",
            ),
            (&["+81 090 1234 5678", "+819012345678"][..], "+819012345678"),
            // Italy keeps its leading 0: a landline and a mobile stay two numbers.
            (&["+39 06 1234 5678"][..], "+390612345678"),
            (&["+39 02 1234 5678"][..], "+390212345678"),
            (&["+39 333 1231066"][..], "+393331231066"),
            // Numbers whose digits look like mainland China's prefixes keep them.
            (
                &["+55 11 98765 4321", "+55 011 98765 4321"][..],
                "+5511987654321",
            ),
            (&["+49 179 1234567"][..], "+491791234567"),
            (&["+4917908215540"][..], "+4917908215540"),
            (&["+44 121 496 0123"][..], "+441214960123"),
            (&["+43 1 5123456"][..], "+4315123456"),
        ] {
            for spelling in spellings {
                assert_eq!(
                    canonical_phone(spelling),
                    Ok(canonical.to_owned()),
                    "{spelling}"
                );
            }
        }
    }

    #[test]
    fn a_canonical_phone_reads_back_as_itself() {
        for raw in [
            "13812345678",
            "+5511912341066",
            "+61412000001",
            "+4915123456789",
            "+447911123456",
            "+14155550100",
            "+390612345678",
            "+79123456789",
            "+819012345678",
            "+525512345678",
            "+5491123456789",
            "+33612345678",
            "+919876543210",
            "+85291234567",
            "+886912345678",
        ] {
            let canonical = canonical_phone(raw).unwrap_or_else(|code| panic!("{raw}: {code}"));
            assert_eq!(canonical_phone(&canonical), Ok(canonical.clone()), "{raw}");
        }
    }

    #[test]
    fn stored_phones_in_an_older_spelling_read_canonical() {
        let stored: Phone =
            serde_json::from_value(serde_json::json!("+610412000001")).expect("reads");
        assert_eq!(stored.as_str(), "+61412000001");
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
