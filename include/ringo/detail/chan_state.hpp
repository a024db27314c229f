// ringo/detail/chan_state.hpp - the shared state of a channel (Go's hchan).
//
// Invariants (as Go's chan.go states them), at every unlock of `lock`, also
// after a move of T threw:
//   - at least one of sendq and recvq is empty, except on an unbuffered
//     channel that one parked select waits on for both sending and
//     receiving: then every node in both queues is that select's;
//   - buffered, also: count > 0 implies recvq is empty (a receiver waits only
//     while the buffer is empty), and count < cap implies sendq is empty (a
//     sender waits only while the buffer is full). One exception, for a T
//     whose move constructor may throw: a refill that threw (recv_now) leaves
//     the other parked senders queued beside the freed slot;
//   - closed implies both queues are empty: close() wakes every waiter, and
//     nobody enqueues on a closed channel (a receive completes at once, a
//     send panics);
//   - count <= cap (unbuffered: count == 0).
// check_invariants() asserts them in builds without NDEBUG; every operation
// below that changes the buffer or a queue calls it before returning.
//
// A queue may also hold nodes of selects that another case already won
// (stale nodes, see waiter.hpp). They count as queued above: whoever meets
// one unlinks it, and the select's pass 3 unlinks the rest.
//
// One lock guards everything: the ring buffer of `cap` slots, the queues of
// waiting senders and receivers, and `closed`. A sender that finds a waiting
// receiver hands the value straight to it (and vice versa); otherwise it goes
// through the buffer, or the sender waits. Wake-ups are issued after the lock
// is released. Any thread.
//
// Lock-free readiness probes (recv_may_succeed / send_may_succeed): `count`
// and `closed` are atomics written only under the lock (relaxed stores), and
// each wait queue mirrors its emptiness in an atomic, so a non-blocking
// operation can see that the channel is not ready without locking it (Go's
// chanrecv/chansend fast path). See those functions for why that is
// linearizable.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include <ringo/detail/frame_alloc.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/waiter.hpp>
#include <ringo/errors.hpp>

namespace ringo::detail {

// Channels come and go with tasks (Go's `done := make(chan struct{})`), so a
// state is allocated as a task frame is (frame_alloc.hpp), without malloc.
template <class T>
class chan_state : public frame_allocated {
public:
    explicit chan_state(std::size_t capacity) : cap_(capacity), buf_(allocate_buffer(capacity)) {}

    ~chan_state() {
        for (std::size_t i = 0, at = recvx_; i < count(); ++i, at = next_index(at))
            std::destroy_at(buf_ + at);
        if (buf_ != nullptr && buf_ != inline_buffer())
            std::allocator<T>().deallocate(buf_, cap_);
    }
    chan_state(const chan_state&) = delete;
    chan_state& operator=(const chan_state&) = delete;

    // Handles share ownership through an intrusive count (any thread).
    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            if (on_last_release_ != nullptr)
                on_last_release_(this);
            else
                delete this;
        }
    }

    spinlock lock;

private:
    // Declared beside the lock, so that the one-byte members share its word.
    // Guarded by lock; also read by the probes.
    std::atomic<bool> closed_{false};

protected:
    // Set once, before sharing: len() and cap() report 0, as Go 1.23's timer
    // channels do (time.hpp).
    bool reports_empty_ = false;

public:
    // --- Without the lock (any thread): readiness probes. ---
    //
    // False if a receive / send could not complete at once: the channel was,
    // at one moment during the call, open and empty (no buffered value, no
    // parked sender) / open and full (no free slot, no parked receiver). True
    // is only a hint: the caller locks and retries. False is linearizable at
    // the moment the first load reads: that load (acquire, so the load of
    // `closed` cannot move before it) saw the buffer empty / full, and a later
    // load saw the channel open; a channel never reopens, so it was open at
    // the first load as well. Happens-before is respected, as every load of
    // an atomic sees the last store that happens before it (or a later one):
    // a send or close that happens before the probe is seen by it.
    // Buffered, the count alone decides: a parked sender implies a full
    // buffer and a parked receiver an empty one (the invariants above).
    // Unbuffered, the counterpart queue does (a stale select node counts as a
    // waiter: a false hint). For a T whose move may throw, the invariants have
    // an exception (a refill that threw), so the probes always say true.
    bool recv_may_succeed() const noexcept {
        if constexpr (!nothrow_hand_off<T>) {
            return true;
        } else {
            bool ready = cap_ != 0 ? count_.load(std::memory_order_acquire) != 0 : !sendq_.probably_empty();
            return ready || closed_.load(std::memory_order_relaxed);
        }
    }
    bool send_may_succeed() const noexcept {
        if constexpr (!nothrow_hand_off<T>) {
            return true;
        } else {
            bool ready = cap_ != 0 ? count_.load(std::memory_order_acquire) != cap_ : !recvq_.probably_empty();
            return ready || closed_.load(std::memory_order_relaxed);
        }
    }

    // --- The caller holds `lock` for everything below. ---

    bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }
    std::size_t len() const noexcept { return reports_empty_ ? 0 : count(); }
    std::size_t cap() const noexcept { return reports_empty_ ? 0 : cap_; }

    // Links a receiver's / sender's node to wait; the caller found that
    // recv_now / send_now could not complete (and, for a sender, that the
    // channel is open).
    void enqueue_receiver(chan_waiter<T>& w) noexcept {
        recvq_.push_back(&w);
        check_invariants();
    }
    void enqueue_sender(chan_waiter<T>& w) noexcept {
        sendq_.push_back(&w);
        check_invariants();
    }
    // Unlinks a node if it is still queued (a select's losing case, or an
    // awaiter destroyed while parked).
    void unlink_receiver(chan_waiter<T>& w) noexcept { recvq_.remove(&w); }
    void unlink_sender(chan_waiter<T>& w) noexcept { sendq_.remove(&w); }

    // Receives at once if possible: true with `out` engaged (a value), or true
    // with `out` empty (closed and drained); false if the receiver must wait.
    // `wake` is set to a sender to ready() after unlocking. `out` is empty on
    // entry.
    //
    // If T's move constructor throws: taking a parked sender's value or the
    // buffer's head propagates the exception with nothing changed (the sender
    // stays queued, the value stays buffered). Refilling the buffer from a
    // parked sender, after the head was taken, cannot propagate (the receive
    // has happened): that sender is woken with the exception in its node.
    bool recv_now(std::optional<T>& out, goroutine*& wake) noexcept(nothrow_hand_off<T>) {
        if (std::size_t n = count(); n > 0) {
            T* head = buf_ + recvx_;
            out.emplace(std::move(*head));
            std::destroy_at(head);
            recvx_ = next_index(recvx_);
            set_count(n - 1);
            // A parked sender means the buffer was full: its value joins the tail.
            if (chan_waiter<T>* s = sendq_.dequeue()) {
                refill_from(*s);
                wake = s->g;
            }
            check_invariants();
            return true;
        }
        if (chan_waiter<T>* s = sendq_.dequeue_with([&](chan_waiter<T>* w) { out.emplace(std::move(*w->src)); })) {
            wake = s->g;  // unbuffered: straight from the sender
            check_invariants();
            return true;
        }
        return closed();
    }

    // Sends at once if possible (the channel must not be closed): true if `v`
    // was moved to a waiting receiver or the buffer, false if the sender must
    // wait (v untouched). `wake` is set to a receiver to ready() after unlocking.
    // If T's move constructor throws, the exception propagates with nothing
    // changed (v as the constructor left it, the receiver still queued).
    bool send_now(T& v, goroutine*& wake) noexcept(nothrow_hand_off<T>) {
        if (chan_waiter<T>* r = recvq_.dequeue_with([&](chan_waiter<T>* w) { w->dst->emplace(std::move(v)); })) {
            wake = r->g;
            check_invariants();
            return true;
        }
        if (std::size_t n = count(); n < cap_) {
            std::construct_at(buf_ + sendx_, std::move(v));
            sendx_ = next_index(sendx_);
            set_count(n + 1);
            check_invariants();
            return true;
        }
        return false;
    }

    // Marks the channel closed and unlinks every waiter, flagged `closed`, into
    // a list (through chan_waiter::link.next) to wake after unlocking.
    // Throws panic_error if already closed.
    chan_waiter<T>* close_locked() {
        if (closed())
            throw panic_error("close of closed channel");
        closed_.store(true, std::memory_order_relaxed);
        chan_waiter<T>* list = nullptr;
        for (wait_queue<T>* q : {&recvq_, &sendq_})
            while (chan_waiter<T>* w = q->dequeue()) {
                w->closed = true;
                w->link.next = list;
                list = w;
            }
        check_invariants();
        return list;
    }

    // Asserts the invariants stated at the top of this file; nothing with
    // NDEBUG. Cheap: it reads the queue heads and the counters only.
    void check_invariants() const noexcept {
#ifndef NDEBUG
        assert(count() <= cap_);
        assert(!closed() || (recvq_.empty() && sendq_.empty()));
        assert(count() == 0 || recvq_.empty());
        if constexpr (nothrow_hand_off<T>)  // see the exception above
            assert(count() == cap_ || sendq_.empty());
        assert(recvq_.empty() || sendq_.empty() ||
               (cap_ == 0 && recvq_.front()->sel != nullptr && recvq_.front()->sel == sendq_.front()->sel));
#endif
    }

protected:
    // A channel fed by a timer frees itself through its timer (time.hpp).
    using last_release_fn = void (*)(chan_state*) noexcept;
    last_release_fn on_last_release_ = nullptr;

private:
    // Moves a claimed sender's value to the buffer's free tail slot.
    void refill_from(chan_waiter<T>& s) noexcept {
        std::size_t n = count();
        if constexpr (nothrow_hand_off<T>) {
            std::construct_at(buf_ + sendx_, std::move(*s.src));
            sendx_ = next_index(sendx_);
            set_count(n + 1);
        } else {
            try {
                std::construct_at(buf_ + sendx_, std::move(*s.src));
                sendx_ = next_index(sendx_);
                set_count(n + 1);
            } catch (...) {
                s.error = std::current_exception();
            }
        }
    }

    // A capacity-1 buffer of a small T lives in the state itself (timer
    // channels, after(): no allocation per timer).
    static constexpr bool has_inline_slot = sizeof(T) <= 2 * sizeof(void*);
    T* inline_buffer() noexcept {
        if constexpr (has_inline_slot)
            return reinterpret_cast<T*>(inline_slot_.bytes);
        else
            return nullptr;
    }
    T* allocate_buffer(std::size_t capacity) {
        if (capacity == 0)
            return nullptr;
        if (capacity == 1 && has_inline_slot)
            return inline_buffer();
        return std::allocator<T>().allocate(capacity);
    }

    // Written under the lock only; read without it by the probes.
    std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
    void set_count(std::size_t n) noexcept { count_.store(n, std::memory_order_relaxed); }

    std::size_t next_index(std::size_t i) const noexcept { return i + 1 == cap_ ? 0 : i + 1; }

    std::atomic<std::size_t> refs_{1};
    // Guarded by lock (count_ also read by the probes).
    std::size_t cap_;
    T* buf_;
    std::size_t recvx_ = 0;  // the oldest value's slot (Go's recvx)
    std::size_t sendx_ = 0;  // the next free slot (Go's sendx): recvx_ + count, wrapped
    std::atomic<std::size_t> count_{0};
    struct alignas(T) slot_storage {
        std::byte bytes[sizeof(T)];
    };
    struct no_slot {};
    [[no_unique_address]] std::conditional_t<has_inline_slot, slot_storage, no_slot> inline_slot_;
    wait_queue<T> recvq_;
    wait_queue<T> sendq_;
};

// Wakes the waiters close_locked() returned. Call after unlocking.
template <class T>
void wake_all(chan_waiter<T>* list) noexcept {
    while (list != nullptr) {
        chan_waiter<T>* next = list->link.next;  // read before the owner may resume
        wake_now(list->g);
        list = next;
    }
}

}  // namespace ringo::detail
