// signals: notify, stop, notify_context, through a signalfd on the ring.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <ringo/ringo.hpp>

#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::task;

TEST_SUITE("signals") {

TEST_CASE("notify delivers signals on a channel; stop ends the watch") {
    ringo::run([]() -> task<void> {
        auto sigs = ringo::signals::notify({SIGUSR1, SIGUSR2});
        ::raise(SIGUSR1);  // blocked: queued for the signalfd, never the default action
        auto s = co_await sigs.recv();
        CHECK(s == SIGUSR1);
        ::raise(SIGUSR2);
        auto s2 = co_await sigs.recv();
        CHECK(s2 == SIGUSR2);
        ringo::signals::stop(sigs);
        co_await ringo::sleep_for(1ms);
        CHECK(sigs.try_recv().state == ringo::recv_state::would_block);
    }());
}

TEST_CASE("notify_context is cancelled by a signal; a pending watch is no deadlock") {
    auto err = ringo::run([]() -> task<std::error_code> {
        auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGUSR1});
        ringo::go([]() -> task<void> {
            co_await ringo::sleep_for(2ms);
            ::kill(::getpid(), SIGUSR1);  // to the process: this task may be on any executor
        });
        co_await ctx.done().recv();  // only the signal can end this
        co_return ctx.err();
    }());
    CHECK(err == ringo::errc::canceled);
}

TEST_CASE("a full notify channel drops further signals instead of blocking") {
    ringo::run([]() -> task<void> {
        auto sigs = ringo::signals::notify({SIGUSR2});
        for (int i = 0; i < 20; ++i) {
            ::raise(SIGUSR2);
            co_await ringo::sleep_for(100us);  // one at a time: standard signals do not queue
        }
        std::size_t kept = sigs.len();
        CHECK(kept >= 1);
        CHECK(kept <= 8);
        ringo::signals::stop(sigs);
    }());
}

TEST_CASE("watching SIGKILL is a panic_error; signals outside run too") {
    CHECK_THROWS_AS(ringo::signals::notify({SIGINT}), ringo::panic_error);
    ringo::run([]() -> task<void> {
        CHECK_THROWS_WITH_AS(ringo::signals::notify({SIGKILL}), doctest::Contains("cannot watch signal 9"),
                             ringo::panic_error);
        co_return;
    }());
}

TEST_CASE("process-directed signals reach notify and notify_context with several executors, repeatedly") {
    for (unsigned threads : {2u, 4u}) {
        test::progress_watchdog dog(30s, "signals with threads");
        auto got = ringo::run(
            []() -> task<int> {
                int received = 0;
                for (int round = 0; round < 20; ++round) {
                    // Watched from a task on any executor, sent to the process
                    // (not a thread) from a helper thread: any thread may take it.
                    ringo::chan<int> result(1);
                    ringo::go([result]() -> task<void> {
                        auto sigs = ringo::signals::notify({SIGUSR1});
                        auto kill_usr1 = [] { ::kill(::getpid(), SIGUSR1); };
                        co_await ringo::blocking(kill_usr1);
                        auto s = co_await sigs.recv();
                        ringo::signals::stop(sigs);
                        co_await result.send(s.value_or(-1));
                    });
                    auto s = co_await result.recv();
                    received += s == SIGUSR1 ? 1 : 0;
                    auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGUSR2});
                    auto kill_usr2 = [] { ::kill(::getpid(), SIGUSR2); };
                    co_await ringo::blocking(kill_usr2);
                    co_await ctx.done().recv();
                    received += ctx.err() == ringo::errc::canceled ? 1 : 0;
                    stop();
                    test::tick();
                }
                co_return received;
            }(),
            ringo::runtime_options{.threads = threads});
        CHECK(got == 40);
    }
}

}  // TEST_SUITE
