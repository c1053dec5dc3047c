//! Passwords and session tokens.
//!
//! Passwords are hashed with argon2id (m = 19456 KiB, t = 2, p = 1, OWASP's recommendation) on
//! blocking threads, at most `concurrency` at once so that a burst of sign-ins queues instead of
//! exhausting memory and starving the async workers. The PHC hash is then sealed with the
//! service key before it goes into an event.
//!
//! Session tokens are 256 random bits; only their SHA-256 is stored.

use crate::domain::account::SealedPasswordHash;
use crate::domain::values::Password;
use crate::secrets::SecretBox;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

fn argon2id() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// How many password checks a second `concurrency` hashes at once (the number of cores when
/// `None`) make over `duration`: the most sign-ins a second this machine can answer.
pub async fn verifications_per_second(
    concurrency: Option<usize>,
    duration: std::time::Duration,
) -> anyhow::Result<f64> {
    let concurrency = concurrency.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let hasher = PasswordHasher::new(concurrency, SecretBox::random()).await?;
    let password = Password::parse("correct horse battery staple", &[])
        .map_err(|invalid| anyhow::anyhow!(invalid.message))?;
    let sealed = hasher.hash(&password).await?;
    let started = std::time::Instant::now();
    let checks = futures::future::join_all((0..concurrency * 2).map(|_| {
        let (hasher, sealed, password) = (hasher.clone(), sealed.clone(), password.clone());
        async move {
            let mut done = 0_u64;
            while started.elapsed() < duration {
                hasher.verify(password.expose(), Some(&sealed)).await;
                done += 1;
            }
            done
        }
    }))
    .await;
    Ok(checks.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64())
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    secrets: SecretBox,
    /// A real hash of a random password, verified against when there is no account, so that
    /// "no such account" takes as long as "wrong password".
    decoy: Arc<String>,
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once.
    pub async fn new(concurrency: usize, secrets: SecretBox) -> anyhow::Result<Self> {
        let decoy_password = URL_SAFE_NO_PAD.encode(random_bytes::<24>());
        let decoy = tokio::task::spawn_blocking(move || {
            argon2id()
                .hash_password(decoy_password.as_bytes())
                .map(|hash| hash.to_string())
        })
        .await?
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            secrets,
            decoy: Arc::new(decoy),
        })
    }

    /// Hashes a new password and seals the hash.
    pub async fn hash(&self, password: &Password) -> anyhow::Result<SealedPasswordHash> {
        let text = password.expose().to_owned();
        let hash = self
            .on_blocking_thread(move || {
                argon2id()
                    .hash_password(text.as_bytes())
                    .map(|hash| hash.to_string())
                    .map_err(|error| anyhow::anyhow!("argon2: {error}"))
            })
            .await??;
        Ok(SealedPasswordHash(self.secrets.seal_text(&hash)))
    }

    /// True when `password` matches the sealed hash. With no hash, checks a decoy and answers
    /// false, in about the same time.
    pub async fn verify(&self, password: &str, sealed: Option<&SealedPasswordHash>) -> bool {
        let hash = match sealed.map(|sealed| self.secrets.open_text(&sealed.0)) {
            Some(Ok(hash)) => Some(hash),
            Some(Err(error)) => {
                tracing::error!(%error, "a stored password hash cannot be opened");
                None
            }
            None => None,
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.decoy.as_ref().clone());
        let password = password.to_owned();
        let matches = self
            .on_blocking_thread(move || {
                argon2id()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await
            .unwrap_or(false);
        known && matches
    }

    async fn on_blocking_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new session token: the text given to the client once, and the hash that is stored.
pub struct IssuedToken {
    /// The bearer token (43 URL-safe characters).
    pub token: String,
    /// Its SHA-256.
    pub hash: Vec<u8>,
}

/// Makes a new session token.
pub fn issue_session_token() -> IssuedToken {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let hash = session_token_hash(&token);
    IssuedToken { token, hash }
}

/// The stored form of a session token.
pub fn session_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hasher = PasswordHasher::new(2, SecretBox::random())
            .await
            .expect("hasher");
        let password = Password::parse("correct horse battery staple", &[]).expect("valid");
        let sealed = hasher.hash(&password).await.expect("hash");
        assert!(!sealed.0.contains("argon2"), "the hash is sealed");
        assert!(
            hasher
                .verify("correct horse battery staple", Some(&sealed))
                .await
        );
        assert!(
            !hasher
                .verify("correct horse battery stapler", Some(&sealed))
                .await
        );
        assert!(!hasher.verify("correct horse battery staple", None).await);
    }

    #[test]
    fn session_tokens_are_256_bits_and_stored_hashed() {
        let issued = issue_session_token();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&issued.token).map(|b| b.len()).ok(),
            Some(32)
        );
        assert_eq!(issued.hash, session_token_hash(&issued.token));
        assert_ne!(issued.token, issue_session_token().token);
    }
}
