// ringo/detail/invoke.hpp - co_await invoke_awaited(f, args...): calls a
// user's callable and, if it returned a task, awaits that task; either way
// the co_await yields what f produced (its value, or the task's) or throws
// what it threw. The one way ringo runs "f returns a task or not" (go,
// wait_group::go, once::call, singleflight, errgroup).
//
// f and args are referred to, not copied: they must outlive the co_await
// (they live in the calling coroutine's frame). The arguments are moved into
// the call.
#pragma once

#include <coroutine>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <ringo/task.hpp>

namespace ringo::detail {

template <class R>
struct awaited_of {
    using type = R;
};
template <class T>
struct awaited_of<task<T>> {
    using type = T;
};

// What co_await invoke_awaited(f, args...) yields.
template <class F, class... A>
using awaited_result_t = typename awaited_of<std::invoke_result_t<F&, A...>>::type;

// The awaitable for an f that does not return a task: calls it on resume,
// without suspending.
template <class F, class... A>
struct [[nodiscard]] invoke_now {
    F& f;
    std::tuple<A&...> args;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    decltype(auto) await_resume() {
        return std::apply([this](A&... a) -> decltype(auto) { return std::invoke(f, std::move(a)...); }, args);
    }
};

template <class F, class... A>
auto invoke_awaited(F& f, A&... a) {
    if constexpr (is_task_v<std::invoke_result_t<F&, A...>>)
        return std::invoke(f, std::move(a)...);  // the task; co_await runs it
    else
        return invoke_now<F, A...>{f, std::tuple<A&...>(a...)};
}

}  // namespace ringo::detail
