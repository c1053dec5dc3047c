//! Keyed pseudonyms of identifiers (GDPR art. 4(5) pseudonymisation): HMAC-SHA-256 (RFC 2104)
//! under a key of the service's, so that the same email address, phone number or client
//! address always gives the same pseudonym, and no one without the key can tell, even by trying
//! every phone number, which identifier a pseudonym stands for.

use hmac::Mac as _;
use uuid::Uuid;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The key pseudonyms are made with: 32 bytes (derived from the service's secret key).
#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(..)")
    }
}

impl Pseudonyms {
    /// Pseudonyms under `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The 32-byte pseudonym of `value` in the domain `label` (`HMAC-SHA-256(key, label ‖ 0x00
    /// ‖ value)`): the same value in two domains gives unrelated pseudonyms.
    pub fn of(&self, label: &str, value: &str) -> [u8; 32] {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            unreachable!("HMAC accepts a 32-byte key");
        };
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The pseudonym of `value` in the domain `label` as a UUID (version 8, RFC 9562 §5.8: the
    /// first 122 bits of [`Pseudonyms::of`]), for stream ids named by an identifier.
    pub fn uuid(&self, label: &str, value: &str) -> Uuid {
        let digest = self.of(label, value);
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::new_v8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_per_key_and_domain() {
        let one = Pseudonyms::new([1; 32]);
        let other = Pseudonyms::new([2; 32]);
        assert_eq!(
            one.of("code", "ada@example.com"),
            one.of("code", "ada@example.com")
        );
        assert_ne!(
            one.of("code", "ada@example.com"),
            other.of("code", "ada@example.com")
        );
        assert_ne!(
            one.of("code", "ada@example.com"),
            one.of("ip", "ada@example.com")
        );
        // The separator keeps label and value apart: ("ab", "c") is not ("a", "bc").
        assert_ne!(one.of("ab", "c"), one.of("a", "bc"));
        let id = one.uuid("code", "ada@example.com");
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id, one.uuid("code", "ada@example.com"));
        assert_ne!(id, other.uuid("code", "ada@example.com"));
    }
}
