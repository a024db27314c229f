// test/watchdog.hpp - turns a hang (a lost wake-up, a missed deadlock) into a
// failure, without limiting how long a test may take: a slow run on a loaded
// machine keeps making progress, a hung one stops.
//
//   test::progress_watchdog dog(30s, "ping-pong");
//   ... test::tick();   // wherever the test moves forward, from any thread
//
// The watchdog aborts the test binary when test::tick() has not been called
// for `quiet` seconds while it is alive.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace test {

// Progress made by the test running now (any thread may bump it).
inline std::atomic<std::uint64_t> progress{0};

inline void tick() noexcept { progress.fetch_add(1, std::memory_order_relaxed); }

class progress_watchdog {
public:
    progress_watchdog(std::chrono::seconds quiet, const char* what)
        : thread_([this, quiet, what] { watch(quiet, what); }) {}
    ~progress_watchdog() {
        {
            std::lock_guard lock(mu_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    progress_watchdog(const progress_watchdog&) = delete;
    progress_watchdog& operator=(const progress_watchdog&) = delete;

private:
    void watch(std::chrono::seconds quiet, const char* what) {
        using clock = std::chrono::steady_clock;
        std::uint64_t seen = progress.load(std::memory_order_relaxed);
        auto since = clock::now();
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return done_; })) {
            std::uint64_t now_seen = progress.load(std::memory_order_relaxed);
            if (now_seen != seen) {
                seen = now_seen;
                since = clock::now();
            } else if (clock::now() - since > quiet) {
                std::fprintf(stderr, "watchdog: '%s' made no progress for %llds (after %llu steps): a lost wake-up?\n",
                             what, static_cast<long long>(quiet.count()), static_cast<unsigned long long>(seen));
                std::abort();
            }
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;  // guarded by mu_
    std::thread thread_;  // last: starts once the members above exist
};

}  // namespace test
