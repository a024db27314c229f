// sync primitives' out-of-line parts.
#include <ringo/sync.hpp>

#include <ringo/detail/executor.hpp>

namespace ringo {

void detail::wake_list(sync_waiter* list) noexcept {
    while (list != nullptr) {
        sync_waiter* next = list->next;  // read before the owner may resume
        list->g->home->ready_last(list->g);  // FIFO: the order they waited in
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

}  // namespace ringo

namespace ringo {

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
        next->g->home->ready(next->g);
}

bool mutex::acquire_or_queue(detail::sync_waiter* w) noexcept {
    std::lock_guard lock(lock_);
    if (!locked_) {
        locked_ = true;
        return true;
    }
    waiters_.push_back(w);
    return false;
}

void mutex::forget(detail::sync_waiter* w) noexcept {
    std::lock_guard lock(lock_);
    waiters_.remove(w);
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
            for (auto* w = wake; w != nullptr; w = w->next)
                ++readers_;
        } else if ((wake = writers_q_.pop_front()) != nullptr) {
            wake->next = nullptr;
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
            wake->next = nullptr;
            writer_ = true;
        }
    }
    detail::wake_list(wake);
}

void rw_mutex::forget(detail::sync_waiter* w, bool exclusive) noexcept {
    std::lock_guard lock(lock_);
    (exclusive ? writers_q_ : readers_q_).remove(w);
}

// --- cond ---

void cond::signal() {
    detail::sync_waiter* w;
    {
        std::lock_guard lock(lock_);
        w = waiters_.pop_front();
    }
    if (w != nullptr && m_.acquire_or_queue(w))  // queued: the mutex's unlock wakes it
        w->g->home->ready(w->g);
}

void cond::broadcast() {
    detail::sync_waiter* list;
    {
        std::lock_guard lock(lock_);
        list = waiters_.take_all();
    }
    while (list != nullptr) {
        detail::sync_waiter* next = list->next;
        if (m_.acquire_or_queue(list))
            list->g->home->ready(list->g);
        list = next;
    }
}

void cond::forget(detail::sync_waiter* w) noexcept {
    {
        std::lock_guard lock(lock_);
        if (waiters_.remove(w))
            return;
    }
    m_.forget(w);
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
            wake->next = nullptr;
            wake->flag = true;  // its turn: state stays running
        } else {
            state_ = state::idle;
        }
    }
    detail::wake_list(wake);
}

void once::forget(detail::sync_waiter* w) noexcept {
    std::lock_guard lock(lock_);
    waiters_.remove(w);
}

// --- semaphore ---

bool semaphore::try_take(std::int64_t n) noexcept {
    if (head_ != nullptr || size_ - cur_ < n)
        return false;  // FIFO: nobody overtakes a waiter
    cur_ += n;
    return true;
}

bool semaphore::try_acquire(std::int64_t n) noexcept {
    std::lock_guard lock(lock_);
    return try_take(n);
}

void semaphore::push(detail::sem_waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    (tail_ != nullptr ? tail_->next : head_) = w;
    tail_ = w;
    w->queued = true;
}

void semaphore::unlink(detail::sem_waiter* w) noexcept {
    if (!w->queued)
        return;
    bool was_head = w == head_;
    (w->prev != nullptr ? w->prev->next : head_) = w->next;
    (w->next != nullptr ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
    w->queued = false;
    if (was_head) {  // a cancelled head may have been holding back smaller requests
        for (detail::sem_waiter* g = grant_locked(); g != nullptr;) {
            detail::sem_waiter* next = g->next;
            g->g->home->ready(g->g);
            g = next;
        }
    }
}

detail::sem_waiter* semaphore::grant_locked() noexcept {
    detail::sem_waiter* granted = nullptr;
    detail::sem_waiter** tail = &granted;
    while (detail::sem_waiter* w = head_) {
        if (size_ - cur_ < w->n)
            break;  // FIFO: the head waits for room, and so does everyone behind it
        head_ = w->next;
        (head_ != nullptr ? head_->prev : tail_) = nullptr;
        w->queued = false;
        if (w->sel != nullptr && !w->sel->claim())
            continue;  // its select already completed otherwise (ctx done)
        if (w->sel != nullptr)
            w->sel->winner = w->case_index;
        cur_ += w->n;
        w->next = nullptr;
        *tail = w;
        tail = &w->next;
    }
    return granted;
}

void semaphore::release(std::int64_t n) {
    detail::sem_waiter* granted;
    {
        std::lock_guard lock(lock_);
        if (n < 0 || cur_ - n < 0)
            throw panic_error("semaphore: released more than held");
        cur_ -= n;
        granted = grant_locked();
    }
    while (granted != nullptr) {
        detail::sem_waiter* next = granted->next;
        granted->g->home->ready_last(granted->g);
        granted = next;
    }
}

task<std::error_code> semaphore::acquire(context ctx, std::int64_t n, std::source_location site) {
    if (std::error_code e = ctx.err())
        co_return e;
    recv_chan<std::monostate> done = ctx.done();
    if (n > size_) {
        // Doomed: never queued, so no other acquire waits behind it (x/sync).
        (void)co_await done.recv(site);
        co_return ctx.err();
    }
    if (try_acquire(n))
        co_return std::error_code();
    detail::select_awaiter<false, detail::sem_acquire_case, detail::recv_case<std::monostate>> s(
        site, detail::sem_acquire_case{this, n}, detail::recv_case<std::monostate>{detail::state_of(done)});
    auto r = co_await s;
    co_return r.index() == 0 ? std::error_code() : ctx.err();
}

}  // namespace ringo
