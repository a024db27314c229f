//! Timer workloads on tokio::time.

use crate::rt::ns_since;
use crate::wait_group::WaitGroup;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::{sleep, sleep_until};

/// select_with_after: send one value on a capacity-1 tokio mpsc channel
/// (try_send, Go's select with default), then tokio::select! { receive it,
/// sleep(1h) }; the Sleep is created and dropped per op. A Sleep enters
/// the timer wheel when first polled: select! polls the branches in random
/// order and stops at the ready receive, so about half of the Sleeps are
/// dropped without having been registered.
pub async fn select_with_after() -> f64 {
    const N: u64 = 1_000_000;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
    let mut got = 0u64;
    let start = Instant::now();
    for i in 0..N {
        let _ = tx.try_send(i);
        tokio::select! {
            v = rx.recv() => got += v.is_some() as u64,
            _ = sleep(Duration::from_secs(3600)) => {}
        }
    }
    let ns = ns_since(start, N);
    if got != N {
        eprintln!("select_with_after: {got} values received");
    }
    ns
}

/// sleep_many_wall: 100,000 tasks each sleep 1 + (i % 10) ms; wall / n.
pub async fn sleep_many() -> f64 {
    const N: usize = 100_000;
    let wg = Arc::new(WaitGroup::new(N));
    let start = Instant::now();
    for i in 0..N {
        let wg = wg.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(1 + (i % 10) as u64)).await;
            wg.done();
        });
    }
    wg.wait().await;
    ns_since(start, N as u64)
}

/// timer_lateness_p50 / _p99: how late 10,000 sleeps of 1-10 ms wake up
/// (tokio's timer wheel has 1 ms slots). Each task returns its lateness
/// through its JoinHandle.
pub async fn lateness(quantile: f64) -> f64 {
    const N: u64 = 10_000;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            tokio::spawn(async move {
                let want = Instant::now() + Duration::from_micros(1000 + (i * 7919) % 9000);
                sleep_until(want.into()).await;
                Instant::now().duration_since(want).as_nanos() as f64
            })
        })
        .collect();
    let mut late = Vec::with_capacity(N as usize);
    for t in tasks {
        late.push(t.await.expect("lateness task"));
    }
    late.sort_by(f64::total_cmp);
    late[(quantile * (N - 1) as f64) as usize]
}
