// sync primitives' out-of-line parts (see sync.hpp).
#include <ringo/sync.hpp>

#include <cstdio>
#include <exception>

#include <ringo/detail/executor.hpp>

namespace ringo {

void detail::wake_list(sync_waiter* list) noexcept {
    while (list != nullptr) {
        sync_waiter* next = list->link.next;  // read before the owner may resume
        wake_in_turn(list->g);  // FIFO: the order they waited in
        list = next;
    }
}

void wait_group::add(int n) {
    detail::sync_waiter* release = nullptr;
    {
        std::lock_guard lock(lock_);
        if (count_ + n < 0)
            throw panic_error("sync: negative WaitGroup counter");
        count_ += n;
        if (count_ == 0)
            release = waiters_.take_all();
    }
    // From here on, nothing of *this is touched: a waiter may destroy it.
    detail::wake_list(release);
}

void detail::never_awaited(const char* what) noexcept {
    std::fprintf(stderr, "ringo: %s was not awaited: the awaitable was destroyed without co_await, "
                         "so it did nothing (e.g. it was passed to std::lock_guard)\n", what);
    std::fflush(stderr);
    std::terminate();
}

// --- mutex ---

void mutex::unlock() {
    detail::sync_waiter* next;
    {
        std::lock_guard lock(lock_);
        if (!locked_)
            throw panic_error("sync: unlock of unlocked mutex");
        next = waiters_.pop_front();
        if (next == nullptr)
            locked_ = false;  // else: handed over, stays locked
    }
    if (next != nullptr)
        detail::wake_now(next->g);
}

bool mutex::acquire_or_queue(detail::sync_waiter* w) noexcept {
    std::lock_guard lock(lock_);
    if (!locked_) {
        locked_ = true;
        return true;
    }
    waiters_.push_back(w);
    w->queued_in(lock_, waiters_);  // a cond waiter moving over: it unlinks itself from here now
    return false;
}

// --- rw_mutex ---

bool rw_mutex::try_lock() noexcept {
    std::lock_guard lock(lock_);
    if (!free_for_writer())
        return false;
    writer_ = true;
    return true;
}

bool rw_mutex::try_lock_shared() noexcept {
    std::lock_guard lock(lock_);
    if (!free_for_reader())
        return false;
    ++readers_;
    return true;
}

void rw_mutex::unlock() {
    detail::sync_waiter* wake = nullptr;
    {
        std::lock_guard lock(lock_);
        if (!writer_)
            throw panic_error("sync: Unlock of unlocked RWMutex");
        writer_ = false;
        if (!readers_q_.empty()) {  // the readers that queued during the write go first
            wake = readers_q_.take_all();
            for (auto* w = wake; w != nullptr; w = w->link.next)
                ++readers_;
        } else if ((wake = writers_q_.pop_front()) != nullptr) {
            writer_ = true;
        }
    }
    detail::wake_list(wake);
}

void rw_mutex::unlock_shared() {
    detail::sync_waiter* wake = nullptr;
    {
        std::lock_guard lock(lock_);
        if (readers_ == 0)
            throw panic_error("sync: RUnlock of unlocked RWMutex");
        if (--readers_ == 0 && (wake = writers_q_.pop_front()) != nullptr) {
            writer_ = true;
        }
    }
    detail::wake_list(wake);
}

// --- cond ---

void cond::signal() {
    detail::sync_waiter* w;
    {
        std::lock_guard lock(lock_);
        w = waiters_.pop_front();
    }
    if (w != nullptr && m_.acquire_or_queue(w))  // queued: the mutex's unlock wakes it
        detail::wake_now(w->g);
}

void cond::broadcast() {
    detail::sync_waiter* list;
    {
        std::lock_guard lock(lock_);
        list = waiters_.take_all();
    }
    while (list != nullptr) {
        detail::sync_waiter* next = list->link.next;
        if (m_.acquire_or_queue(list))
            detail::wake_now(list->g);
        list = next;
    }
}

// --- once ---

void once::finish(bool ok) noexcept {
    detail::sync_waiter* wake;
    {
        std::lock_guard lock(lock_);
        if (ok) {
            state_ = state::done;
            done_.store(true, std::memory_order_release);
            wake = waiters_.take_all();
        } else if ((wake = waiters_.pop_front()) != nullptr) {
            wake->flag = true;  // its turn: state stays running
        } else {
            state_ = state::idle;
        }
    }
    detail::wake_list(wake);
}

}  // namespace ringo
