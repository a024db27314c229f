// ringo/task.hpp - task<T>, a lazy coroutine (the body of a goroutine).
//
// A task does nothing until it is awaited (co_await t) or spawned (go(t)).
// It is move-only and owns its frame. Awaiting a task transfers control to it
// symmetrically and back, so chains of synchronously completing awaits run in
// constant stack space. An exception thrown by the task is rethrown to the
// awaiter. Not thread-safe: a task is awaited by one coroutine.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include <ringo/detail/frame_alloc.hpp>
#include <ringo/detail/outcome.hpp>

namespace ringo {

template <class T = void>
class task;

namespace detail {

struct task_promise_base : frame_allocated {
    std::coroutine_handle<> continuation = std::noop_coroutine();

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            return h.promise().continuation;
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
};

template <class T>
struct task_promise : task_promise_base {
    outcome<T> result;

    task<T> get_return_object() noexcept;
    void unhandled_exception() noexcept { result.set_exception(std::current_exception()); }
    template <class U = T>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        result.set_value(std::forward<U>(v));
    }
    T take() { return result.take(); }
};

template <>
struct task_promise<void> : task_promise_base {
    outcome<void> result;

    task<void> get_return_object() noexcept;
    void unhandled_exception() noexcept { result.set_exception(std::current_exception()); }
    void return_void() noexcept {}
    void take() { result.take(); }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~task() { destroy(); }

    // True if this task holds a coroutine (not moved from, not default-made).
    explicit operator bool() const noexcept { return bool(h_); }

    struct [[nodiscard]] awaiter {
        handle_type h;
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
            h.promise().continuation = caller;
            return h;
        }
        T await_resume() { return h.promise().take(); }
    };

    // co_await t: runs the task to completion and yields its value (or rethrows).
    // Awaiting an empty task is undefined, as awaiting a moved-from std::future is.
    awaiter operator co_await() && noexcept { return awaiter{h_}; }
    awaiter operator co_await() & noexcept { return awaiter{h_}; }

private:
    void destroy() noexcept {
        if (h_)
            h_.destroy();
    }
    handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

template <class>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;
}  // namespace detail

}  // namespace ringo
