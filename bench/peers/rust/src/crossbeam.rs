//! The channel workloads with crossbeam-channel between OS threads,
//! blocking: the physical reference for a lock-free bounded channel.
//! Each task of the Go version is a thread here (main is the main thread),
//! and they run in parallel on as many cores as the machine has.

use crate::rt::ns_since;
use crossbeam_channel::{bounded, select, Receiver, Sender};
use std::thread;
use std::time::Instant;

/// pingpong_roundtrip: two threads, two zero-capacity (rendezvous) channels.
pub fn pingpong() -> f64 {
    const N: u64 = 1_000_000;
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let partner = thread::spawn(move || {
        for v in ping_rx {
            if pong_tx.send(v).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..N {
        ping_tx.send(i).expect("ping");
        pong_rx.recv().expect("pong");
    }
    let ns = ns_since(start, N);
    drop(ping_tx);
    partner.join().expect("pingpong partner");
    ns
}

/// spsc_cap128: 5,000,000 ints through a capacity-128 channel.
pub fn spsc() -> f64 {
    const N: u64 = 5_000_000;
    let (tx, rx) = bounded::<u64>(128);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        for i in 0..N {
            tx.send(i).expect("spsc send");
        }
    });
    let sum: u64 = rx.iter().sum();
    let ns = ns_since(start, N);
    producer.join().expect("spsc producer");
    if sum != N * (N - 1) / 2 {
        eprintln!("spsc: wrong sum");
    }
    ns
}

/// mpmc_4x4_cap64: 4 producer and 4 consumer threads, capacity 64.
pub fn mpmc() -> f64 {
    const PER: u64 = 1_000_000;
    const PRODUCERS: u64 = 4;
    let (tx, rx) = bounded::<u64>(64);
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    tx.send(i).expect("mpmc send");
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().count() as u64)
        })
        .collect();
    drop((tx, rx));
    for p in producers {
        p.join().expect("mpmc producer");
    }
    let got: u64 = consumers.into_iter().map(|c| c.join().expect("mpmc consumer")).sum();
    let ns = ns_since(start, PER * PRODUCERS);
    if got != PER * PRODUCERS {
        eprintln!("mpmc: {got} messages received");
    }
    ns
}

/// select4_recv: 4 producer threads on their own capacity-16 channels, the
/// main thread selects (crossbeam's select!) over the 4 receives 4,000,000
/// times. Main keeps a sender of each so that none disconnects.
pub fn select4() -> f64 {
    const PER: u64 = 1_000_000;
    let chans: Vec<(Sender<u64>, Receiver<u64>)> = (0..4).map(|_| bounded(16)).collect();
    let producers: Vec<_> = chans
        .iter()
        .map(|(tx, _)| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    tx.send(i).expect("select4 send");
                }
            })
        })
        .collect();
    let (c0, c1, c2, c3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
    let mut got = 0u64;
    let start = Instant::now();
    for _ in 0..4 * PER {
        let v = select! {
            recv(c0) -> v => v,
            recv(c1) -> v => v,
            recv(c2) -> v => v,
            recv(c3) -> v => v,
        };
        got += v.is_ok() as u64;
    }
    let ns = ns_since(start, 4 * PER);
    for p in producers {
        p.join().expect("select4 producer");
    }
    if got != 4 * PER {
        eprintln!("select4: {got} values received");
    }
    ns
}
