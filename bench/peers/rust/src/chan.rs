//! The async channels of the flavors, behind one trait so that each channel
//! workload is written once (channels.rs). Every flavor closes a channel
//! the Rust way: when its last sender is dropped (Go's close(ch)).

use std::future::Future;
use std::sync::Arc;

/// A bounded channel of u64 usable from tokio tasks.
pub trait AsyncChan: 'static {
    type Tx: Clone + Send + Sync + 'static;
    type Rx: Send + 'static;
    /// A receiver several consumer tasks can hold at once.
    type SharedRx: Clone + Send + Sync + 'static;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    /// Go's unbuffered channel where the flavor has one (capacity 0),
    /// otherwise capacity 1, the smallest it has.
    fn unbuffered() -> (Self::Tx, Self::Rx);
    /// Sends v, waiting for room; false once the receivers are gone.
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_;
    /// The next value; None once closed and drained.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;
    fn share(rx: Self::Rx) -> Self::SharedRx;
    fn recv_shared(rx: &Self::SharedRx) -> impl Future<Output = Option<u64>> + Send + '_;
}

/// tokio::sync::mpsc. Capacity 0 does not exist: unbuffered() is capacity
/// 1. mpsc has one receiver, so several consumers share it the usual way,
/// Arc<tokio::sync::Mutex<Receiver>>, each holding the lock across recv().
pub struct Tokio;

impl AsyncChan for Tokio {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    type SharedRx = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<u64>>>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(cap)
    }
    fn unbuffered() -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(1)
    }
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_ {
        async move { tx.send(v).await.is_ok() }
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        Arc::new(tokio::sync::Mutex::new(rx))
    }
    fn recv_shared(rx: &Self::SharedRx) -> impl Future<Output = Option<u64>> + Send + '_ {
        async move { rx.lock().await.recv().await }
    }
}

/// flume's async API (send_async / recv_async); capacity 0 is a rendezvous
/// channel, as Go's unbuffered one. Receivers are cloneable (mpmc).
pub struct Flume;

impl AsyncChan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    type SharedRx = flume::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    fn unbuffered() -> (Self::Tx, Self::Rx) {
        flume::bounded(0)
    }
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_ {
        async move { tx.send_async(v).await.is_ok() }
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        async move { rx.recv_async().await.ok() }
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        rx
    }
    fn recv_shared(rx: &Self::SharedRx) -> impl Future<Output = Option<u64>> + Send + '_ {
        async move { rx.recv_async().await.ok() }
    }
}

/// async-channel (smol's); bounded(0) panics, so unbuffered() is capacity
/// 1. Receivers are cloneable (mpmc).
pub struct AsyncChannel;

impl AsyncChan for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    type SharedRx = async_channel::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(cap)
    }
    fn unbuffered() -> (Self::Tx, Self::Rx) {
        async_channel::bounded(1)
    }
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_ {
        async move { tx.send(v).await.is_ok() }
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        async move { rx.recv().await.ok() }
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        rx
    }
    fn recv_shared(rx: &Self::SharedRx) -> impl Future<Output = Option<u64>> + Send + '_ {
        async move { rx.recv().await.ok() }
    }
}
