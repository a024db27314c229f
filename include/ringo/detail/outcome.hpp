// ringo/detail/outcome.hpp - outcome<T>: a value of T or an exception, the
// result a producer leaves for a consumer (a task's promise, main's result,
// a blocking() call, a singleflight call).
//
// Empty until set once with set_value() or set_exception(); take() (and
// get()) then return the value or rethrow the exception. outcome<void> holds
// only the exception. Not thread-safe: the producer hands it over with its
// own synchronisation (a wake-up, a lock).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace ringo::detail {

template <class T>
class outcome {
public:
    template <class U = T>
    void set_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        v_.template emplace<1>(std::forward<U>(v));
    }
    void set_exception(std::exception_ptr e) noexcept { v_.template emplace<2>(std::move(e)); }

    bool has_exception() const noexcept { return v_.index() == 2; }
    // The exception, or null.
    std::exception_ptr exception() const noexcept { return has_exception() ? std::get<2>(v_) : nullptr; }

    // The value, moved out (once), or rethrows the exception.
    T take() {
        if (has_exception())
            std::rethrow_exception(std::get<2>(v_));
        return std::move(std::get<1>(v_));
    }
    // The value, for any number of readers, or rethrows the exception.
    const T& get() const {
        if (has_exception())
            std::rethrow_exception(std::get<2>(v_));
        return std::get<1>(v_);
    }

private:
    std::variant<std::monostate, T, std::exception_ptr> v_;
};

template <>
class outcome<void> {
public:
    void set_value() noexcept {}
    void set_exception(std::exception_ptr e) noexcept { e_ = std::move(e); }

    bool has_exception() const noexcept { return e_ != nullptr; }
    std::exception_ptr exception() const noexcept { return e_; }

    void take() const { get(); }
    void get() const {
        if (e_)
            std::rethrow_exception(e_);
    }

private:
    std::exception_ptr e_;
};

// Calls f() and stores what it returns, or the exception it throws.
template <class T, class F>
void capture(outcome<T>& out, F& f) noexcept {
    try {
        if constexpr (std::is_void_v<T>) {
            f();
            out.set_value();
        } else {
            out.set_value(f());
        }
    } catch (...) {
        out.set_exception(std::current_exception());
    }
}

}  // namespace ringo::detail
