// ringo/errgroup.hpp - x/sync/errgroup: a group of tasks working on parts of
// one job, with the first error, an optional shared context, and a limit.
//
//   ringo::errgroup g(ctx);                        // or ringo::errgroup g; (no context)
//   g.set_limit(8);                                // at most 8 running at once
//   for (auto& url : urls)
//       g.go([url, ctx = g.get_context()]() -> ringo::task<std::error_code> { ... });
//   std::error_code err = co_await g.wait();       // the first error, if any
//
//   auto job = [url]() -> ringo::task<std::error_code> { ... };
//   co_await g.go_wait(job);                       // Go's blocking g.Go: waits for a slot, then starts job
//
// g++ 12 destroys a capturing lambda written inside a co_await expression
// twice, so go_wait() takes a named callable (an lvalue) and moves from it
// when it starts it; go() and try_go() are plain calls and take any callable.
//
// Exceptions thrown by the tasks are captured (Go's recover), cancel the
// group's context, and are rethrown by wait() if one was the first failure.
// The group's state is shared with its tasks: destroying the errgroup before
// wait() leaves them running safely. Thread-safe.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

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
#include <ringo/detail/invoke.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/sync_waiter.hpp>
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
    cancel_cause_func cancel;  // its cause is the first error

    // Records a failure; cancels the context on the first one, with the
    // error as its cause (an exception: its code() if it is a
    // std::system_error, else errc::canceled).
    void fail(std::error_code e, std::exception_ptr x) noexcept;
    // A task ends: releases its slot and, for the last one, the waiters.
    void finish() noexcept;
};

// co_await: the slot of ticket t (a task started with go() at the limit,
// or go_wait()). site is the user's go()/go_wait() call, for the task dump.
struct slot_awaiter {
    errgroup_state& st;
    std::uint64_t ticket;
    std::source_location site;
    const char* what;
    struct ticket_waiter : sync_waiter {
        std::uint64_t ticket = 0;
    } node;  // unlinks itself if destroyed while queued
    slot_awaiter(errgroup_state& s, std::uint64_t t, std::source_location at, const char* call) noexcept
        : st(s), ticket(t), site(at), what(call) {}
    slot_awaiter(const slot_awaiter&) = delete;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept { node.dequeued(); }
};

inline constexpr std::uint64_t no_ticket = ~std::uint64_t(0);

// co_await: the slot of ticket t, for the current task started by go():
// parked at its go() call. A task of its own, so that only the tasks that
// wait carry a slot_awaiter in a frame (lib/errgroup.cpp).
task<void> wait_for_ticket(errgroup_state& st, std::uint64_t ticket);

// The body of a group task: waits for its slot (ticket != no_ticket), then
// runs f and records its failure.
template <class F>
root errgroup_body(std::shared_ptr<errgroup_state> st, std::uint64_t ticket, F f) {
    if (ticket != no_ticket)
        co_await wait_for_ticket(*st, ticket);
    try {
        if constexpr (std::is_same_v<awaited_result_t<F>, std::error_code>) {
            std::error_code e = co_await invoke_awaited(f);
            if (e)
                st->fail(e, nullptr);
        } else {
            (void)co_await invoke_awaited(f);
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
    // the first failure or when wait() returns. Its cause() is the first
    // error, as x/sync's WithCancelCause makes it (errc::canceled if wait()
    // returned without one).
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
    // Throws panic_error outside run().
    template <class F>
    void go(F f, std::source_location site = std::source_location::current()) {
        (void)detail::current_executor("ringo::errgroup::go");
        detail::spawn(detail::errgroup_body(st_, start(), std::move(f)), site);
    }

    // Starts f only if a slot is free now; false (f not started) otherwise.
    template <class F>
    bool try_go(F f, std::source_location site = std::source_location::current()) {
        (void)detail::current_executor("ringo::errgroup::try_go");
        if (!start_if_free())
            return false;
        detail::spawn(detail::errgroup_body(st_, detail::no_ticket, std::move(f)), site);
        return true;
    }

    // co_await g.go_wait(f): Go's blocking Go - waits until f can run
    // without exceeding the limit (its turn in the same FIFO as go()'s
    // queued tasks), then starts it holding that slot, and returns. f is a
    // named callable, moved from when it starts (left alone if the waiting
    // task is destroyed first):
    //   auto job = [&]() -> ringo::task<std::error_code> { ... };
    //   co_await g.go_wait(job);
    // A temporary lambda written inside the co_await does not compile (g++
    // 12 would destroy it twice); plain function pointers and captureless
    // lambdas, which have nothing to destroy, may be passed as temporaries.
    template <class F>
    [[nodiscard]] auto go_wait(F&& f, std::source_location site = std::source_location::current()) {
        static_assert(std::is_lvalue_reference_v<F> || std::is_trivially_destructible_v<std::remove_cvref_t<F>>,
                      "errgroup::go_wait: bind the callable to a named local first "
                      "(auto job = [..]() -> ringo::task<> {..}; co_await g.go_wait(job);)");
        return go_waiter<F>(*this, std::forward<F>(f), site);
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
    // co_await g.go_wait(f). Refers to the caller's f (or holds a copy of a
    // trivially destructible one: a function pointer, a captureless lambda).
    template <class F>
    struct [[nodiscard]] go_waiter {
        using G = std::decay_t<F>;
        using stored = std::conditional_t<std::is_lvalue_reference_v<F> && !std::is_trivially_destructible_v<G>, F, G>;

        errgroup& g;
        stored f;
        detail::slot_awaiter slot;

        template <class U>
        go_waiter(errgroup& group, U&& fn, std::source_location site)
            : g(group), f(std::forward<U>(fn)), slot(*group.st_, detail::no_ticket, site, "ringo::errgroup::go_wait") {}
        go_waiter(const go_waiter&) = delete;
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            (void)detail::current_executor("ringo::errgroup::go_wait");
            slot.ticket = g.start();
            return slot.ticket != detail::no_ticket && slot.await_suspend(h);
        }
        void await_resume() {
            slot.await_resume();  // the slot is ours
            detail::spawn(detail::errgroup_body(g.st_, detail::no_ticket, G(std::move(f))), slot.site);
        }
    };

    struct [[nodiscard]] waiter {
        detail::errgroup_state& st;
        std::source_location site;
        bool for_slot;
        detail::sync_waiter node;  // unlinks itself if destroyed while queued

        waiter(detail::errgroup_state& s, std::source_location at, bool slot) : st(s), site(at), for_slot(slot) {}
        waiter(const waiter&) = delete;
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
