// ringo/detail/fastrand.hpp - a cheap per-thread random number (Go's cheaprand),
// for select's random case order. Not for anything that needs quality.
#pragma once

#include <cstdint>

namespace ringo::detail {

inline thread_local constinit std::uint64_t fastrand_state = 0;

std::uint64_t fastrand_seed() noexcept;  // lib/runtime.cpp

// A uniform-enough value in [0, n), n > 0 (wyrand + Lemire's reduction).
inline std::uint32_t fastrand_n(std::uint32_t n) noexcept {
    if (fastrand_state == 0) [[unlikely]]
        fastrand_state = fastrand_seed();
    fastrand_state += 0xa0761d6478bd642fULL;
    __uint128_t m = static_cast<__uint128_t>(fastrand_state) * (fastrand_state ^ 0xe7037ed1a0b428dbULL);
    auto r = static_cast<std::uint32_t>(static_cast<std::uint64_t>(m >> 64) ^ static_cast<std::uint64_t>(m));
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(r) * n) >> 32);
}

}  // namespace ringo::detail
