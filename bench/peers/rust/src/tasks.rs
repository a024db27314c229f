//! Task workloads: spawn and join, wait groups, errgroup, cancellation, CPU.

use crate::compute::{compute, sink};
use crate::rt::ns_since;
use crate::wait_group::WaitGroup;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// spawn_join: spawn 1,000,000 empty tasks, wait for all: a wait group
/// counted down by each task (Go's Add(n) once, Done in each), its
/// JoinHandle dropped. Awaiting a Vec of the 1,000,000 JoinHandles instead
/// measured slower (current_thread, loaded 2-core machine, 3 x 7 runs:
/// 197-297 ns/task against 160-233 for the wait group).
pub async fn spawn_join() -> f64 {
    spawn_join_rounds(1_000_000, 1).await
}

/// spawn_join_10k: 100 rounds of 10,000 (the cost without fresh memory).
pub async fn spawn_join_10k() -> f64 {
    spawn_join_rounds(10_000, 100).await
}

async fn spawn_join_rounds(n: usize, rounds: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        let wg = Arc::new(WaitGroup::new(n));
        for _ in 0..n {
            let wg = wg.clone();
            tokio::spawn(async move { wg.done() });
        }
        wg.wait().await;
    }
    ns_since(start, (n * rounds) as u64)
}

/// wait_group_spawn: the same with add(1) before each spawn (Go's
/// wg.Add(1); go f()).
pub async fn wait_group_spawn() -> f64 {
    const N: usize = 1_000_000;
    let wg = Arc::new(WaitGroup::new(0));
    let start = Instant::now();
    for _ in 0..N {
        wg.add(1);
        let wg = wg.clone();
        tokio::spawn(async move { wg.done() });
    }
    wg.wait().await;
    ns_since(start, N as u64)
}

/// The shape of Go's golang.org/x/sync/errgroup: a wait group and the
/// first error. (tokio's JoinSet is the other idiom; it keeps every task's
/// result, where errgroup keeps one error.)
struct ErrGroup {
    wg: WaitGroup,
    err: OnceLock<String>,
}

impl ErrGroup {
    fn go<F>(self: &Arc<Self>, f: F)
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.wg.add(1);
        let g = self.clone();
        tokio::spawn(async move {
            if let Err(e) = f.await {
                let _ = g.err.set(e);
            }
            g.wg.done();
        });
    }

    async fn wait(&self) -> Result<(), String> {
        self.wg.wait().await;
        self.err.get().map_or(Ok(()), |e| Err(e.clone()))
    }
}

/// errgroup_go: 1,000,000 go() of an empty function, then wait().
pub async fn errgroup_go() -> f64 {
    const N: usize = 1_000_000;
    let g = Arc::new(ErrGroup { wg: WaitGroup::new(0), err: OnceLock::new() });
    let start = Instant::now();
    for _ in 0..N {
        g.go(async { Ok(()) });
    }
    let result = g.wait().await;
    let ns = ns_since(start, N as u64);
    if result.is_err() {
        eprintln!("errgroup_go: unexpected error");
    }
    ns
}

/// What the tasks of cancel_tree share.
struct Tree {
    wg: WaitGroup,
    waiting: AtomicUsize,
}

/// cancel_tree: 100,000 tasks each wait on cancelled() of its own child
/// token (tokio_util CancellationToken::child_token) of one root; cancel
/// the root; wait for all. Spawn included. Go's runtime.Gosched() lets
/// every goroutine start waiting (main goes to the back of the queue);
/// tokio's yield_now() promises no such order, so main yields until all
/// 100,000 are waiting (each counts itself just before its first wait).
pub async fn cancel_tree() -> f64 {
    const N: usize = 100_000;
    let start = Instant::now();
    let root = CancellationToken::new();
    let tree = Arc::new(Tree { wg: WaitGroup::new(0), waiting: AtomicUsize::new(0) });
    for _ in 0..N {
        let child = root.child_token();
        tree.wg.add(1);
        let tree = tree.clone();
        tokio::spawn(async move {
            tree.waiting.fetch_add(1, Ordering::Relaxed);
            child.cancelled().await;
            tree.wg.done();
        });
    }
    while tree.waiting.load(Ordering::Relaxed) < N {
        tokio::task::yield_now().await;
    }
    root.cancel();
    tree.wg.wait().await;
    ns_since(start, N as u64)
}

/// cpu_fanout: 64 tasks each computing 1,000,000 rounds; wall / 64.
pub async fn cpu_fanout() -> f64 {
    const N: usize = 64;
    let wg = Arc::new(WaitGroup::new(N));
    let start = Instant::now();
    for _ in 0..N {
        let wg = wg.clone();
        tokio::spawn(async move {
            sink(compute(1_000_000));
            wg.done();
        });
    }
    wg.wait().await;
    ns_since(start, N as u64)
}

/// What the tasks of hol_latency share.
struct Burst {
    left: AtomicUsize,
    first_go: Mutex<Option<Instant>>,
    last_done: Mutex<Option<Instant>>,
}

/// hol_latency_t2: a task starts 200 short tasks (10,000 rounds each) and
/// then computes 100,000,000 rounds; ns from the first spawn until the last
/// short task has finished.
pub async fn hol_latency() -> f64 {
    const SHORTS: usize = 200;
    let burst = Arc::new(Burst {
        left: AtomicUsize::new(SHORTS),
        first_go: Mutex::new(None),
        last_done: Mutex::new(None),
    });
    let b = burst.clone();
    let busy = tokio::spawn(async move {
        *b.first_go.lock().unwrap() = Some(Instant::now());
        for _ in 0..SHORTS {
            let b = b.clone();
            tokio::spawn(async move {
                sink(compute(10_000));
                if b.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    *b.last_done.lock().unwrap() = Some(Instant::now());
                }
            });
        }
        sink(compute(100_000_000));
    });
    busy.await.expect("hol_latency busy task");
    while burst.left.load(Ordering::Acquire) != 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = burst.first_go.lock().unwrap().expect("first spawn");
    let last = burst.last_done.lock().unwrap().expect("last short task");
    last.duration_since(first).as_nanos() as f64
}
