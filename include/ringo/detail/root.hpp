// ringo/detail/root.hpp - the root coroutine of a goroutine.
//
// go() and run() wrap the user's task (or callable) in a root coroutine whose
// promise holds the goroutine record. The callable and its arguments are
// parameters of the root, so they live in its frame for as long as the task
// runs. The root frees itself when the task ends; the executor destroys the
// roots still alive at shutdown.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <source_location>
#include <type_traits>
#include <utility>

#include <ringo/detail/frame_alloc.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/invoke.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {

struct root_promise;
using root_handle = std::coroutine_handle<root_promise>;

// A root coroutine not yet spawned; spawn() takes it.
class [[nodiscard]] root {
public:
    using promise_type = root_promise;
    explicit root(root_handle h) noexcept : h_(h) {}
    root(root&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    root& operator=(root&&) = delete;
    ~root() {
        if (h_)
            h_.destroy();
    }
    root_handle release() noexcept { return std::exchange(h_, {}); }

private:
    root_handle h_;
};

// A task escaped with an exception: Go's panic (lib/runtime.cpp).
void on_panic(goroutine& g, std::exception_ptr e) noexcept;

struct root_promise : frame_allocated {
    goroutine g;

    ~root_promise();  // unregisters g from its executor (lib/runtime.cpp)

    root get_return_object() noexcept { return root{root_handle::from_promise(*this)}; }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(root_handle h) const noexcept { h.destroy(); }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { on_panic(g, std::current_exception()); }
};

// Registers the root's task on the current executor (or the runtime's
// placement choice) and queues it. Throws panic_error outside run().
void spawn(root r, const std::source_location& site);
// The same, on executor ex, from any thread (the task joins ex's registry
// at once, so num_tasks() counts it when this returns).
void spawn_on(executor& ex, root r, const std::source_location& site);

template <class F, class... A>
inline constexpr bool spawnable_v = [] {
    if constexpr (is_task_v<F>)
        return sizeof...(A) == 0;
    else
        return std::is_invocable_v<F&, A...>;
}();

// The body of a spawned task: owns f and its arguments for the task's life.
//
// g++ 12 gives the coroutine frame of root_body<F> (a type defined in this
// header) a field of F's type; when F is a lambda declared inside another
// coroutine, that type has no linkage and g++ warns (-Wsubobject-linkage)
// in the user's build. The frame never crosses translation units, so the
// warning is moot: silenced here so that users' -Werror builds stay clean.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif
template <class F, class... A>
root root_body(F f, A... a) {
    if constexpr (is_task_v<F>)
        co_await std::move(f);
    else
        co_await invoke_awaited(f, a...);  // a result is discarded
    co_return;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Placement hooks for tests and benchmarks (not API): the number of
// executors of the running runtime, and executor i % executors(). Any task.
unsigned executor_count();
executor& executor_at(unsigned i);
// Starts f as a task on executor i % executor_count(), pinned there for
// life: work stealing never moves it. Tests use it to put tasks on two
// executors for certain.
void spawn_pinned(executor& ex, root r, const std::source_location& site);
template <class F>
void go_pinned(unsigned i, F f, std::source_location site = std::source_location::current()) {
    static_assert(spawnable_v<F>, "go_pinned: f must be a task or a callable taking no arguments");
    spawn_pinned(executor_at(i), root_body(std::move(f)), site);
}

// For callbacks that start a task and must not throw (timers, a context's
// after_func): spawns f on ex; failing to (out of memory) is a panic.
template <class F>
void spawn_from_callback(executor& ex, F f, const std::source_location& site) noexcept {
    try {
        spawn_on(ex, root_body(std::move(f)), site);
    } catch (...) {
        goroutine g;
        g.spawn_site = site;
        on_panic(g, std::current_exception());
    }
}

}  // namespace ringo::detail
