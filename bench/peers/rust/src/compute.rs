//! CPU work the compiler cannot remove: xorshift rounds.

use std::sync::atomic::{AtomicU64, Ordering};

static SINK: AtomicU64 = AtomicU64::new(0);

/// `rounds` xorshift64 steps; black_box keeps the count opaque.
#[inline(never)]
pub fn compute(rounds: u64) -> u64 {
    let mut x: u64 = 88172645463325252;
    for _ in 0..std::hint::black_box(rounds) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// Keeps a result alive (Go's atomic.AddUint64(&computeSink, ...)).
pub fn sink(v: u64) {
    SINK.fetch_add(v, Ordering::Relaxed);
}
