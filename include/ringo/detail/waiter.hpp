// ringo/detail/waiter.hpp - the wait node of a channel operation, and the
// state a select shares between its nodes.
//
// A task that must wait on a channel links a chan_waiter into the channel's
// send or receive queue. The node lives in the awaiter, in the task's
// coroutine frame, so waiting allocates nothing.
//
// The node's state machine (all transitions under the channel's lock, except
// where said otherwise):
//
//   waiting  The owner linked the node (queued = true) after recording its
//            task with park(). Only the channel's lock holder may touch it,
//            and only to unlink it.
//   claimed  A counterpart (a sender for a receive node, a receiver for a send
//            node, or close()) unlinked it with dequeue() and, if the node
//            belongs to a select, won the select's claim (select_state::claim,
//            a CAS that exactly one party wins across all the select's nodes).
//            Only the claimer may now write the node: it moves the value
//            (src -> buffer/receiver, or sender/buffer -> *dst), or sets
//            `closed`, and records the select's winner.
//   done     The claimer calls ready(g) after it has written everything, and
//            from then on it touches nothing of the node: the owner may resume
//            on its own thread and destroy it at once.
//
// A select node whose claim fails is unlinked by whoever meets it (it lost;
// the owner's pass 3 finds it already unlinked). The owner never reads a
// node's results before it has been resumed, i.e. before `done`.
// Destroying a parked owner (runtime teardown) unlinks its nodes under the
// lock; teardown happens only when no other thread can claim them.
#pragma once

#include <atomic>
#include <optional>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>

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
    std::atomic<bool> claimed{false};
    int winner = -1;  // written by the claimer before ready(), read by the owner after

    // True for exactly one caller: the party that completes the select.
    bool claim() noexcept {
        bool expected = false;
        return !claimed.load(std::memory_order_relaxed) &&
               claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
    }
};

template <class T>
struct chan_waiter {
    // Guarded by the channel's lock.
    chan_waiter* prev = nullptr;
    chan_waiter* next = nullptr;
    bool queued = false;

    // Set by the owner before it links the node.
    goroutine* g = nullptr;
    select_state* sel = nullptr;  // null for a plain send/receive
    int case_index = 0;
    T* src = nullptr;                 // send: the value, moved from when claimed
    std::optional<T>* dst = nullptr;  // receive: where the value goes

    // Written by the claimer.
    bool closed = false;  // woken by close(): a receiver gets nothing, a sender panics
};

// FIFO of waiting nodes. Guarded by the channel's lock.
template <class T>
class wait_queue {
public:
    using node = chan_waiter<T>;

    bool empty() const noexcept { return head_ == nullptr; }

    void push_back(node* w) noexcept {
        w->next = nullptr;
        w->prev = tail_;
        if (tail_ != nullptr)
            tail_->next = w;
        else
            head_ = w;
        tail_ = w;
        w->queued = true;
    }

    void remove(node* w) noexcept {
        if (!w->queued)
            return;
        if (w->prev != nullptr)
            w->prev->next = w->next;
        else
            head_ = w->next;
        if (w->next != nullptr)
            w->next->prev = w->prev;
        else
            tail_ = w->prev;
        w->prev = w->next = nullptr;
        w->queued = false;
    }

    // Unlinks and returns the first node its caller may complete (claimed),
    // skipping and unlinking select nodes that another case already won.
    node* dequeue() noexcept {
        while (node* w = head_) {
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

private:
    node* head_ = nullptr;
    node* tail_ = nullptr;
};

inline void wake(goroutine* g) noexcept { g->home->ready(g); }

}  // namespace ringo::detail
