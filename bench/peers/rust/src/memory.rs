//! Memory workloads: bytes per blocked task and per pending timer, from
//! glibc's malloc statistics (all allocations of a current_thread runtime
//! come from its one thread, so the main arena holds them all).

use crate::wait_group::WaitGroup;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{sleep, Sleep};

/// Bytes malloc has handed out and not taken back (Go's HeapInuse +
/// StackInuse: a tokio task lives in one heap allocation).
fn in_use() -> i64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as i64
}

/// What the tasks of idle_tasks share.
struct Idle {
    wg: WaitGroup,
    waiting: AtomicUsize,
}

/// idle_tasks_1m: 1,000,000 tasks each blocked on its own channel receive
/// (tokio mpsc, capacity 1: the smallest), then all released by dropping
/// the senders; bytes per blocked task, its channel included.
pub async fn idle_tasks() -> f64 {
    const N: usize = 1_000_000;
    let before = in_use();
    let idle = Arc::new(Idle { wg: WaitGroup::new(N), waiting: AtomicUsize::new(0) });
    let mut senders = Vec::with_capacity(N);
    for _ in 0..N {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
        senders.push(tx);
        let idle = idle.clone();
        tokio::spawn(async move {
            idle.waiting.fetch_add(1, Ordering::Relaxed);
            rx.recv().await;
            idle.wg.done();
        });
    }
    while idle.waiting.load(Ordering::Relaxed) < N {
        tokio::task::yield_now().await;
    }
    let during = in_use();
    drop(senders);
    idle.wg.wait().await;
    (during - before) as f64 / N as f64
}

/// pending_timers_1m: 1,000,000 sleeps of 1 h + i us pending at once, each
/// boxed (Go's *Timer) and polled once, which puts it in the timer wheel;
/// bytes per timer.
pub async fn pending_timers() -> f64 {
    const N: u64 = 1_000_000;
    let before = in_use();
    let mut timers: Vec<Pin<Box<Sleep>>> = (0..N)
        .map(|i| Box::pin(sleep(Duration::from_secs(3600) + Duration::from_micros(i))))
        .collect();
    // unconstrained: past its coop budget a Sleep would not register.
    tokio::task::unconstrained(poll_fn(|cx| {
        for t in timers.iter_mut() {
            let _ = t.as_mut().poll(cx);
        }
        Poll::Ready(())
    }))
    .await;
    let during = in_use();
    drop(timers);
    (during - before) as f64 / N as f64
}
