// test/dump.hpp - waiting for tasks to show in dump_tasks().
//
//   const std::vector<std::string> want{"[sync.Mutex.Lock] test/test_x.cpp:" + std::to_string(line)};
//   std::string dump = co_await test::dump_showing(want);
//
// Sleeps 1 ms at a time until the dump holds every string of `want` (each
// task it waits for has parked there; on several executors that takes a
// moment), then returns the dump. `want` must outlive the co_await. A task
// that never shows up hangs the wait: the caller holds a
// test::progress_watchdog, which turns that into a failure.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <ringo/ringo.hpp>

namespace test {

inline ringo::task<std::string> dump_showing(const std::vector<std::string>& want) {
    for (;;) {
        std::string dump = ringo::dump_tasks();
        bool all = true;
        for (const std::string& w : want)
            all = all && dump.find(w) != std::string::npos;
        if (all)
            co_return dump;
        co_await ringo::sleep_for(std::chrono::milliseconds(1));
    }
}

// "[STATE] test/FILE:LINE", as dump_tasks() writes a wait at FILE:LINE.
inline std::string waits_at(const char* state, const char* file, unsigned line) {
    return std::string("[") + state + "] test/" + file + ":" + std::to_string(line);
}

}  // namespace test
