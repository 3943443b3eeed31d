//! Password hashing with argon2id at OWASP parameters (19 MiB, t=2, p=1).
//! Unknown accounts are verified against a dummy hash so that a wrong email
//! and a wrong password take the same time.
//!
//! Requests hash through one [`Hasher`]: each hash takes 19 MiB and a core
//! for tens of milliseconds, so they run at most one per core and further
//! requests wait their turn asynchronously, instead of piling up blocking
//! threads (and their memory) under a flood. The hashes run on the hasher's
//! own threads, one per permit, each reusing one 19 MiB working memory: so
//! hashing holds `parallelism × 19 MiB`, however many requests come.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{oneshot, Semaphore};

use crate::error::{AppError, AppResult};

use argon2::password_hash::{
    self, rand_core::OsRng, Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher,
    Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
}

thread_local! {
    /// The argon2 working memory of this thread, kept between hashes: freed
    /// and allocated again each time, 19 MiB blocks stay resident in
    /// glibc's arenas (measured: ~360 MiB after 64 hashes on two threads).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 computed in the calling thread's reused memory (`MEMORY`); the
/// PHC format and verification are the `password_hash` traits' own.
struct ReusedMemory;

impl PasswordHasher for ReusedMemory {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(output_len, |out| {
            MEMORY.with(|memory| {
                let mut memory = memory.borrow_mut();
                memory.resize(params.block_count(), Block::default());
                argon
                    .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
                    .map_err(password_hash::Error::from)
            })
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

/// PHC string for storage.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    ReusedMemory
        .hash_password_customized(
            password.as_bytes(),
            Some(Algorithm::Argon2id.ident()),
            Some(Version::V0x13.into()),
            params(),
            &salt,
        )
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Checks `password` against a stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            ReusedMemory
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

/// One unit of work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

struct Inner {
    permits: Arc<Semaphore>,
    /// The queue of the hashing threads (they end when it is dropped).
    jobs: mpsc::Sender<Job>,
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
                jobs: start_threads(parallelism),
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
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash(&password)).await
    }

    /// Checks `password` against `stored`; with no stored hash (unknown
    /// account) spends the same work on a dummy and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
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

    /// Waits for a permit, then runs `work` on a hashing thread. The permit
    /// goes with the work, so a request dropped mid-hash (client gone) frees
    /// its place only when the hash is really over.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .expect("the hashing semaphore is never closed");
        let inner = Arc::clone(&self.inner);
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            inner.performed.fetch_add(1, Ordering::Relaxed);
            let running = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak.fetch_max(running, Ordering::SeqCst);
            let result = work();
            inner.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            let _ = answer.send(result);
        });
        self.inner.jobs.send(job).map_err(AppError::unexpected)?;
        answered.await.map_err(AppError::unexpected)
    }
}

/// Starts `count` threads that run queued jobs until the queue is dropped.
fn start_threads(count: usize) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..count {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("password-hash-{n}"))
            .spawn(move || loop {
                // The lock is held only while waiting for the next job.
                let next = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                let Ok(job) = next else { return };
                // A panicking job fails its own request (its answer is
                // dropped), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            })
            .expect("start a password hashing thread");
    }
    jobs
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
    fn hashes_agree_with_the_argon2_crates_own() {
        let ours = hash("correct horse battery");
        let parsed = PasswordHash::new(&ours).unwrap();
        let theirs = Argon2::default();
        assert!(theirs
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let stored = theirs
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batter", &stored));
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
