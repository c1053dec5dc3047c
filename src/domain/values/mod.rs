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

/// Why a value was refused: a stable machine code and an English explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// Stable, snake_case code, e.g. `password_too_short`.
    pub code: &'static str,
    /// A human-readable explanation in English.
    pub message: String,
}

impl InvalidValue {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

pub(crate) fn has_control_chars(value: &str) -> bool {
    value.chars().any(char::is_control)
}

pub(crate) fn char_count(value: &str) -> usize {
    value.chars().count()
}

/// Trimmed text of `min..=max` characters without control characters.
pub(crate) fn bounded_text(
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
