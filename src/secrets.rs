//! Sealing secrets at rest with ChaCha20-Poly1305 under the service's key: password hashes in
//! events, and stored idempotent answers that hold session tokens.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

const NONCE_LEN: usize = 12;
/// Bytes that sealing adds to a plaintext: the nonce and the Poly1305 tag (16 bytes).
pub const SEALED_OVERHEAD: usize = NONCE_LEN + 16;
/// Prefix of sealed text, naming the key generation so that keys can be rotated later.
const TEXT_PREFIX: &str = "v1.";

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// Seed of keys for other purposes (captcha signatures), derived by HMAC.
    derivation: [u8; 32],
}

/// A sealed value that cannot be opened: wrong key or tampered.
#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (wrong key or damaged)")]
pub struct OpenError;

impl SecretBox {
    /// A box from a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            derivation: *key,
        }
    }

    /// A box with a fresh random key (tests, one-off tools).
    pub fn random() -> Self {
        let key: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
        Self::new(&key)
    }

    /// A key for another purpose, derived from the service's key (HMAC-SHA-256 of `purpose`),
    /// so that one configured secret serves every use without reusing the key itself.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.derivation)
        else {
            unreachable!("HMAC accepts a 32-byte key");
        };
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The box for a configured hex key, or else for the key kept in `data_dir/secret.key`,
    /// created on first use.
    pub fn from_config(hex_key: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let key_hex = match hex_key {
            Some(key) => key.trim().to_owned(),
            None => load_or_create_key_file(&data_dir.join("secret.key"))?,
        };
        let bytes = hex::decode(&key_hex).context("the secret key is not hex")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the secret key must be 32 bytes (64 hex characters)"))?;
        Ok(Self::new(&key))
    }

    /// Seals bytes: a random nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.seal_bound(plaintext, &[])
    }

    /// Opens what `seal` made.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.open_bound(sealed, &[])
    }

    /// Seals bytes bound to `associated` data (AEAD), which opening must present again: a
    /// random nonce followed by the ciphertext.
    pub fn seal_bound(&self, plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: associated,
        };
        // Encryption only fails for inputs over 256 GiB.
        let ciphertext = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens what `seal_bound` made with the same `associated` data.
    pub fn open_bound(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: associated,
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| OpenError)
    }

    /// Seals text into printable text.
    pub fn seal_text(&self, plaintext: &str) -> String {
        format!(
            "{TEXT_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.seal(plaintext.as_bytes()))
        )
    }

    /// Opens what `seal_text` made.
    pub fn open_text(&self, sealed: &str) -> Result<String, OpenError> {
        let encoded = sealed.strip_prefix(TEXT_PREFIX).ok_or(OpenError)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| OpenError)?;
        String::from_utf8(self.open(&bytes)?).map_err(|_| OpenError)
    }
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    let key = hex::encode(ChaCha20Poly1305::generate_key(&mut OsRng));
    write_private(path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::warn!(path = %path.display(), "created a development secret key; set ACCOUNTS_SECRET_KEY in production");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key() {
        let first = SecretBox::random();
        let sealed = first.seal_text("$argon2id$v=19$...");
        assert!(!sealed.contains("argon2"));
        assert_eq!(
            first.open_text(&sealed).ok().as_deref(),
            Some("$argon2id$v=19$...")
        );
        assert!(SecretBox::random().open_text(&sealed).is_err());
        assert_ne!(
            first.seal_text("same"),
            first.seal_text("same"),
            "nonces differ"
        );
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("accounts-key-{}", uuid::Uuid::new_v4()));
        let sealed = SecretBox::from_config(None, &dir)
            .expect("box")
            .seal_text("x");
        let again = SecretBox::from_config(None, &dir).expect("box");
        assert_eq!(again.open_text(&sealed).ok().as_deref(), Some("x"));
        std::fs::remove_dir_all(dir).ok();
    }
}
