//! A wait group for tokio tasks: Go's sync.WaitGroup as a counter and a
//! Notify (tokio has none of its own).

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

pub struct WaitGroup {
    left: AtomicUsize,
    zero: Notify,
}

impl WaitGroup {
    /// A wait group waiting for `n` done() calls.
    pub fn new(n: usize) -> Self {
        WaitGroup { left: AtomicUsize::new(n), zero: Notify::new() }
    }

    /// Expects `n` more done() calls.
    pub fn add(&self, n: usize) {
        self.left.fetch_add(n, Ordering::Relaxed);
    }

    /// One task finished; the last one wakes the waiter.
    pub fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // notify_one keeps a permit if wait() is not waiting yet.
            self.zero.notify_one();
        }
    }

    /// Returns once the count is zero.
    pub async fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            self.zero.notified().await;
        }
    }
}
