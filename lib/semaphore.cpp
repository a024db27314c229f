// x/sync/semaphore (see semaphore.hpp).
#include <ringo/semaphore.hpp>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/parked_as.hpp>
#include <ringo/errors.hpp>

namespace ringo {

bool semaphore::try_take(std::int64_t n) noexcept {
    if (!waiters_.empty() || size_ - cur_ < n)
        return false;  // FIFO: nobody overtakes a waiter
    cur_ += n;
    return true;
}

bool semaphore::try_acquire(std::int64_t n) noexcept {
    std::lock_guard lock(lock_);
    return try_take(n);
}

void semaphore::push(detail::sem_waiter* w) noexcept {
    waiters_.push_back(w);
    w->queued = true;
}

void semaphore::unlink(detail::sem_waiter* w) noexcept {
    if (!w->queued)
        return;
    // A cancelled head may have been holding back smaller requests: the
    // cancelled acquire grants them once the lock is released (regrant()).
    regrant_pending_ = regrant_pending_ || w == waiters_.front();
    waiters_.remove(w);
    w->queued = false;
}

void semaphore::regrant() noexcept {
    detail::sem_waiter* granted;
    {
        std::lock_guard lock(lock_);
        if (!regrant_pending_)
            return;
        regrant_pending_ = false;
        granted = grant_locked();
    }
    wake_granted(granted);
}

void semaphore::wake_granted(detail::sem_waiter* granted) noexcept {
    while (granted != nullptr) {
        detail::sem_waiter* next = granted->link.next;  // read before the owner may resume
        detail::wake_in_turn(granted->g);  // FIFO: grants resume in the order they queued
        granted = next;
    }
}

detail::sem_waiter* semaphore::grant_locked() noexcept {
    detail::sem_waiter* granted = nullptr;
    detail::sem_waiter** tail = &granted;
    while (detail::sem_waiter* w = waiters_.front()) {
        if (size_ - cur_ < w->n)
            break;  // FIFO: the head waits for room, and so does everyone behind it
        waiters_.remove(w);
        w->queued = false;
        if (w->sel != nullptr && !w->sel->claim())
            continue;  // its select already completed otherwise (ctx done)
        if (w->sel != nullptr)
            w->sel->winner = w->case_index;
        cur_ += w->n;
        *tail = w;  // removed: its link.next is null
        tail = &w->link.next;
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
    wake_granted(granted);
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
    using acquire_case = detail::parked_as<detail::sem_acquire_case, detail::task_state::semaphore>;
    detail::select_awaiter<false, acquire_case, detail::recv_case<std::monostate>> s(
        site, acquire_case{detail::sem_acquire_case{this, n}}, detail::recv_case<std::monostate>{detail::state_of(done)});
    auto r = co_await s;
    if (r.index() == 0)
        co_return std::error_code();
    regrant();  // our unlinked wait may have been holding others back
    co_return ctx.err();
}

}  // namespace ringo
