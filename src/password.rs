//! Password hashing with argon2id at OWASP parameters (19 MiB, t=2, p=1).
//! Unknown accounts are verified against a dummy hash so that a wrong email
//! and a wrong password take the same time.
//!
//! Requests hash through one [`Hasher`]: each hash takes 19 MiB and a core
//! for tens of milliseconds, so they run at most one per core and further
//! requests wait their turn asynchronously, instead of piling up blocking
//! threads (and their memory) under a flood.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use actix_web::error::BlockingError;
use tokio::sync::Semaphore;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// PHC string for storage.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Checks `password` against a stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same work as `verify` for an account that does not exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy password for timing"));
    let _ = verify(password, stored);
}

/// Runs password hashes and verifications of one app instance, at most
/// `parallelism` at a time. Cheap to clone (one shared queue).
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Arc<Semaphore>,
    parallelism: usize,
    /// Hashes and verifications started so far (a figure for tests and logs).
    performed: AtomicU64,
    running: AtomicUsize,
    /// Most hashes that ever ran at the same time.
    peak: AtomicUsize,
}

impl Hasher {
    /// A hasher running at most `parallelism` (at least one) hashes at once.
    pub fn new(parallelism: usize) -> Hasher {
        let parallelism = parallelism.max(1);
        Hasher {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(parallelism)),
                parallelism,
                performed: AtomicU64::new(0),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        }
    }

    /// One hash at a time per CPU of this machine.
    pub fn per_cpu() -> Hasher {
        Hasher::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// PHC string for storage (see [`hash`]).
    pub async fn hash(&self, password: String) -> Result<String, BlockingError> {
        self.run(move || hash(&password)).await
    }

    /// Checks `password` against `stored`; with no stored hash (unknown
    /// account) spends the same work on a dummy and answers false.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, BlockingError> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => {
                verify_dummy(&password);
                false
            }
        })
        .await
    }

    /// Hashes and verifications started since this hasher was made.
    pub fn performed(&self) -> u64 {
        self.inner.performed.load(Ordering::Relaxed)
    }

    /// Most hashes that ran at the same time so far.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::Relaxed)
    }

    /// How many hashes may run at once.
    pub fn parallelism(&self) -> usize {
        self.inner.parallelism
    }

    /// Waits for a permit, then runs `work` on the blocking pool. The permit
    /// goes into the blocking task, so a request dropped mid-hash (client
    /// gone) frees its place only when the hash is really over.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, BlockingError> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .expect("the hashing semaphore is never closed");
        let inner = Arc::clone(&self.inner);
        actix_web::web::block(move || {
            inner.performed.fetch_add(1, Ordering::Relaxed);
            let running = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak.fetch_max(running, Ordering::SeqCst);
            let result = work();
            inner.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            result
        })
        .await
    }
}

/// A field error for a new password, or `None` when acceptable.
pub fn validate_new(password: &str) -> Option<String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        Some(format!("Use at least {MIN_LEN} characters."))
    } else if len > MAX_LEN {
        Some(format!("Use at most {MAX_LEN} characters."))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn length_rules() {
        assert!(validate_new("short").is_some());
        assert!(validate_new("12345678").is_none());
        assert!(validate_new(&"a".repeat(64)).is_none());
        assert!(validate_new(&"a".repeat(129)).is_some());
    }

    #[actix_web::test]
    async fn the_hasher_runs_no_more_hashes_at_once_than_its_permits() {
        let hasher = Hasher::new(2);
        let work = (0..12).map(|i| {
            let hasher = hasher.clone();
            async move { hasher.hash(format!("password {i}")).await }
        });
        let hashes = futures_util::future::join_all(work).await;
        assert!(hashes.iter().all(|h| h.is_ok()));
        assert_eq!(hasher.performed(), 12);
        assert!(hasher.peak() <= 2, "peak {} hashes at once", hasher.peak());
        let known = hasher.hash("known".into()).await.unwrap();
        assert!(hasher.verify("known".into(), Some(known)).await.unwrap());
        assert!(!hasher.verify("known".into(), None).await.unwrap());
    }
}
