// test/throwing.hpp - a value whose move constructor throws on demand, to
// check that a hand-off that throws leaves a channel usable and consistent,
// with no waiter and no value lost (lifetime counts every object).
//
//   test::throw_on_move = 1;   // the next move construction throws
//   CHECK_THROWS_AS(ch.try_send(v), test::move_failure);
#pragma once

#include <atomic>
#include <stdexcept>

#include "lifetime.hpp"

namespace test {

struct move_failure : std::runtime_error {
    move_failure() : std::runtime_error("throwing move") {}
};

// The n-th move construction from now throws (1: the next one); 0: none.
inline std::atomic<int> throw_on_move{0};

// Move-only. A move that throws does so before touching its source, so the
// source keeps its value (the strong guarantee).
struct throwing {
    lifetime v;

    explicit throwing(int x = 0) : v(x) {}
    throwing(throwing&& o) : v((maybe_throw(), std::move(o.v))) {}
    throwing(const throwing&) = delete;
    throwing& operator=(throwing&&) = default;
    throwing& operator=(const throwing&) = delete;
    ~throwing() = default;

    int value() const { return v.value; }
    bool valid() const { return v.valid; }

private:
    static void maybe_throw() {
        int n = throw_on_move.load();
        while (n > 0 && !throw_on_move.compare_exchange_weak(n, n - 1)) {
        }
        if (n == 1)
            throw move_failure();
    }
};

}  // namespace test
