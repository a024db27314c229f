//! tokio::sync::Mutex workloads (the async mutex: it can be held across
//! an await, which mutex_contended_4 does).

use crate::rt::ns_since;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// mutex_uncontended: one task, 10,000,000 lock/unlock pairs.
pub async fn uncontended() -> f64 {
    const N: u64 = 10_000_000;
    let counter = Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..N {
        *counter.lock().await += 1;
    }
    let ns = ns_since(start, N);
    if *counter.lock().await != N {
        eprintln!("mutex_uncontended: lost updates");
    }
    ns
}

/// mutex_contended_4: 4 tasks x 250,000 lock/increment/unlock; every 8th
/// time a task yields while holding the lock.
pub async fn contended() -> f64 {
    const PER: u64 = 250_000;
    const TASKS: u64 = 4;
    let counter = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move {
                for i in 0..PER {
                    let mut n = counter.lock().await;
                    *n += 1;
                    if i % 8 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("mutex_contended task");
    }
    let ns = ns_since(start, PER * TASKS);
    if *counter.lock().await != PER * TASKS {
        eprintln!("mutex_contended_4: lost updates");
    }
    ns
}
