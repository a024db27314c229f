// test/throwing.hpp - a value whose move constructor throws on demand, to
// check that a hand-off that throws leaves a channel usable and consistent,
// with no waiter and no value lost (lifetime counts every object).
//
//   test::throw_on_move = 1;   // the next move construction (of any object) throws
//   CHECK_THROWS_AS(ch.try_send(v), test::move_failure);
//   test::throwing x(7, 1);    // the first move from x throws (thread-safe)
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

// Move-only. A move that throws does so before touching its source's value,
// so the source keeps it (the strong guarantee).
struct throwing {
    lifetime v;
    int fail_moves = 0;  // this many moves from this object throw, then they succeed

    explicit throwing(int x = 0, int fail = 0) : v(x), fail_moves(fail) {}
    throwing(throwing&& o) : v((maybe_throw(o), std::move(o.v))) {}
    throwing(const throwing&) = delete;
    throwing& operator=(throwing&&) = default;
    throwing& operator=(const throwing&) = delete;
    ~throwing() = default;

    int value() const { return v.value; }
    bool valid() const { return v.valid; }

private:
    static void maybe_throw(throwing& from) {
        if (from.fail_moves > 0) {
            --from.fail_moves;
            throw move_failure();
        }
        int n = throw_on_move.load();
        while (n > 0 && !throw_on_move.compare_exchange_weak(n, n - 1)) {
        }
        if (n == 1)
            throw move_failure();
    }
};

}  // namespace test
