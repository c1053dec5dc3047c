//! The secrets of second factors, where they need the service's key: TOTP secrets (RFC 6238,
//! with `totp-rs`: HMAC-SHA-1, 6 digits, 30 s steps, one step of drift either way), their
//! `otpauth://` URI (Google Authenticator Key Uri Format) and QR code (SVG, with `qrcode`),
//! and recovery codes with their keyed hashes. What a code proves is decided by the account
//! (`domain::account`): this module only finds the time step a code matches.

use crate::domain::account::{RECOVERY_CODES_PER_SET, RecoveryCodeHash, SealedTotpSecret};
use crate::secrets::{OpenError, SecretBox};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use totp_rs::{Algorithm, Secret, TOTP};

/// RFC 6238 `X`: seconds per time step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Time steps of clock drift accepted either side of the current one.
pub const TOTP_SKEW: u8 = 1;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 section 4 recommends.
const TOTP_SECRET_BYTES: usize = 20;

/// The letters of recovery codes: upper-case letters and digits without the look-alikes
/// `0 O 1 I`; 32 of them, so 5 bits a letter.
const RECOVERY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Letters of a recovery code (50 random bits), shown as two groups of five.
const RECOVERY_CODE_LETTERS: usize = 10;

/// A new TOTP secret: its bytes, and the same sealed for the account's events.
pub struct NewTotpSecret {
    /// The raw secret (RFC 6238 `K`).
    pub bytes: Vec<u8>,
    /// The secret sealed with the service's key.
    pub sealed: SealedTotpSecret,
}

/// A fresh random TOTP secret.
pub fn new_totp_secret(secrets: &SecretBox) -> NewTotpSecret {
    let mut bytes = vec![0_u8; TOTP_SECRET_BYTES];
    rand::thread_rng().fill(bytes.as_mut_slice());
    let sealed =
        SealedTotpSecret(secrets.seal_text(&Secret::Raw(bytes.clone()).to_encoded().to_string()));
    NewTotpSecret { bytes, sealed }
}

/// The raw bytes of a sealed TOTP secret.
pub fn open_totp_secret(
    secrets: &SecretBox,
    sealed: &SealedTotpSecret,
) -> Result<Vec<u8>, OpenError> {
    let encoded = secrets.open_text(&sealed.0)?;
    Secret::Encoded(encoded).to_bytes().map_err(|_| OpenError)
}

/// The RFC 6238 generator for `secret`, labelled `issuer:account` for authenticator apps (a
/// colon is not allowed in either: it becomes a space).
fn totp(secret: &[u8], issuer: &str, account: &str) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        TOTP_DIGITS,
        TOTP_SKEW,
        TOTP_STEP_SECONDS,
        secret.to_vec(),
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
}

/// What an authenticator app scans to enrol: the secret in base32 (RFC 4648, for typing in),
/// the `otpauth://totp/...` URI, and that URI as a QR code in SVG.
pub struct TotpProvisioning {
    /// The secret in base32, without padding.
    pub secret: String,
    /// The Key Uri Format URI.
    pub otpauth_uri: String,
    /// An SVG image of the URI's QR code.
    pub qr_svg: String,
}

/// The provisioning of `secret` for `account` (the label the app shows) under `issuer`.
pub fn provisioning(secret: &[u8], issuer: &str, account: &str) -> TotpProvisioning {
    let generator = totp(secret, issuer, account);
    let otpauth_uri = generator.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    TotpProvisioning {
        secret: generator.get_secret_base32(),
        otpauth_uri,
        qr_svg,
    }
}

/// A TOTP code as a user may type it, without the spaces and hyphens that apps show in it:
/// `TOTP_DIGITS` ASCII digits, or `None` when it cannot be a code.
pub fn totp_code_typed(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A recovery code as a user may type it (any case, spaces and hyphens anywhere): its letters
/// in upper case, or `None` when it cannot be a recovery code.
pub fn recovery_code_typed(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let letters =
        code.len() == RECOVERY_CODE_LETTERS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    letters.then_some(code)
}

/// The time step (RFC 6238 `T`) at which `code` is the TOTP of `secret`, among the current one
/// at `now` and `TOTP_SKEW` either side; `None` when the code is not `TOTP_DIGITS` digits (see
/// [`totp_code_typed`]) or matches none. Every step is compared in constant time.
pub fn matching_time_step(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<u64> {
    let code = totp_code_typed(code)?;
    let generator = totp(secret, "", "");
    let current = u64::try_from(now.timestamp()).ok()? / TOTP_STEP_SECONDS;
    let skew = u64::from(TOTP_SKEW);
    let mut matched = None;
    for step in current.saturating_sub(skew)..=current + skew {
        let expected = generator.generate(step * TOTP_STEP_SECONDS);
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            code.as_bytes(),
        )) {
            matched = Some(step);
        }
    }
    matched
}

/// The TOTP code of `secret` at `at` (for tests and tools that play the authenticator).
pub fn totp_code(secret: &[u8], at: DateTime<Utc>) -> String {
    let seconds = u64::try_from(at.timestamp()).unwrap_or_default();
    totp(secret, "", "").generate(seconds)
}

/// A new set of recovery codes: the codes to show once (`XXXXX-XXXXX`), and their keyed
/// hashes to keep, in the same order.
pub fn new_recovery_codes(secrets: &SecretBox) -> (Vec<String>, Vec<RecoveryCodeHash>) {
    let mut rng = rand::thread_rng();
    let codes: Vec<String> = (0..RECOVERY_CODES_PER_SET)
        .map(|_| {
            let letters: String = (0..RECOVERY_CODE_LETTERS)
                .map(|_| char::from(RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())]))
                .collect();
            format!("{}-{}", &letters[..5], &letters[5..])
        })
        .collect();
    let hashes = codes
        .iter()
        .map(|code| recovery_code_hash(secrets, code))
        .collect();
    (codes, hashes)
}

/// The keyed hash of a recovery code as a user may type it: case, spaces and hyphens do not
/// matter ([`recovery_code_typed`]).
pub fn recovery_code_hash(secrets: &SecretBox, code: &str) -> RecoveryCodeHash {
    use hmac::Mac as _;
    let normalized = recovery_code_typed(code).unwrap_or_else(|| code.to_owned());
    let key = secrets.derive_key("recovery-codes");
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key) else {
        unreachable!("HMAC accepts a 32-byte key");
    };
    mac.update(normalized.as_bytes());
    RecoveryCodeHash(hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 Appendix B: the SHA-1 test vectors, read as 6 digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors_within_one_step_either_way() {
        let secret = b"12345678901234567890";
        let at = |seconds| Utc.timestamp_opt(seconds, 0).single().expect("time");
        for (seconds, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp_code(secret, at(seconds)), code);
            let step = u64::try_from(seconds).expect("positive") / 30;
            assert_eq!(matching_time_step(secret, code, at(seconds)), Some(step));
            assert_eq!(
                matching_time_step(secret, code, at(seconds + 30)),
                Some(step)
            );
            assert_eq!(
                matching_time_step(secret, code, at(seconds - 30)),
                Some(step)
            );
            assert_eq!(matching_time_step(secret, code, at(seconds + 60)), None);
        }
        assert_eq!(matching_time_step(secret, "28708", at(59)), None);
        assert_eq!(matching_time_step(secret, "28708a", at(59)), None);
        assert_eq!(matching_time_step(secret, "287 082", at(59)), Some(1));
        assert_eq!(matching_time_step(secret, "287-082", at(59)), Some(1));
        for malformed in ["", " ", "２８７０８２", "+287082", "2870820", "287082\0"] {
            assert_eq!(totp_code_typed(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn a_secret_opens_only_with_its_key_and_provisions_a_scannable_uri() {
        let secrets = SecretBox::random();
        let secret = new_totp_secret(&secrets);
        assert_eq!(secret.bytes.len(), 20);
        assert!(open_totp_secret(&SecretBox::random(), &secret.sealed).is_err());
        assert_eq!(
            open_totp_secret(&secrets, &secret.sealed).ok(),
            Some(secret.bytes.clone())
        );
        let shown = provisioning(&secret.bytes, "Acme: Inc", "alice@example.com");
        assert!(
            !secret.sealed.0.contains(&shown.secret),
            "sealed, not encoded"
        );
        assert!(
            shown
                .otpauth_uri
                .starts_with("otpauth://totp/Acme%20%20Inc:alice%40example.com?"),
            "{}",
            shown.otpauth_uri
        );
        assert!(
            shown
                .otpauth_uri
                .contains(&format!("secret={}", shown.secret))
        );
        assert!(shown.qr_svg.starts_with("<?xml") && shown.qr_svg.contains("<svg"));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_hashed_under_the_key_whatever_the_spelling() {
        let secrets = SecretBox::random();
        let (codes, hashes) = new_recovery_codes(&secrets);
        assert_eq!(codes.len(), 10);
        assert_eq!(hashes.len(), 10);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(recovery_code_hash(&secrets, code), hashes[0]);
        let typed = format!(" {} ", code.to_ascii_lowercase().replace('-', " "));
        assert_eq!(recovery_code_hash(&secrets, &typed), hashes[0]);
        assert_ne!(recovery_code_hash(&SecretBox::random(), code), hashes[0]);
        assert_eq!(
            recovery_code_typed("abcde--fghjk").as_deref(),
            Some("ABCDEFGHJK")
        );
        for malformed in ["", "ABCDE-FGHJ", "ABCDE-FGHJI", "ABCDE-FGHJK-L", "123456"] {
            assert_eq!(recovery_code_typed(malformed), None, "{malformed:?}");
        }
    }
}
