//! Shipping address fields: receiver, address line, tag and postcode.

use super::{InvalidValue, Phone, Refusal, bounded_text};
use serde::{Deserialize, Serialize};

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
            Refusal::InvalidReceiver,
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
            Refusal::InvalidAddress,
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
        bounded_text(raw, 10, Refusal::InvalidTag, "a tag has 1 to 10 characters").map(Self)
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
                Refusal::InvalidPostcode,
                "a mainland China postcode has 6 digits",
            ))
        } else {
            Err(InvalidValue::new(
                Refusal::InvalidPostcode,
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
                Refusal::InvalidPostcode,
                "a postcode has 3 to 10 digits (6 in mainland China)",
            ))
        }
    }

    /// The postcode.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
