// ringo/detail/sync_waiter.hpp - the wait node of the sync primitives
// (wait_group, mutex, rw_mutex, cond, once, singleflight, errgroup) and the
// FIFO they park it in.
//
// A parked task's awaiter holds one sync_waiter, so waiting allocates
// nothing. The node lives in the awaiter (the task's frame); a primitive
// links it into one of its sync_queues under the primitive's lock, and a
// waker takes it out under that lock before handing node.g to the executor.
// The node remembers which queue and lock it was last queued under, so that
// an awaiter destroyed while still queued (the runtime destroying a parked
// task at teardown) unlinks itself: no awaiter repeats that code.
#pragma once

#include <coroutine>
#include <mutex>
#include <source_location>
#include <utility>

#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/spinlock.hpp>

namespace ringo::detail {

class sync_queue;

// A parked task in a primitive's FIFO. `next` and `flag` are guarded by the
// lock of the queue the node is in; `g` is written by the owner before it
// queues the node and read by the waker.
struct sync_waiter {
    sync_waiter* next = nullptr;
    goroutine* g = nullptr;
    bool flag = false;  // a primitive-specific verdict set by the waker (once: "your turn to run")

    sync_waiter() = default;
    sync_waiter(const sync_waiter&) = delete;
    sync_waiter& operator=(const sync_waiter&) = delete;
    // Unlinks the node if it is still queued (see unlink()).
    ~sync_waiter() { unlink(); }

    // Parks the current task (as park() does) and queues this node at the
    // back of q. The caller holds lock, the lock guarding q.
    void park_in(std::coroutine_handle<> h, task_state state, const std::source_location& site, const char* what,
                 spinlock& lock, sync_queue& q);
    // Records that the node is now in q, guarded by lock (the caller holds
    // lock and has linked the node itself, e.g. sorted, or moved it there).
    void queued_in(spinlock& lock, sync_queue& q) noexcept {
        lock_ = &lock;
        queue_ = &q;
    }
    // The owner, on resuming: a waker has taken the node out of its queue.
    void dequeued() noexcept { queue_ = nullptr; }
    // The owner: if the node may still be queued, removes it under its lock.
    inline void unlink() noexcept;

private:
    spinlock* lock_ = nullptr;     // the lock guarding queue_
    sync_queue* queue_ = nullptr;  // where the node was last queued; null when not queued
};

// A FIFO of sync_waiters (singly linked; guarded by its primitive's lock).
class sync_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    void push_back(sync_waiter* w) noexcept {
        w->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = w;
        tail_ = w;
    }
    void push_front(sync_waiter* w) noexcept {
        w->next = head_;
        head_ = w;
        if (tail_ == nullptr)
            tail_ = w;
    }
    // Inserts w after every waiter not greater than it (stable, O(1) when w is last).
    template <class Less>
    void insert_sorted(sync_waiter* w, Less less) noexcept {
        if (tail_ == nullptr || !less(w, tail_)) {
            push_back(w);
            return;
        }
        sync_waiter** link = &head_;
        while (*link != nullptr && !less(w, *link))
            link = &(*link)->next;
        w->next = *link;
        *link = w;
    }
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = head_;
        if (w != nullptr && (head_ = w->next) == nullptr)
            tail_ = nullptr;
        return w;
    }
    // Takes the whole queue (to wake after unlocking).
    sync_waiter* take_all() noexcept {
        tail_ = nullptr;
        return std::exchange(head_, nullptr);
    }
    bool remove(sync_waiter* w) noexcept {
        sync_waiter* prev = nullptr;
        for (sync_waiter* it = head_; it != nullptr; prev = it, it = it->next)
            if (it == w) {
                (prev != nullptr ? prev->next : head_) = w->next;
                if (tail_ == w)
                    tail_ = prev;
                return true;
            }
        return false;
    }

private:
    sync_waiter* head_ = nullptr;
    sync_waiter* tail_ = nullptr;
};

inline void sync_waiter::park_in(std::coroutine_handle<> h, task_state state, const std::source_location& site,
                                 const char* what, spinlock& lock, sync_queue& q) {
    g = park(h, state, site, what);
    q.push_back(this);
    queued_in(lock, q);
}

inline void sync_waiter::unlink() noexcept {
    if (queue_ == nullptr)
        return;
    std::lock_guard guard(*lock_);
    queue_->remove(this);  // false if a waker took it and the owner never resumed
    queue_ = nullptr;
}

// Wakes every waiter of a list taken with take_all(), in list order, each
// after the tasks already runnable (lib/sync.cpp).
void wake_list(sync_waiter* list) noexcept;

}  // namespace ringo::detail
