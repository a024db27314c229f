// ringo/semaphore.hpp - x/sync/semaphore.Weighted for tasks.
//
//   ringo::semaphore sem(4);                          // 4 permits
//   std::error_code e = co_await sem.acquire(ctx, 1); // ctx.err() if ctx is done first
//   ... // holds a permit
//   sem.release(1);
//
// Also included by ringo/sync.hpp.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <cstdint>
#include <source_location>
#include <system_error>
#include <variant>

#include <ringo/context.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/intrusive_list.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/select.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {

// A task (or a select of one) queued for permits: doubly linked into its
// semaphore's FIFO, guarded by the semaphore's lock.
struct sem_waiter {
    list_hook<sem_waiter> link;  // in the FIFO; once granted, the chain of grants to wake
    bool queued = false;
    std::int64_t n = 0;
    goroutine* g = nullptr;
    select_state* sel = nullptr;
    int case_index = 0;
};
struct sem_acquire_case;
}  // namespace detail

// x/sync/semaphore.Weighted: FIFO, so a large request is not starved by
// small ones. Thread-safe.
class semaphore {
public:
    explicit semaphore(std::int64_t n) : size_(n) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // co_await sem.acquire(ctx, n): {} once n permits are held, or ctx.err()
    // if ctx is done first - then no permit is taken. n > size can never
    // succeed: it waits only for ctx (forever for one that is never done)
    // and does not make any other acquire wait behind it.
    [[nodiscard]] task<std::error_code> acquire(context ctx, std::int64_t n = 1,
                                                std::source_location site = std::source_location::current());
    // Takes n permits without waiting; false (nothing taken) if it would wait.
    bool try_acquire(std::int64_t n = 1) noexcept;
    // Returns n permits; panic_error if more are released than are held.
    void release(std::int64_t n = 1);

private:
    friend struct detail::case_node<detail::sem_acquire_case>;
    // Guarded by lock_.
    bool try_take(std::int64_t n) noexcept;
    void push(detail::sem_waiter* w) noexcept;
    void unlink(detail::sem_waiter* w) noexcept;  // under lock_; never wakes anyone
    void regrant() noexcept;                       // lock_ not held: wakes what unlink() held back
    static void wake_granted(detail::sem_waiter* granted) noexcept;
    // Grants waiters from the front while they fit; returns them to wake.
    detail::sem_waiter* grant_locked() noexcept;

    detail::spinlock lock_;
    const std::int64_t size_;
    std::int64_t cur_ = 0;                  // guarded by lock_
    detail::intrusive_list<detail::sem_waiter, &detail::sem_waiter::link> waiters_;  // guarded by lock_
    bool regrant_pending_ = false;          // guarded by lock_: unlink() passed the head over
};

namespace detail {

// A semaphore acquisition as a select case, so that it can race ctx.done().
struct sem_acquire_case {
    using result_type = std::monostate;
    semaphore* s;
    std::int64_t n;
};

template <>
struct case_node<sem_acquire_case> {
    semaphore* s;
    sem_waiter w;

    explicit case_node(sem_acquire_case c) noexcept : s(c.s) { w.n = c.n; }
    spinlock* lock() const noexcept { return &s->lock_; }
    bool poll(goroutine*&) noexcept { return s->try_take(w.n); }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        w.g = g;
        w.sel = sel;
        w.case_index = index;
        s->push(&w);
    }
    void unlink() noexcept { s->unlink(&w); }
    std::monostate result() const noexcept { return {}; }
};

}  // namespace detail

}  // namespace ringo
