// ringo/detail/waiter.hpp - the wait node of a channel operation, and the
// state a select shares between its nodes.
//
// A task that must wait on a channel links a chan_waiter into the channel's
// send or receive queue. The node lives in the awaiter, in the task's
// coroutine frame, so waiting allocates nothing.
//
// The node's state machine (transitions under the channel's lock, except
// `done`):
//
//   waiting  The owner recorded its task with park(), then linked the node
//            (push_back sets queued). Others holding the channel's lock may
//            only claim it (below) or unlink it.
//   claimed  A counterpart (a sender for a receive node, a receiver for a send
//            node, or close()) unlinked it with dequeue() and, if the node
//            belongs to a select, won the select's claim (select_state::claim,
//            a CAS that exactly one party wins across all the select's nodes)
//            and recorded the select's winner. Only the claimer may now write
//            the node: it moves the value (src -> buffer/receiver, or
//            sender/buffer -> *dst), or sets `closed` or `error`, and takes
//            the task to wake (g).
//   done     After releasing the lock, the claimer calls wake_now(g), and from
//            then on touches nothing of the node (close() reads `next` first):
//            the owner may resume on its own thread and destroy it at once.
//
// When T's move constructor may throw, a counterpart moves the value while the
// node is still `waiting` and queued (dequeue_with): a select's claim is first
// only reserved (select_state::reserve), so that no other case can win while
// the value moves, then made final, or given back if the move threw - the
// node then stays `waiting` as if nobody had met it.
//
// A select node whose claim fails (another case won) stays queued until
// whoever meets it under the lock unlinks it, or the owner's pass 3 does. The
// owner never reads a node's results before it has been resumed, i.e. before
// `done`. Destroying a parked owner (runtime teardown) unlinks its nodes
// under the lock; teardown happens only when no other thread can claim them.
//
// select_state is also what a select's semaphore and I/O cases share with
// their own wait nodes (sync.hpp, io_op.hpp): the same claim decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/intrusive_list.hpp>

namespace ringo::detail {

// Test hooks: null in normal use (one predictable branch). Tests set them
// before run() to pause a party at a chosen point of the state machine.
struct test_hooks {
    // Called by a party that has just claimed a select node, with the
    // channel's lock held, before it writes the value and wakes the owner.
    static inline void (*after_claim)() = nullptr;
};

// Shared by the nodes of one select. Any thread.
struct select_state {
    enum class claim_state : std::uint8_t {
        waiting,   // no case has completed yet
        reserved,  // a counterpart is moving a value into or out of one node (held
                   // for one move construction, under that node's channel lock)
        won,       // final: the case `winner` completed the select
    };
    std::atomic<claim_state> state{claim_state::waiting};
    int winner = -1;  // written by the claimer before ready(), read by the owner after

    // True for exactly one caller: the party that completes the select.
    // Waits out a reservation (another channel's lock holder, mid-move).
    bool claim() noexcept { return acquire(claim_state::won); }

    // Reserves the claim (waiting -> reserved); false once won. The caller then
    // either commit()s or cancel_reservation()s, holding its channel's lock.
    bool reserve() noexcept { return acquire(claim_state::reserved); }
    void commit() noexcept { state.store(claim_state::won, std::memory_order_release); }
    void cancel_reservation() noexcept { state.store(claim_state::waiting, std::memory_order_release); }

private:
    bool acquire(claim_state to) noexcept {
        claim_state s = state.load(std::memory_order_relaxed);
        for (unsigned spins = 0;; ++spins) {
            if (s == claim_state::won)
                return false;
            if (s == claim_state::waiting) {
                if (state.compare_exchange_weak(s, to, std::memory_order_acq_rel, std::memory_order_relaxed))
                    return true;
                continue;
            }
            // Reserved: the holder finishes one move construction and never
            // waits for a lock, so this wait is short and cannot deadlock.
            if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                std::this_thread::yield();
            }
            s = state.load(std::memory_order_relaxed);
        }
    }
};

// True when handing a T over cannot throw: the hot paths then take no
// reservation and keep no exception.
template <class T>
inline constexpr bool nothrow_hand_off = std::is_nothrow_move_constructible_v<T>;

struct no_error {};

template <class T>
struct chan_waiter {
    // Guarded by the channel's lock.
    list_hook<chan_waiter> link;  // on the channel's sendq or recvq; once dequeued, the wake list's
    bool queued = false;

    // Set by the owner before it links the node.
    goroutine* g = nullptr;
    select_state* sel = nullptr;  // null for a plain send/receive
    int case_index = 0;
    T* src = nullptr;                 // send: the value, moved from when claimed
    std::optional<T>* dst = nullptr;  // receive: where the value goes

    // Written by the claimer.
    bool closed = false;  // woken by close(): a receiver gets nothing, a sender panics
    // A send node: the exception thrown by T's move constructor when a receiver
    // took a buffered value and this sender's value could not join the buffer
    // (see chan.hpp). Only for T whose move may throw.
    [[no_unique_address]] std::conditional_t<nothrow_hand_off<T>, no_error, std::exception_ptr> error{};

    // The owner, once resumed: rethrows `error`, if any.
    void rethrow_error() const {
        if constexpr (!nothrow_hand_off<T>) {
            if (error)
                std::rethrow_exception(error);
        }
    }
};

// FIFO of waiting nodes. Guarded by the channel's lock.
template <class T>
class wait_queue {
public:
    using node = chan_waiter<T>;

    bool empty() const noexcept { return list_.empty(); }
    node* front() const noexcept { return list_.front(); }
    // Without the lock: whether the queue was empty at the moment of the
    // load (chan_state's readiness probes).
    bool probably_empty() const noexcept { return !nonempty_.load(std::memory_order_acquire); }

    void push_back(node* w) noexcept {
        list_.push_back(w);
        w->queued = true;
        nonempty_.store(true, std::memory_order_relaxed);
    }

    void remove(node* w) noexcept {
        if (!w->queued)
            return;
        list_.remove(w);
        w->queued = false;
        if (list_.empty())
            nonempty_.store(false, std::memory_order_relaxed);
    }

    // Unlinks and returns the first node its caller may complete (claimed),
    // skipping and unlinking select nodes that another case already won.
    node* dequeue() noexcept { return list_.empty() ? nullptr : dequeue_nonempty(); }

    // As dequeue(), and hands the value over with write(node) (a move
    // construction) before returning the node. If write throws, the node stays
    // queued and unclaimed - as if it had not been met - and the exception
    // propagates. For nothrow T this is dequeue() then write().
    template <class Write>
    node* dequeue_with(Write&& write) noexcept(nothrow_hand_off<T>) {
        if constexpr (nothrow_hand_off<T>) {
            node* w = dequeue();
            if (w != nullptr)
                write(w);
            return w;
        } else {
            while (node* w = list_.front()) {
                if (w->sel == nullptr) {
                    write(w);
                    remove(w);
                    return w;
                }
                if (!w->sel->reserve()) {  // another case won: skip it
                    remove(w);
                    continue;
                }
                if (test_hooks::after_claim != nullptr) [[unlikely]]
                    test_hooks::after_claim();
                try {
                    write(w);
                } catch (...) {
                    w->sel->cancel_reservation();
                    throw;
                }
                w->sel->winner = w->case_index;
                w->sel->commit();
                remove(w);
                return w;
            }
            return nullptr;
        }
    }

private:
    // dequeue() past its inline emptiness test (kept small so that the
    // common "nobody waits" case inlines into every send and receive).
    node* dequeue_nonempty() noexcept {
        while (node* w = list_.front()) {
            remove(w);
            if (w->sel == nullptr || w->sel->claim()) {
                if (w->sel != nullptr) {
                    w->sel->winner = w->case_index;
                    if (test_hooks::after_claim != nullptr) [[unlikely]]
                        test_hooks::after_claim();
                }
                return w;
            }
        }
        return nullptr;
    }

    intrusive_list<node, &node::link> list_;
    std::atomic<bool> nonempty_{false};  // mirrors !list_.empty(), written under the lock
};

}  // namespace ringo::detail
