// test/bare.hpp - a coroutine driven by hand, with no ringo runtime on the
// thread: for awaitables misused outside run(), which must name the call.
#pragma once

#include <coroutine>
#include <exception>

namespace test {

struct bare {
    struct promise_type {
        std::exception_ptr error;  // what escaped the coroutine
        bare get_return_object() { return bare{std::coroutine_handle<promise_type>::from_promise(*this)}; }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { error = std::current_exception(); }
    };
    std::coroutine_handle<promise_type> h;
};

}  // namespace test
