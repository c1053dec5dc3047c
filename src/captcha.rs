//! ALTCHA-compatible proof-of-work captchas.
//!
//! A challenge is `sha256(salt + number)` for a secret random `number` up to `maxnumber`; the
//! client finds the number by trying them all (a few milliseconds in a browser) and sends back
//! `base64(json {algorithm, challenge, number, salt, signature})`. The service keeps no state
//! for a challenge: the signature (HMAC-SHA-256 under a key derived from the service's key)
//! proves it issued it, and the salt carries its expiry (`?expires=<unix seconds>`). A solution
//! is spent once: the caller records its challenge (see `store::throttle`).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The largest secret number: about 25,000 hashes on average to solve.
pub const MAX_NUMBER: u64 = 50_000;

/// How long a challenge can be solved and used.
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// A challenge, as `GET /v1/captcha` answers it (the ALTCHA widget's format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Always `SHA-256`.
    pub algorithm: String,
    /// Hex SHA-256 of `salt` followed by the secret number in decimal.
    pub challenge: String,
    /// The secret number is at most this.
    pub maxnumber: u64,
    /// Random hex, then `?expires=<unix seconds>`.
    pub salt: String,
    /// Hex HMAC-SHA-256 of `challenge` under the service's captcha key.
    pub signature: String,
}

/// A client's solution: the challenge and the number found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// `SHA-256`.
    pub algorithm: String,
    /// The challenge solved.
    pub challenge: String,
    /// The number found.
    pub number: u64,
    /// The challenge's salt.
    pub salt: String,
    /// The challenge's signature.
    pub signature: String,
}

/// Why a solution is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// Not base64 of the expected JSON.
    #[error("the captcha payload is malformed")]
    Malformed,
    /// Not issued by this service, or the number is wrong.
    #[error("the captcha solution is wrong")]
    Wrong,
    /// Issued too long ago.
    #[error("the captcha expired")]
    Expired,
}

/// Issues and checks challenges under one key.
#[derive(Clone)]
pub struct Captcha {
    key: [u8; 32],
}

impl Captcha {
    /// Challenges signed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A new challenge, valid until `now + LIFETIME`.
    pub fn challenge(&self, now: DateTime<Utc>) -> Challenge {
        let mut random = [0_u8; 12];
        rand::thread_rng().fill(&mut random);
        let salt = format!(
            "{}?expires={}",
            hex::encode(random),
            (now + LIFETIME).timestamp()
        );
        let number = rand::thread_rng().gen_range(0..=MAX_NUMBER);
        let challenge = hash(&salt, number);
        Challenge {
            algorithm: "SHA-256".to_owned(),
            signature: self.sign(&challenge),
            challenge,
            maxnumber: MAX_NUMBER,
            salt,
        }
    }

    /// Checks a base64 solution payload; returns the solution (whose `challenge` the caller
    /// spends so that it is used once).
    pub fn verify(&self, payload: &str, now: DateTime<Utc>) -> Result<Solution, CaptchaError> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| CaptchaError::Malformed)?;
        let solution: Solution =
            serde_json::from_slice(&json).map_err(|_| CaptchaError::Malformed)?;
        if solution.algorithm != "SHA-256" {
            return Err(CaptchaError::Wrong);
        }
        let signed = hex::decode(&solution.signature).map_err(|_| CaptchaError::Wrong)?;
        let mut mac = self.mac();
        mac.update(solution.challenge.as_bytes());
        mac.verify_slice(&signed).map_err(|_| CaptchaError::Wrong)?;
        // The signature covers `salt + number` only as one string: digits moved between the
        // number and the salt's expiry keep the hash. So the number must be one this service
        // draws, and the expiry no later than a challenge issued now would have.
        if solution.number > MAX_NUMBER
            || hash(&solution.salt, solution.number) != solution.challenge
        {
            return Err(CaptchaError::Wrong);
        }
        let expires = solution
            .salt
            .split_once("?expires=")
            .and_then(|(_, rest)| rest.split('&').next())
            .and_then(|seconds| seconds.parse::<i64>().ok())
            .ok_or(CaptchaError::Wrong)?;
        if expires > (now + LIFETIME).timestamp() {
            return Err(CaptchaError::Wrong);
        }
        if now.timestamp() > expires {
            return Err(CaptchaError::Expired);
        }
        Ok(solution)
    }

    fn sign(&self, challenge: &str) -> String {
        let mut mac = self.mac();
        mac.update(challenge.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> Hmac<Sha256> {
        match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            // HMAC takes keys of any length.
            Err(_) => unreachable!("HMAC accepts a 32-byte key"),
        }
    }
}

/// Hex SHA-256 of the salt followed by the number in decimal.
pub fn hash(salt: &str, number: u64) -> String {
    hex::encode(Sha256::digest(format!("{salt}{number}").as_bytes()))
}

/// Solves a challenge the way the ALTCHA widget does: tries every number.
pub fn solve(challenge: &Challenge) -> Option<Solution> {
    (0..=challenge.maxnumber)
        .find(|number| hash(&challenge.salt, *number) == challenge.challenge)
        .map(|number| Solution {
            algorithm: challenge.algorithm.clone(),
            challenge: challenge.challenge.clone(),
            number,
            salt: challenge.salt.clone(),
            signature: challenge.signature.clone(),
        })
}

/// The payload a client sends for a solution.
pub fn payload(solution: &Solution) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(solution).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_solved_challenge_verifies() {
        let captcha = Captcha::new([7; 32]);
        let challenge = captcha.challenge(now());
        let solution = solve(&challenge).expect("solvable");
        let verified = captcha.verify(&payload(&solution), now()).unwrap();
        assert_eq!(verified.challenge, challenge.challenge);
    }

    #[test]
    fn a_wrong_number_another_key_or_a_late_answer_is_refused() {
        let captcha = Captcha::new([7; 32]);
        let challenge = captcha.challenge(now());
        let solution = solve(&challenge).unwrap();
        let wrong = Solution {
            number: (solution.number + 1) % (MAX_NUMBER + 1),
            ..solution.clone()
        };
        assert_eq!(
            captcha.verify(&payload(&wrong), now()),
            Err(CaptchaError::Wrong)
        );
        assert_eq!(
            Captcha::new([8; 32]).verify(&payload(&solution), now()),
            Err(CaptchaError::Wrong)
        );
        let late = now() + LIFETIME + chrono::Duration::seconds(1);
        assert_eq!(
            captcha.verify(&payload(&solution), late),
            Err(CaptchaError::Expired)
        );
        assert_eq!(
            captcha.verify("not base64!", now()),
            Err(CaptchaError::Malformed)
        );
    }

    #[test]
    fn a_forged_challenge_with_an_easy_number_is_refused() {
        let captcha = Captcha::new([7; 32]);
        let salt = format!("abc?expires={}", (now() + LIFETIME).timestamp());
        let forged = Solution {
            algorithm: "SHA-256".into(),
            challenge: hash(&salt, 1),
            number: 1,
            salt,
            signature: "00".repeat(32),
        };
        assert_eq!(
            captcha.verify(&payload(&forged), now()),
            Err(CaptchaError::Wrong)
        );
    }

    #[test]
    fn digits_moved_from_the_number_into_the_expiry_do_not_extend_a_challenge() {
        let captcha = Captcha::new([7; 32]);
        // A challenge whose number has several digits, so some can be moved.
        let (challenge, solution) = std::iter::repeat_with(|| captcha.challenge(now()))
            .find_map(|challenge| {
                let solution = solve(&challenge)?;
                (solution.number >= 100).then_some((challenge, solution))
            })
            .expect("a challenge");
        let digits = solution.number.to_string();
        let (moved, kept) = digits.split_at(digits.len() - 1);
        let extended = Solution {
            salt: format!("{}{moved}", challenge.salt),
            number: kept.parse().unwrap(),
            ..solution.clone()
        };
        assert_eq!(hash(&extended.salt, extended.number), challenge.challenge);
        assert_eq!(
            captcha.verify(&payload(&extended), now()),
            Err(CaptchaError::Wrong)
        );
        let later = now() + chrono::Duration::hours(5);
        assert_eq!(
            captcha.verify(&payload(&extended), later),
            Err(CaptchaError::Wrong)
        );
        let too_big = Solution {
            number: MAX_NUMBER + 1,
            ..solution
        };
        assert_eq!(
            captcha.verify(&payload(&too_big), now()),
            Err(CaptchaError::Wrong)
        );
    }
}
