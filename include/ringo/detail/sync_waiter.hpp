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
#include <ringo/detail/intrusive_list.hpp>
#include <ringo/detail/spinlock.hpp>

namespace ringo::detail {

class sync_queue;

// A parked task in a primitive's FIFO. `link`, `in_queue` and `flag` are
// guarded by the lock of the queue the node is in; `g` is written by the
// owner before it queues the node and read by the waker. Once a waker took
// the node out, link.next chains the nodes it will wake (take_all()).
struct sync_waiter {
    list_hook<sync_waiter> link;
    bool in_queue = false;  // on a sync_queue (false once a waker took it)
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

// A FIFO of sync_waiters (the one intrusive list; guarded by its
// primitive's lock).
class sync_queue {
public:
    bool empty() const noexcept { return list_.empty(); }
    void push_back(sync_waiter* w) noexcept {
        list_.push_back(w);
        w->in_queue = true;
    }
    void push_front(sync_waiter* w) noexcept {
        list_.push_front(w);
        w->in_queue = true;
    }
    // Inserts w after every waiter not greater than it (stable, O(1) when w
    // goes last, as it usually does).
    template <class Less>
    void insert_sorted(sync_waiter* w, Less less) noexcept {
        sync_waiter* pos = list_.front();
        while (pos != nullptr && !less(w, pos))
            pos = list::next(pos);
        list_.insert_before(pos, w);
        w->in_queue = true;
    }
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = list_.pop_front();
        if (w != nullptr)
            w->in_queue = false;
        return w;
    }
    // Takes the whole queue, as a chain through link.next (to wake after
    // unlocking).
    sync_waiter* take_all() noexcept {
        sync_waiter* chain = list_.take_all();
        for (sync_waiter* w = chain; w != nullptr; w = list::next(w))
            w->in_queue = false;
        return chain;
    }
    // False if a waker took it already.
    bool remove(sync_waiter* w) noexcept {
        if (!w->in_queue)
            return false;
        list_.remove(w);
        w->in_queue = false;
        return true;
    }

private:
    using list = intrusive_list<sync_waiter, &sync_waiter::link>;
    list list_;
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
