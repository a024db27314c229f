// signals: notify, stop, notify_context, through a signalfd on the ring.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <ringo/ringo.hpp>

#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::task;

namespace {

// Sends signo to the process (not a thread) from a helper thread, as
// another process would: any thread that does not block it may take it.
void kill_from_helper(int signo) {
    std::thread([signo] { ::kill(::getpid(), signo); }).join();
}

// The rounds of the test below for one signal: each round, a task pinned on
// executor 1 + round % (threads - 1) watches with notify, this one with
// notify_context; one signal from a helper thread must reach both. Returns
// how many watches got their signal.
task<int> deliver_rounds(int signo, int rounds) {
    int received = 0;
    unsigned others = ringo::detail::executor_count() - 1;
    for (int round = 0; round < rounds; ++round) {
        ringo::chan<int> watching(1), result(1);
        auto pinned_watch = [signo, watching, result]() -> task<void> {
            auto sigs = ringo::signals::notify({signo});
            co_await watching.send(0);
            auto s = co_await sigs.recv();
            ringo::signals::stop(sigs);
            co_await result.send(s.value_or(-1));
        };
        ringo::detail::go_pinned(1 + static_cast<unsigned>(round) % others, pinned_watch);
        auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {signo});
        (void)co_await watching.recv();  // both watches are in place
        kill_from_helper(signo);
        co_await ctx.done().recv();
        received += ctx.err() == ringo::errc::canceled ? 1 : 0;
        auto s = co_await result.recv();
        received += s == signo ? 1 : 0;
        stop();
        test::tick();
    }
    co_return received;
}

std::atomic<int> stray_signals{0};  // signals that came after their runtime was gone
extern "C" void count_stray(int) { stray_signals.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

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

TEST_CASE("SIGTERM, SIGINT, SIGHUP, SIGUSR1 from another thread reach every watch on 2 and 4 executors, 50 times each") {
    for (unsigned threads : {2u, 4u}) {
        test::progress_watchdog dog(30s, "signals from a helper thread");
        for (int signo : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
            int got = ringo::run(deliver_rounds(signo, 50), ringo::runtime_options{.threads = threads});
            CHECK_MESSAGE(got == 100, "signal ", signo, " with ", threads, " executors");
        }
    }
}

TEST_CASE("a watched signal arriving during teardown does not hang run()") {
    // Our own handler catches what comes after run() has restored it.
    struct sigaction mine {}, before {};
    mine.sa_handler = &count_stray;
    sigemptyset(&mine.sa_mask);
    REQUIRE(::sigaction(SIGUSR1, &mine, &before) == 0);
    for (unsigned threads : {1u, 2u, 4u}) {
        test::progress_watchdog dog(30s, "signals during teardown");
        for (int round = 0; round < 20; ++round) {
            std::atomic<bool> stop_sending{false};
            std::atomic<int> sent{0};
            std::thread sender;
            int got = ringo::run(
                [](std::thread& helper, std::atomic<bool>& quit, std::atomic<int>& kills) -> task<int> {
                    // Still watched when run() returns: by notify here, by a
                    // task pinned on the last executor, and by notify_context.
                    auto sigs = ringo::signals::notify({SIGUSR1});
                    ringo::chan<int> watching(1);
                    auto pinned_watch = [watching]() -> task<void> {
                        auto more = ringo::signals::notify({SIGUSR1});
                        co_await watching.send(0);
                        (void)co_await more.recv();
                    };
                    ringo::detail::go_pinned(ringo::detail::executor_count() - 1, pinned_watch);
                    auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGUSR1});
                    (void)co_await watching.recv();
                    helper = std::thread([&quit, &kills] {
                        while (!quit.load(std::memory_order_relaxed)) {
                            ::kill(::getpid(), SIGUSR1);
                            kills.fetch_add(1, std::memory_order_relaxed);
                        }
                    });
                    auto s = co_await sigs.recv();
                    co_await ctx.done().recv();
                    while (kills.load(std::memory_order_relaxed) < 2)  // (what we got may have been pending from before)
                        co_await ringo::sleep_for(100us);
                    co_return s.value_or(-1);  // the helper goes on sending through the teardown
                }(sender, stop_sending, sent),
                ringo::runtime_options{.threads = threads});
            stop_sending = true;
            sender.join();
            CHECK(got == SIGUSR1);
            CHECK(sent.load() >= 2);
            test::tick();
        }
    }
    REQUIRE(::sigaction(SIGUSR1, &before, nullptr) == 0);
}

}  // TEST_SUITE
