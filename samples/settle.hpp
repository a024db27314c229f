// samples/settle.hpp - waits for tasks that have done their last visible
// step (a send, a close, wg.done()) to finish returning. With several
// executors such a task may still be ending on another thread when main
// wakes up, just as a goroutine is in Go, so a count taken at once can be
// one too high.
#pragma once

#include <ringo/ringo.hpp>

#include <chrono>
#include <cstddef>

namespace settle {

// Returns ringo::num_tasks() once it is at most `expected`, or after 10 s
// (then the tasks really leaked).
inline ringo::task<std::size_t> tasks_left(std::size_t expected) {
    using namespace std::chrono_literals;
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (ringo::num_tasks() > expected && std::chrono::steady_clock::now() < give_up)
        co_await ringo::sleep_for(100us);
    co_return ringo::num_tasks();
}

}  // namespace settle
