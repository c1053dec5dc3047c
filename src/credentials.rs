//! Passwords and session tokens.
//!
//! Passwords are hashed with argon2id (m = 19456 KiB, t = 2, p = 1, OWASP's recommendation) on
//! blocking threads, at most `concurrency` at once so that a burst of sign-ins queues instead of
//! exhausting memory and starving the async workers. Each of those `concurrency` slots keeps its
//! 19 MiB of argon2 working memory for the life of the hasher, so memory is bounded by
//! `concurrency x 19 MiB` whatever the load, and no hash under load pays for allocating fresh
//! memory. After `IDLE_RELEASE` without a hash, the slots' pages go back to the system (the
//! allocation stays; the next hash faults them in again), so an idle service holds none of it. The PHC hash (RFC 9106 parameters, PHC string format) is then sealed with the
//! service key before it goes into an event.
//!
//! Session tokens are 256 random bits; only their SHA-256 is stored.

use crate::domain::account::SealedPasswordHash;
use crate::domain::values::Password;
use crate::secrets::SecretBox;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long the hasher goes without hashing before its working memory's pages go back to the
/// system: between one and two of these after the last hash.
pub const IDLE_RELEASE: Duration = Duration::from_secs(5);

fn argon2id() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2 working memory: `m_cost` blocks of 1 KiB.
///
/// What it holds after a hash is no shortcut to guessing the password: with t = 2 passes every
/// block has been rewritten from the whole memory, so checking a guess against it costs a full
/// hash. The next hash overwrites it.
type WorkingMemory = Box<[Block]>;

fn working_memory(blocks: usize) -> WorkingMemory {
    vec![Block::default(); blocks].into_boxed_slice()
}

/// Hands the whole pages inside `memory` back to the system (`madvise(MADV_DONTNEED)`): its
/// resident size drops, the allocation stays, and the pages read as zeros (faulted in again) at
/// the next use. Returns the bytes handed back.
fn release_pages(memory: &mut [Block]) -> usize {
    // SAFETY: sysconf reads a constant of the system.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = memory.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(memory);
    let (first, last) = (start.div_ceil(page) * page, end / page * page);
    if last <= first {
        return 0;
    }
    // SAFETY: [first, last) lies inside `memory`, which is borrowed exclusively here, so no
    // reference sees its bytes change. The memory is private and anonymous (the allocator's),
    // where MADV_DONTNEED makes the pages read as zeros afterwards, and all-zero bytes are a
    // valid `Block` (an array of integers). The allocator's own bookkeeping lies outside it.
    let done = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_DONTNEED,
        )
    };
    if done == 0 { last - first } else { 0 }
}

/// The PHC string of `password` hashed with a fresh 16-byte salt, in `memory`.
fn hash_in(memory: &mut [Block], password: &[u8]) -> anyhow::Result<String> {
    let argon2 = argon2id();
    let salt = random_bytes::<16>();
    let mut output = [0_u8; 32];
    argon2
        .hash_password_into_with_memory(password, &salt, &mut output, memory)
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|error| anyhow::anyhow!("argon2: {error}"))?,
        salt: Some(Salt::new(&salt).map_err(|error| anyhow::anyhow!("argon2: {error}"))?),
        hash: Some(Output::new(&output).map_err(|error| anyhow::anyhow!("argon2: {error}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash`, hashed in `memory` (or in memory of its
/// own when the hash asks for more than `memory` holds, as one made with other parameters
/// may). Compares in constant time.
fn verify_in(memory: &mut [Block], password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str());
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&parsed))
    else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0_u8; expected.len()];
    let blocks = argon2.params().block_count();
    let computed = match memory.get_mut(..blocks) {
        Some(memory) => argon2.hash_password_into_with_memory(password, salt, &mut output, memory),
        None => argon2.hash_password_into(password, salt, &mut output),
    };
    computed.is_ok() && Output::new(&output).is_ok_and(|output| output == *expected)
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
    /// One working memory per permit, taken by the permit's holder for its hash.
    memories: Arc<Mutex<Vec<WorkingMemory>>>,
    /// Hashes begun, for the idle release.
    uses: Arc<AtomicU64>,
    secrets: SecretBox,
    /// A real hash of a random password, verified against when there is no account, so that
    /// "no such account" takes as long as "wrong password".
    decoy: Arc<String>,
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once.
    pub async fn new(concurrency: usize, secrets: SecretBox) -> anyhow::Result<Self> {
        let blocks = argon2id().params().block_count();
        let mut memories: Vec<WorkingMemory> = (0..concurrency.max(1))
            .map(|_| working_memory(blocks))
            .collect();
        let decoy_password = URL_SAFE_NO_PAD.encode(random_bytes::<24>());
        let (decoy, memory) = tokio::task::spawn_blocking(move || {
            let mut memory = memories.pop().unwrap_or_else(|| working_memory(blocks));
            let decoy = hash_in(&mut memory, decoy_password.as_bytes());
            memories.push(memory);
            decoy.map(|decoy| (decoy, memories))
        })
        .await??;
        let hasher = Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            memories: Arc::new(Mutex::new(memory)),
            uses: Arc::new(AtomicU64::new(0)),
            secrets,
            decoy: Arc::new(decoy),
        };
        tokio::spawn(release_when_idle(
            Arc::downgrade(&hasher.memories),
            hasher.uses.clone(),
        ));
        Ok(hasher)
    }

    /// Hands the pages of every working memory not in use back to the system now (as after
    /// `IDLE_RELEASE` without a hash); returns the bytes handed back.
    pub fn release_idle_memory(&self) -> usize {
        release_pooled(&self.memories)
    }

    /// Hashes a new password and seals the hash.
    pub async fn hash(&self, password: &Password) -> anyhow::Result<SealedPasswordHash> {
        let text = password.expose().to_owned();
        let hash = self
            .in_working_memory(move |memory| hash_in(memory, text.as_bytes()))
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
            .in_working_memory(move |memory| verify_in(memory, password.as_bytes(), &hash))
            .await
            .unwrap_or(false);
        known && matches
    }

    /// Runs `work` on a blocking thread with a permit and its working memory.
    async fn in_working_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        self.uses.fetch_add(1, Ordering::Relaxed);
        let memories = self.memories.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let taken = memories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            // Each permit holder finds one; a memory lost to a panic is made again.
            let mut memory =
                taken.unwrap_or_else(|| working_memory(argon2id().params().block_count()));
            let outcome = work(&mut memory);
            memories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
            outcome
        })
        .await?)
    }
}

/// Releases the pooled working memories' pages once no hash began for a whole `IDLE_RELEASE`
/// (and none since the last release); ends with the hasher.
async fn release_when_idle(
    memories: std::sync::Weak<Mutex<Vec<WorkingMemory>>>,
    uses: Arc<AtomicU64>,
) {
    let mut every = tokio::time::interval(IDLE_RELEASE);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut seen, mut released_at) = (u64::MAX, u64::MAX);
    loop {
        every.tick().await;
        let Some(memories) = memories.upgrade() else {
            return;
        };
        let now = uses.load(Ordering::Relaxed);
        if now == seen && now != released_at {
            let bytes = release_pooled(&memories);
            tracing::debug!(bytes, "hashing memory handed back after an idle spell");
            released_at = now;
        }
        seen = now;
    }
}

fn release_pooled(memories: &Mutex<Vec<WorkingMemory>>) -> usize {
    let mut pooled = memories.lock().unwrap_or_else(PoisonError::into_inner);
    pooled.iter_mut().map(|memory| release_pages(memory)).sum()
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

    #[tokio::test]
    async fn working_memory_handed_back_when_idle_still_hashes_and_verifies() {
        let hasher = PasswordHasher::new(2, SecretBox::random())
            .await
            .expect("hasher");
        let password = Password::parse("correct horse battery staple", &[]).expect("valid");
        let before = hasher.hash(&password).await.expect("hash");
        let released = hasher.release_idle_memory();
        let working = 2 * argon2id().params().block_count() * std::mem::size_of::<Block>();
        assert!(
            released + 2 * 2 * 4096 >= working,
            "{released} of {working} bytes handed back"
        );
        // The pages read as zeros now and are faulted in again: hashes made before and after
        // verify alike, and a wrong password still fails.
        let after = hasher.hash(&password).await.expect("hash");
        hasher.release_idle_memory();
        for sealed in [&before, &after] {
            assert!(hasher.verify(password.expose(), Some(sealed)).await);
            hasher.release_idle_memory();
            assert!(!hasher.verify("not the password", Some(sealed)).await);
        }
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_either_way() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let mut memory = working_memory(argon2id().params().block_count());
        let ours = hash_in(&mut memory, b"correct horse battery staple").expect("hash");
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(
            argon2id()
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok(),
            "the crate's own verifier accepts it"
        );
        // A hash the crate made, and one with more memory than a working memory holds.
        const RIGHT: &[u8] = b"correct horse battery staple";
        for params in [
            argon2id().params().clone(),
            Params::new(32_768, 2, 1, None).expect("params"),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(RIGHT)
                .expect("hash")
                .to_string();
            assert!(verify_in(&mut memory, RIGHT, &theirs));
            assert!(!verify_in(
                &mut memory,
                b"wrong horse battery staple",
                &theirs
            ));
        }
        assert!(!verify_in(&mut memory, RIGHT, "$argon2id$v=19$nonsense"));
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
