// ringo/errgroup.hpp - x/sync/errgroup: a group of tasks working on parts of
// one job, with the first error, an optional shared context, and a limit.
//
//   ringo::errgroup g(ctx);                        // or ringo::errgroup g; (no context)
//   g.set_limit(8);                                // at most 8 running at once
//   for (auto& url : urls)
//       g.go([url, ctx = g.get_context()]() -> ringo::task<std::error_code> { ... });
//   std::error_code err = co_await g.wait();       // the first error, if any
//
// Exceptions thrown by the tasks are captured (Go's recover), cancel the
// group's context, and are rethrown by wait() if one was the first failure.
// The group's state is shared with its tasks: destroying the errgroup before
// wait() leaves them running safely. Thread-safe.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <system_error>
#include <type_traits>
#include <utility>

#include <ringo/context.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/sync.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {

// The state an errgroup shares with its tasks. Fields guarded by lock.
struct errgroup_state {
    spinlock lock;
    int active = 0;           // started and not finished (running + waiting for a slot)
    int running = 0;          // holding a slot
    int limit = -1;           // < 0: none
    // Slots go to tasks in go() order: each task that must wait gets a
    // ticket; tickets below next_grant hold a slot.
    std::uint64_t tickets = 0;
    std::uint64_t next_grant = 0;
    bool failed = false;
    std::error_code err;      // the first error...
    std::exception_ptr exc;   // ...or the first exception
    sync_queue slot_waiters;  // tasks parked for a slot, in ticket order
    sync_queue waiters;       // wait() callers
    sync_queue space_waiters; // wait_for_slot() callers
    std::optional<context> ctx;
    cancel_func cancel;

    // Records a failure; cancels the context on the first one.
    void fail(std::error_code e, std::exception_ptr x) noexcept;
    // A task ends: releases its slot and, for the last one, the waiters.
    void finish() noexcept;
};

// co_await: the slot of ticket t (a task started with go() at the limit).
struct slot_awaiter {
    errgroup_state& st;
    std::uint64_t ticket;
    struct ticket_waiter : sync_waiter {
        std::uint64_t ticket = 0;
    } node;
    bool queued = false;
    slot_awaiter(errgroup_state& s, std::uint64_t t) noexcept : st(s), ticket(t) {}
    slot_awaiter(const slot_awaiter&) = delete;
    ~slot_awaiter();
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept { queued = false; }
};

inline constexpr std::uint64_t no_ticket = ~std::uint64_t(0);

template <class F>
root errgroup_body(std::shared_ptr<errgroup_state> st, std::uint64_t ticket, F f) {
    if (ticket != no_ticket) {
        slot_awaiter slot(*st, ticket);
        co_await slot;
    }
    try {
        using R = std::invoke_result_t<F&>;
        if constexpr (is_task_v<R>) {
            R t = std::invoke(f);
            if constexpr (std::is_same_v<typename R::value_type, std::error_code>) {
                std::error_code e = co_await std::move(t);
                if (e)
                    st->fail(e, nullptr);
            } else {
                co_await std::move(t);
            }
        } else if constexpr (std::is_same_v<R, std::error_code>) {
            if (std::error_code e = std::invoke(f))
                st->fail(e, nullptr);
        } else {
            std::invoke(f);
        }
    } catch (...) {
        st->fail({}, std::current_exception());
    }
    st->finish();
}

}  // namespace detail

class errgroup {
public:
    // The zero value: no context, no limit.
    errgroup();
    // errgroup.WithContext: get_context() is a child of parent, cancelled by
    // the first failure or when wait() returns.
    explicit errgroup(context parent);
    errgroup(errgroup&&) noexcept = default;
    errgroup& operator=(errgroup&&) noexcept = default;
    errgroup(const errgroup&) = delete;
    errgroup& operator=(const errgroup&) = delete;

    // The group's context (background() for the zero value).
    context get_context() const;

    // At most n tasks run at once (n < 0: no limit). Throws panic_error if
    // tasks are active, as Go does.
    void set_limit(int n);

    // Starts f (moved into the new task's frame) now. f returns
    // task<std::error_code>, task<void>, std::error_code or void. With the
    // limit reached, go() still returns at once and f waits for a slot, FIFO.
    template <class F>
    void go(F f, std::source_location site = std::source_location::current()) {
        detail::spawn(detail::errgroup_body(st_, start(), std::move(f)), site);
    }

    // Starts f only if a slot is free now; false (f not started) otherwise.
    template <class F>
    bool try_go(F f, std::source_location site = std::source_location::current()) {
        if (!start_if_free())
            return false;
        detail::spawn(detail::errgroup_body(st_, detail::no_ticket, std::move(f)), site);
        return true;
    }

    // co_await g.wait_for_slot(): until fewer than limit tasks are active
    // (running or queued) - Go's blocking Go(), as backpressure.
    [[nodiscard]] auto wait_for_slot(std::source_location site = std::source_location::current()) {
        return waiter(*st_, site, true);
    }

    // co_await g.wait(): until every task has finished; the first error, or
    // rethrows the first exception if that was the first failure.
    [[nodiscard]] auto wait(std::source_location site = std::source_location::current()) {
        return waiter(*st_, site, false);
    }

private:
    struct [[nodiscard]] waiter {
        detail::errgroup_state& st;
        std::source_location site;
        bool for_slot;
        detail::sync_waiter node;
        bool queued = false;

        waiter(detail::errgroup_state& s, std::source_location at, bool slot) : st(s), site(at), for_slot(slot) {}
        waiter(const waiter&) = delete;
        ~waiter();
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h);
        std::error_code await_resume();
    };

    // Counts a new task in: takes a free slot (no_ticket) or a ticket to wait with.
    std::uint64_t start();
    // Counts a new task in only if it can take a slot now.
    bool start_if_free();

    std::shared_ptr<detail::errgroup_state> st_;
};

}  // namespace ringo
