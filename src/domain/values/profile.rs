//! Profile fields: display name, bio, avatar URL, place names, birthday, gender.

use super::{InvalidValue, Refusal, char_count, has_hidden_chars};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The name shown to other users: 1 to 32 characters, any script, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() || char_count(value) > 32 || has_hidden_chars(value) {
            return Err(InvalidValue::new(
                Refusal::InvalidDisplayName,
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
        // Empty clears it; anything else must show something.
        let stray_control = !value.is_empty()
            && value
                .lines()
                .any(|line| !line.is_empty() && super::has_hidden_chars(line));
        if char_count(value) > 500 || stray_control {
            return Err(InvalidValue::new(
                Refusal::InvalidBio,
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
                Refusal::InvalidUrl,
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
        if value.is_empty() || char_count(value) > 64 || has_hidden_chars(value) {
            return Err(InvalidValue::new(
                Refusal::InvalidPlace,
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
                Refusal::InvalidBirthday,
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
