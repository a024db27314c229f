// ringo/detail/fastrand.hpp - a cheap per-thread random number (Go's cheaprand),
// for select's random case order. Not for anything that needs quality.
#pragma once

#include <cstdint>

namespace ringo::detail {

// The next value of this thread's generator (lib/runtime.cpp). Out of line,
// as every per-thread state read from code a coroutine may inline
// (detail/goroutine.hpp says why).
[[gnu::noinline]] std::uint64_t fastrand() noexcept;

// A uniform-enough value in [0, n), n > 0 (Lemire's reduction, no division).
inline std::uint32_t fastrand_n(std::uint32_t n) noexcept {
    auto r = static_cast<std::uint32_t>(fastrand());
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(r) * n) >> 32);
}

}  // namespace ringo::detail
