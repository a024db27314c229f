// errgroup: first error, context, limits, try_go, exceptions, lifetime.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/ringo.hpp>

using namespace std::chrono_literals;
using ringo::task;

TEST_SUITE("errgroup") {

TEST_CASE("the zero value waits for every task and returns the first error") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g;
        auto done = std::make_shared<int>(0);
        for (int i = 0; i < 5; ++i)
            g.go([i, done]() -> task<std::error_code> {
                co_await ringo::sleep_for(std::chrono::milliseconds(i));
                ++*done;
                if (i == 1)
                    co_return std::make_error_code(std::errc::io_error);
                if (i == 3)
                    co_return std::make_error_code(std::errc::timed_out);
                co_return std::error_code();
            });
        g.go([done] { ++*done; });  // plain callables work too
        std::error_code err = co_await g.wait();
        CHECK(err == std::errc::io_error);
        CHECK(*done == 6);  // no task outlives wait
        CHECK_FALSE(g.get_context().done());  // no context for the zero value
    }());
}

TEST_CASE("with a context: cancelled by the first error, and when wait returns") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g(ringo::background());
        ringo::context ctx = g.get_context();
        auto saw_cancel = std::make_shared<bool>(false);
        g.go([ctx, saw_cancel]() -> task<std::error_code> {
            auto e = co_await ringo::sleep_for(ctx, 1h);  // cut short by the failure below
            *saw_cancel = e == ringo::errc::canceled;
            co_return std::error_code();
        });
        g.go([]() -> task<std::error_code> { co_return std::make_error_code(std::errc::bad_message); });
        std::error_code err = co_await g.wait();
        CHECK(err == std::errc::bad_message);
        CHECK(*saw_cancel);

        ringo::errgroup ok(ringo::background());
        ringo::context ok_ctx = ok.get_context();
        ok.go([]() -> task<void> { co_return; });
        CHECK_FALSE(co_await ok.wait());
        CHECK(ok_ctx.err() == ringo::errc::canceled);  // cancelled when wait returned
    }());
}

TEST_CASE("an exception in a task is captured, cancels the context, and is rethrown by wait") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g(ringo::background());
        ringo::context ctx = g.get_context();
        g.go([]() -> task<void> {
            throw std::runtime_error("task failed");
            co_return;
        });
        g.go([]() -> task<std::error_code> {
            co_await ringo::sleep_for(1ms);
            co_return std::make_error_code(std::errc::io_error);  // later: not the first
        });
        std::string what;
        try {
            (void)co_await g.wait();
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
        CHECK(what == "task failed");
        CHECK(ctx.err() == ringo::errc::canceled);
    }());
}

TEST_CASE("set_limit: go returns at once, callables wait for a slot in FIFO order") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g;
        g.set_limit(2);
        int running = 0, peak = 0;
        std::vector<int> started;
        for (int i = 0; i < 6; ++i)
            g.go([&, i]() -> task<void> {  // returns at once even with the limit reached
                started.push_back(i);
                peak = std::max(peak, ++running);
                co_await ringo::sleep_for(1ms);
                --running;
            });
        CHECK(ringo::num_tasks() == 7);  // all spawned; four wait for a slot
        CHECK_FALSE(g.try_go([] {}));    // no slot free
        (void)co_await g.wait();
        CHECK(peak == 2);
        CHECK(started == std::vector<int>{0, 1, 2, 3, 4, 5});
        CHECK(g.try_go([] {}));
        (void)co_await g.wait();
    }());
}

TEST_CASE("wait_for_slot gives Go's blocking backpressure; changing the limit while active panics") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g;
        g.set_limit(1);
        int max_active = 0;
        for (int i = 0; i < 5; ++i) {
            co_await g.wait_for_slot();
            g.go([]() -> task<void> { co_await ringo::sleep_for(100us); });
            max_active = std::max<int>(max_active, static_cast<int>(ringo::num_tasks()) - 1);
        }
        CHECK(max_active == 1);
        CHECK_THROWS_WITH_AS(g.set_limit(4), doctest::Contains("errgroup: modify limit while 1 goroutines"),
                             ringo::panic_error);
        (void)co_await g.wait();
        g.set_limit(-1);  // fine once idle
    }());
}

TEST_CASE("destroying an errgroup before wait leaves its tasks running safely") {
    auto finished = ringo::run([]() -> task<int> {
        auto count = std::make_shared<int>(0);
        {
            ringo::errgroup g(ringo::background());
            g.set_limit(1);
            for (int i = 0; i < 3; ++i)
                g.go([count]() -> task<void> {
                    co_await ringo::sleep_for(1ms);
                    ++*count;
                });
        }  // destroyed here, without wait
        co_await ringo::yield();
        CHECK(ringo::dump_tasks().find("[errgroup wait]") != std::string::npos);  // queued for a slot
        while (ringo::num_tasks() > 1)
            co_await ringo::sleep_for(1ms);
        co_return *count;
    }());
    CHECK(finished == 3);
}

TEST_CASE("go moves the callable into the task's frame") {
    auto got = ringo::run([]() -> task<std::string> {
        auto out = std::make_shared<std::string>();
        ringo::errgroup g;
        {
            std::string s = "still alive";
            g.go([s, out]() -> task<void> {
                co_await ringo::yield();
                *out = s;
            });
        }
        (void)co_await g.wait();
        co_return *out;
    }());
    CHECK(got == "still alive");
}

}  // TEST_SUITE
