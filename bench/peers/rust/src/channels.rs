//! The channel workloads on tokio, once for every AsyncChan flavor. Each
//! runs inside a runtime (rt.rs): main is the body, the others are tasks.

use crate::chan::AsyncChan;
use crate::rt::ns_since;
use std::time::Instant;

/// pingpong_roundtrip: two tasks, two unbuffered channels a->b->a.
pub async fn pingpong<C: AsyncChan>() -> f64 {
    const N: u64 = 1_000_000;
    let (ping_tx, ping_rx) = C::unbuffered();
    let (pong_tx, mut pong_rx) = C::unbuffered();
    let partner = tokio::spawn(echo::<C>(ping_rx, pong_tx));
    let start = Instant::now();
    for i in 0..N {
        C::send(&ping_tx, i).await;
        C::recv(&mut pong_rx).await;
    }
    let ns = ns_since(start, N);
    drop(ping_tx);
    partner.await.expect("pingpong partner");
    ns
}

/// The partner of pingpong: sends back what it receives until closed.
async fn echo<C: AsyncChan>(mut ping: C::Rx, pong: C::Tx) {
    while let Some(v) = C::recv(&mut ping).await {
        C::send(&pong, v).await;
    }
}

/// spsc_cap128: 5,000,000 ints through a capacity-128 channel.
pub async fn spsc<C: AsyncChan>() -> f64 {
    const N: u64 = 5_000_000;
    let (tx, mut rx) = C::bounded(128);
    let start = Instant::now();
    tokio::spawn(async move {
        for i in 0..N {
            C::send(&tx, i).await;
        }
    });
    let mut sum = 0u64;
    while let Some(v) = C::recv(&mut rx).await {
        sum += v;
    }
    let ns = ns_since(start, N);
    if sum != N * (N - 1) / 2 {
        eprintln!("spsc: wrong sum");
    }
    ns
}

/// mpmc_4x4_cap64: 4 producers x 1,000,000 ints, 4 consumers, capacity 64.
pub async fn mpmc<C: AsyncChan>() -> f64 {
    const PER: u64 = 1_000_000;
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    let (tx, rx) = C::bounded(64);
    let rx = C::share(rx);
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..PER {
                    C::send(&tx, i).await;
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = 0u64;
                while C::recv_shared(&rx).await.is_some() {
                    got += 1;
                }
                got
            })
        })
        .collect();
    drop((tx, rx));
    for p in producers {
        p.await.expect("mpmc producer");
    }
    // The producers' senders are gone: the channel is closed.
    let mut got = 0;
    for c in consumers {
        got += c.await.expect("mpmc consumer");
    }
    let ns = ns_since(start, PER * PRODUCERS);
    if got != PER * PRODUCERS {
        eprintln!("mpmc: {got} messages received");
    }
    ns
}

/// select4_recv: 4 producers on their own capacity-16 channels, one
/// consumer selecting over the 4 receives 4,000,000 times. None of the
/// flavors has a select of its own: tokio::select! over their receive
/// futures (random branch order, as Go's select). The consumer keeps a
/// sender of each so that no channel closes (a closed one would be ready).
pub async fn select4<C: AsyncChan>() -> f64 {
    const PER: u64 = 1_000_000;
    let (t0, mut c0) = C::bounded(16);
    let (t1, mut c1) = C::bounded(16);
    let (t2, mut c2) = C::bounded(16);
    let (t3, mut c3) = C::bounded(16);
    for tx in [t0.clone(), t1.clone(), t2.clone(), t3.clone()] {
        tokio::spawn(async move {
            for i in 0..PER {
                C::send(&tx, i).await;
            }
        });
    }
    let mut got = 0u64;
    let start = Instant::now();
    for _ in 0..4 * PER {
        let v = tokio::select! {
            v = C::recv(&mut c0) => v,
            v = C::recv(&mut c1) => v,
            v = C::recv(&mut c2) => v,
            v = C::recv(&mut c3) => v,
        };
        got += v.is_some() as u64;
    }
    let ns = ns_since(start, 4 * PER);
    drop((t0, t1, t2, t3));
    if got != 4 * PER {
        eprintln!("select4: {got} values received");
    }
    ns
}
