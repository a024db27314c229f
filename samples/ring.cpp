// ring: N tasks pass a token around a ring of unbuffered channels; prints
// laps per second and hand-offs per second.
//
//   ./dev sample ring [--tasks 1000] [--laps 1000]
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

#include "flags.hpp"
#include "settle.hpp"

namespace {

// Each member takes the token from its left neighbour and passes it right.
ringo::task<void> member(ringo::recv_chan<long> left, ringo::send_chan<long> right) {
    while (auto token = co_await left.recv())
        co_await right.send(*token + 1);
    right.close();  // the ring winds down, one link after the other
}

ringo::task<int> ring_main(long tasks, long laps) {
    std::vector<ringo::chan<long>> links;
    for (long i = 0; i <= tasks; ++i)
        links.emplace_back(0);
    for (long i = 0; i < tasks; ++i)
        ringo::go(member, ringo::recv_chan<long>(links[i]), ringo::send_chan<long>(links[i + 1]));

    auto start = std::chrono::steady_clock::now();
    long token = 0;
    for (long lap = 0; lap < laps; ++lap) {
        co_await links.front().send(token);
        token = *(co_await links.back().recv());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    links.front().close();
    while (co_await links.back().recv()) {
    }

    std::printf("%ld tasks, %ld laps: token counted %ld hand-offs\n", tasks, laps, token);
    std::printf("%.0f laps/s, %.1f million hand-offs/s (%.1f ns each)\n", laps / seconds,
                double(token) / seconds / 1e6, seconds * 1e9 / double(token));
    std::size_t left = co_await settle::tasks_left(1);
    std::printf("tasks alive at the end: %zu (main)\n", left);
    co_return token == tasks * laps ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    long tasks = 1000, laps = 1000;
    flags::set fs("ring: pass a token around a ring of tasks connected by channels");
    fs.int_var("tasks", tasks, "tasks in the ring");
    fs.int_var("laps", laps, "laps of the token");
    fs.parse_or_exit(argc, argv);
    if (tasks < 1 || laps < 1) {
        std::fprintf(stderr, "ring: -tasks and -laps must be positive\n");
        return 2;
    }
    return ringo::run_main(ring_main(tasks, laps));
}
