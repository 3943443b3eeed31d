//! The database check behind `/healthz`, shared by the requests that ask at
//! the same time. A load balancer, a monitor and a flood of probes need one
//! answer from the database, not a pooled connection, a blocking thread and
//! a round trip each: a request that arrives while a check is in flight
//! waits for that check and takes its answer; one that arrives after it
//! ended starts the next. No answer is kept once its check has ended, so
//! every caller gets the result of a check that was still running when it
//! asked — a database that goes down is reported by the next check.

use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};

/// A check older than this is not joined but replaced: a check that nobody
/// polled for a while (its callers went away) must not answer a newcomer.
const JOIN_WINDOW: Duration = Duration::from_secs(1);

type Check = Shared<BoxFuture<'static, bool>>;

struct Running {
    started: Instant,
    /// Which check this is, so a finished check clears only itself.
    number: u64,
    check: Check,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    started: u64,
}

/// The check in flight, if any. Cheap to clone (shared).
#[derive(Clone, Default)]
pub(super) struct InFlight(Arc<Mutex<Slot>>);

impl InFlight {
    /// The answer of the check in flight, or of a new one made by `start`.
    pub(super) async fn join_or_start<F, Fut>(&self, start: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let check = self.current_or(start);
        check.await
    }

    fn current_or<F, Fut>(&self, start: F) -> Check
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = &slot.running {
            if running.started.elapsed() < JOIN_WINDOW {
                return running.check.clone();
            }
        }
        slot.started += 1;
        let number = slot.started;
        // Weak: the slot holds the check, so the check must not hold the slot.
        let owner = Arc::downgrade(&self.0);
        let work = start();
        let check = async move {
            let answer = work.await;
            clear(&owner, number);
            answer
        }
        .boxed()
        .shared();
        slot.running = Some(Running {
            started: Instant::now(),
            number,
            check: check.clone(),
        });
        check
    }
}

/// Forgets check `number` once it has answered (unless a newer one replaced it).
fn clear(owner: &Weak<Mutex<Slot>>, number: u64) {
    let Some(slot) = owner.upgrade() else { return };
    let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if slot.running.as_ref().is_some_and(|r| r.number == number) {
        slot.running = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(
        runs: &Arc<AtomicUsize>,
        gate: &Arc<tokio::sync::Notify>,
        answer: bool,
    ) -> impl FnOnce() -> BoxFuture<'static, bool> {
        let (runs, gate) = (runs.clone(), gate.clone());
        move || {
            runs.fetch_add(1, Ordering::SeqCst);
            async move {
                gate.notified().await;
                answer
            }
            .boxed()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn callers_during_a_check_share_it_and_later_ones_start_anew() {
        let in_flight = InFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let first = in_flight.join_or_start(counting(&runs, &gate, true));
        let second = in_flight.join_or_start(counting(&runs, &gate, false));
        let release = async {
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (a, b, ()) = tokio::join!(first, second, release);
        // One check ran; both got its answer (the second's `false` never ran).
        assert_eq!((a, b, runs.load(Ordering::SeqCst)), (true, true, 1));

        // That check is over: the next caller starts its own.
        let third = in_flight.join_or_start(counting(&runs, &gate, false));
        let release = async {
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (c, ()) = tokio::join!(third, release);
        assert_eq!((c, runs.load(Ordering::SeqCst)), (false, 2));
    }
}
