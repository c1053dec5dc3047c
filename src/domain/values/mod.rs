//! Validated values. Each can only be built through `parse`, so the rest of the code never checks
//! them again. A failed parse names a stable `code` that the API reports per field.

mod address;
mod identifiers;
mod profile;
#[cfg(test)]
mod tests;

pub use address::{AddressLine, AddressTag, Postcode, Receiver};
pub use identifiers::{Email, Password, Phone, Username};
pub use profile::{Bio, Birthday, DisplayName, Gender, ImageUrl, PlaceName};

/// Declares `Refusal` with its stable snake_case spellings and the list of them all, so that a
/// code is spelled once and a new one cannot be left out of `Refusal::ALL`.
macro_rules! refusals {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)*) => {
        /// Why a request field was refused: the stable `code` the API reports for the field
        /// (its titles in English and Chinese are in `api::problem::catalog`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Refusal {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Refusal {
            /// Every refusal.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable snake_case code, e.g. `password_too_short`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

refusals! {
    /// A field the request needs is missing or null.
    Required = "required",
    /// Not an email address (RFC 5321 / 5322 addr-spec with an IDNA domain).
    InvalidEmail = "invalid_email",
    /// Not a username (3 to 30 letters, digits or underscores, starting with a letter).
    InvalidUsername = "invalid_username",
    /// Not a phone number (E.164).
    InvalidPhone = "invalid_phone",
    /// A password under 8 characters.
    PasswordTooShort = "password_too_short",
    /// A password over 128 characters.
    PasswordTooLong = "password_too_long",
    /// A password too easy to guess (zxcvbn score under 3, in line with OWASP ASVS V2.1.7).
    PasswordTooWeak = "password_too_weak",
    /// Not a display name (1 to 32 characters).
    InvalidDisplayName = "invalid_display_name",
    /// Not a bio (at most 500 characters).
    InvalidBio = "invalid_bio",
    /// Not an http or https URL.
    InvalidUrl = "invalid_url",
    /// Not a place name (1 to 64 characters).
    InvalidPlace = "invalid_place",
    /// Not a birthday (1900-01-01 to today).
    InvalidBirthday = "invalid_birthday",
    /// Not a receiver's name (1 to 20 characters).
    InvalidReceiver = "invalid_receiver",
    /// Not an address line (1 to 200 characters).
    InvalidAddress = "invalid_address",
    /// Not an address tag (1 to 10 characters).
    InvalidTag = "invalid_tag",
    /// Not a postcode (6 digits in mainland China, 3 to 10 elsewhere).
    InvalidPostcode = "invalid_postcode",
    /// Not a follow group's name (1 to 20 characters).
    InvalidGroupName = "invalid_group_name",
    /// A second factor's code (TOTP, RFC 6238, or recovery code) that is wrong or was used.
    MfaCodeInvalid = "mfa_code_invalid",
    /// A value that cannot be a second factor's code: not 6 digits, nor a recovery code's 10
    /// letters and digits.
    MfaCodeMalformed = "mfa_code_malformed",
    /// A passkey's name: blank, too long or with control characters.
    InvalidPasskeyName = "invalid_passkey_name",
    /// A WebAuthn credential that does not verify against its ceremony.
    PasskeyCredentialInvalid = "passkey_credential_invalid",
    /// JSON that is no WebAuthn credential at all (structure, type, id, cross-origin).
    PasskeyCredentialMalformed = "passkey_credential_malformed",
}

/// Why a value was refused: a stable machine code and an English explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// Why, e.g. `Refusal::PasswordTooShort`.
    pub code: Refusal,
    /// A human-readable explanation in English.
    pub message: String,
}

impl InvalidValue {
    pub(crate) fn new(code: Refusal, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Whether `value` holds a character a reader cannot see or that changes how the rest reads
/// ([`is_hidden`]), or nothing visible at all: only whitespace, joiners, variation selectors
/// and combining marks, with no character for them to sit on.
pub fn has_hidden_chars(value: &str) -> bool {
    value.chars().any(is_hidden) || !value.chars().any(is_visible_base)
}

/// Whether `c` is a character a reader cannot see or that changes how the rest reads, by its
/// Unicode general category (with `unicode-properties`): a control (Cc), format (Cf:
/// bidirectional controls as in CVE-2021-42574 "Trojan Source", zero-width spaces, word
/// joiners, the byte-order mark, soft hyphens, tag characters that smuggle text unseen) or
/// line or paragraph separator (Zl, Zp); or another `Default_Ignorable_Code_Point`, or a
/// character that renders blank (Hangul and Khitan fillers, the Braille blank). The
/// zero-width joiner and non-joiner and the variation selectors stay allowed ([`is_modifier`]):
/// emoji sequences and several scripts need them.
pub fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};
    if is_modifier(c) {
        return false;
    }
    matches!(
        c.general_category(),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
    ) || matches!(
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'..='\u{180F}'
            | '\u{2065}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{16FE4}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The invisible characters a visible one may carry (`Default_Ignorable_Code_Point` kept for
/// emoji and scripts): the zero-width non-joiner and joiner, the variation selectors, and
/// the Mongolian free variation selectors 1 to 3.
pub(crate) fn is_modifier(c: char) -> bool {
    matches!(
        c,
        '\u{200C}'..='\u{200D}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{E0100}'..='\u{E01EF}'
            | '\u{180B}'..='\u{180D}'
    )
}

/// Whether `c` is something a reader sees on its own: neither whitespace, nor a modifier, nor
/// a combining mark (Mn, Mc, Me), nor hidden.
fn is_visible_base(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory as _};
    !c.is_whitespace()
        && !is_modifier(c)
        && !is_hidden(c)
        && c.general_category_group() != GeneralCategoryGroup::Mark
}

pub(crate) fn char_count(value: &str) -> usize {
    value.chars().count()
}

/// Trimmed text of `min..=max` characters without hidden characters ([`has_hidden_chars`]).
pub(crate) fn bounded_text(
    raw: &str,
    max: usize,
    code: Refusal,
    message: &str,
) -> Result<String, InvalidValue> {
    let value = raw.trim();
    if value.is_empty() || char_count(value) > max || has_hidden_chars(value) {
        return Err(InvalidValue::new(code, message));
    }
    Ok(value.to_owned())
}
