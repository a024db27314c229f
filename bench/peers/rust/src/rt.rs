//! The runtimes a workload runs on: a new one per run, built as a tokio
//! program builds it (`enable_all`: the timer, and the I/O driver unless
//! built without the `io-driver` feature), dropped when the run ends.
//!
//! The workload's body is spawned as a task and `block_on` only awaits its
//! JoinHandle, on both runtimes. Run by `block_on` itself (what
//! `#[tokio::main]` does), the body would be polled outside the scheduler:
//! on current_thread every wake-up of it is an unpark of the driver (an
//! eventfd write and an epoll_wait with the I/O driver, about 1.5 us a
//! pingpong round trip here), and on multi_thread it runs on the main
//! thread, a third thread. Spawned, it is a task like the others, as Go's
//! main goroutine is a goroutine.

use std::future::Future;
use std::time::Instant;

/// Runs `body` as a task of a new current_thread runtime: one thread for
/// it and every task it spawns.
pub fn current<F>(body: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio current_thread runtime");
    rt.block_on(async { tokio::spawn(body).await.expect("workload task panicked") })
}

/// Runs `body` as a task of a new multi_thread runtime with 2 workers.
pub fn two<F>(body: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio multi_thread runtime");
    rt.block_on(async { tokio::spawn(body).await.expect("workload task panicked") })
}

/// Nanoseconds since `start`, per op.
pub fn ns_since(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}
