//! The runtimes a workload runs on: a new one per run, built as a tokio
//! program builds it (`enable_all`), dropped when the run ends.

use std::future::Future;
use std::time::Instant;

/// Runs `body` on a new current_thread runtime (`block_on`, as
/// `#[tokio::main(flavor = "current_thread")]` does): one thread for it and
/// every task it spawns.
pub fn current<F: Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio current_thread runtime")
        .block_on(body)
}

/// Runs `body` as a task of a new multi_thread runtime with 2 workers.
/// `body` is spawned rather than run by `block_on`, which would poll it on
/// the main thread, a third thread: this way every task, `body` included,
/// runs on the 2 workers, as Go's main goroutine runs on one of GOMAXPROCS Ps.
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
