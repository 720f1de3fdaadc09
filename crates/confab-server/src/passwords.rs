//! Password hashing: Argon2id (RFC 9106) with a per-password random salt, stored as
//! a PHC string so parameters can change without invalidating old hashes.
//!
//! Hashing is deliberately slow and memory-hungry (19 MiB, 2 passes by default, the
//! OWASP baseline), so it runs on the blocking pool and at most a few at a time: a
//! burst of log-ins queues instead of taking all memory. A log-in for an unknown name
//! still verifies against a dummy hash, so response time does not tell whether an
//! account exists.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use confab_core::input::Password;
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordCost {
    /// OWASP's recommended minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        PasswordCost { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").field("params", &self.params).finish_non_exhaustive()
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon(params).hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

impl Passwords {
    pub fn new(cost: PasswordCost) -> Result<Self, String> {
        let params =
            Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).map_err(|e| e.to_string())?;
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let dummy = hash_blocking(&params, &format!("{random:?}"))?;
        let concurrent = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Passwords { params, permits: Arc::new(Semaphore::new(concurrent)), dummy })
    }

    /// The PHC string to store for a new password.
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| internal("password hasher closed"))?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&params, password.expose()))
            .await
            .map_err(|_| internal("password hashing panicked"))?
            .map_err(|e| internal(&e))
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown account) the
    /// same work is done against a dummy and the answer is no.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| internal("password hasher closed"))?;
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.clone());
        let ok = tokio::task::spawn_blocking(move || {
            // A stored hash that does not parse matches nothing.
            PasswordHash::new(&stored)
                .map(|h| argon(&Params::default()).verify_password(password.expose().as_bytes(), &h).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|_| internal("password verification panicked"))?;
        Ok(known && ok)
    }
}

fn internal(what: &str) -> ApiError {
    ApiError::Store(confab_store::StoreError::Internal(what.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(PasswordCost { memory_kib: 256, iterations: 1, parallelism: 1 }).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let p = cheap();
        let pw = Password::parse("correct horse battery").unwrap();
        let a = p.hash(pw.clone()).await.unwrap();
        let b = p.hash(pw.clone()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(p.verify(pw.clone(), Some(a.clone())).await.unwrap());
        assert!(!p.verify(Password::parse("correct horse battery!").unwrap(), Some(a)).await.unwrap());
        assert!(!p.verify(pw.clone(), None).await.unwrap(), "unknown accounts never match");
        assert!(!p.verify(pw, Some("not a phc string".into())).await.unwrap());
    }

    #[tokio::test]
    async fn old_hashes_keep_verifying_after_the_cost_changes() {
        let old = cheap().hash(Password::parse("a long password").unwrap()).await.unwrap();
        let now = Passwords::new(PasswordCost { memory_kib: 512, iterations: 2, parallelism: 1 }).unwrap();
        assert!(now.verify(Password::parse("a long password").unwrap(), Some(old)).await.unwrap());
    }
}
