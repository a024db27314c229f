// ringo/blocking.hpp - co_await ringo::blocking(f): run a blocking call on a
// helper thread without stalling the executor.
//
//   auto lookup = [host] { return resolve_blocking(host); };
//   auto addrs = co_await ringo::blocking(lookup);
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <atomic>
#include <coroutine>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <type_traits>
#include <utility>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/outcome.hpp>

namespace ringo {

namespace detail {

// Work for the helper threads of blocking() (lib/blocking.cpp).
void submit_blocking(executor& home, std::function<void()> work);

// What a blocking() call shares between its task and its helper thread.
// Thread-safe: the helper writes the result before it wakes the task; mu_
// orders the wake-up against the task abandoning the call.
template <class F>
class blocking_call {
public:
    using result_type = std::invoke_result_t<F&>;

    explicit blocking_call(F f) : f_(std::move(f)) {}

    // On the helper thread: runs f, then wakes the task unless it is gone.
    void run() noexcept {
        capture(result_, f_);
        std::lock_guard lock(mu_);
        if (g_ != nullptr) {  // not abandoned: wake the task, then stop counting
            executor* home = g_->where();
            home->ready(g_);
            home->pending_blocking_.fetch_sub(1, std::memory_order_seq_cst);
        }
    }
    void start(goroutine* g) {
        g_ = g;
        g->where()->pending_blocking_.fetch_add(1, std::memory_order_seq_cst);
    }
    // The awaiting task is gone: the result will not be wanted.
    void abandon() noexcept {
        std::lock_guard lock(mu_);
        g_ = nullptr;
    }
    result_type take() { return result_.take(); }

private:
    F f_;
    outcome<result_type> result_;
    std::mutex mu_;
    goroutine* g_ = nullptr;  // guarded by mu_; null once abandoned
};

}  // namespace detail

// co_await ringo::blocking(f): runs f() on a helper thread, so that a blocking
// call (getaddrinfo, a CPU-heavy function, a blocking syscall) does not stall
// the executor, and resumes with f's result or rethrows its exception. While
// it runs, the task counts as busy for deadlock detection. If the runtime ends
// first, f still runs to completion on its thread and its result is dropped.
// f is moved into shared state that lives until both sides are done; bind a
// capturing lambda to a named local before the co_await: g++ 12 destroys a
// lambda written inside a co_await expression twice.
template <class F>
[[nodiscard]] auto blocking(F f, std::source_location site = std::source_location::current()) {
    using call = detail::blocking_call<F>;
    struct [[nodiscard]] awaiter {
        std::shared_ptr<call> c;
        std::source_location site;

        awaiter(std::shared_ptr<call> call_state, std::source_location at) : c(std::move(call_state)), site(at) {}
        awaiter(awaiter&& o) noexcept = default;
        // Waits out a helper thread that is waking us right now, so that it
        // never touches the executor after this frame (or the runtime) is gone.
        ~awaiter() {
            if (c)
                c->abandon();
        }
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            detail::goroutine* g = detail::park(h, detail::task_state::blocking, site, "ringo::blocking");
            c->start(g);
            detail::submit_blocking(*g->where(), [c = c] { c->run(); });
        }
        typename call::result_type await_resume() { return c->take(); }
    };
    return awaiter{std::make_shared<call>(std::move(f)), site};
}

}  // namespace ringo
