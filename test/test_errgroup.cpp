// errgroup: first error, context, limits, try_go, exceptions, lifetime.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/ringo.hpp>

#include "dump.hpp"
#include "watchdog.hpp"

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
    }(), ringo::runtime_options{.threads = 1});  // FIFO start order and plain counters: one executor
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

TEST_CASE("errgroup(ctx): cause(get_context()) is the first error (x/sync's WithCancelCause)") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g(ringo::background());
        ringo::context gctx = g.get_context();
        ringo::chan<int> gate(0);
        g.go([]() -> task<std::error_code> {
            co_return std::make_error_code(std::errc::connection_refused);
        });
        g.go([gate]() -> task<std::error_code> {
            (void)co_await gate.recv();
            co_return std::make_error_code(std::errc::io_error);  // second: not the cause
        });
        co_await gctx.done().recv();  // cancelled by the first failure, before wait
        CHECK(gctx.err() == ringo::errc::canceled);
        CHECK(ringo::cause(gctx) == std::errc::connection_refused);
        gate.close();
        std::error_code e = co_await g.wait();
        CHECK(e == std::errc::connection_refused);
        CHECK(ringo::cause(gctx) == std::errc::connection_refused);

        ringo::errgroup ok(ringo::background());
        ok.go([] {});
        std::error_code none = co_await ok.wait();
        CHECK_FALSE(none);
        CHECK(ringo::cause(ok.get_context()) == ringo::errc::canceled);  // no error: plain canceled

        ringo::errgroup thrown(ringo::background());
        thrown.go([]() -> task<void> {
            throw std::system_error(std::make_error_code(std::errc::broken_pipe));
            co_return;
        });
        co_await thrown.get_context().done().recv();
        CHECK(ringo::cause(thrown.get_context()) == std::errc::broken_pipe);  // a system_error's code
        bool rethrown = false;
        try {
            (void)co_await thrown.wait();
        } catch (const std::system_error&) {
            rethrown = true;
        }
        CHECK(rethrown);
    }());
}

TEST_CASE("go_wait is Go's blocking Go: it returns once f has started in a free slot") {
    ringo::run([]() -> task<void> {
        ringo::errgroup g;
        g.set_limit(1);
        ringo::chan<int> gate(0);
        std::vector<std::string> events;
        auto first = [gate, &events]() -> task<void> {
            events.push_back("first started");
            (void)co_await gate.recv();
            events.push_back("first done");
        };
        co_await g.go_wait(first);  // a slot is free: starts it and returns
        co_await ringo::yield();    // it runs next
        CHECK(events == std::vector<std::string>{"first started"});
        auto queued = [&events] { events.push_back("queued ran"); };
        g.go(queued);  // at the limit: queued, FIFO
        bool returned = false;
        ringo::go([&]() -> task<void> {
            auto second = [&events]() -> task<std::error_code> {
                events.push_back("second started");
                co_return std::make_error_code(std::errc::timed_out);
            };
            co_await g.go_wait(second);
            events.push_back("go_wait returned");
            returned = true;
        });
        co_await ringo::yield();
        co_await ringo::yield();
        CHECK_FALSE(returned);  // blocked: the limit is reached
        gate.close();
        std::error_code e = co_await g.wait();
        CHECK(returned);
        CHECK(e == std::errc::timed_out);
        // Its turn came after the task go() queued first; it returned once second was started.
        CHECK(events == std::vector<std::string>{"first started", "first done", "queued ran", "go_wait returned",
                                                 "second started"});
        ringo::errgroup unlimited;
        co_await unlimited.go_wait(+[] {});  // a plain function pointer may be a temporary
        auto tally = std::make_shared<int>(0);
        const auto counted = [tally] { ++*tally; };  // a const named callable is copied
        co_await unlimited.go_wait(counted);
        std::error_code all = co_await unlimited.wait();
        CHECK_FALSE(all);
        CHECK(*tally == 1);
    }(), ringo::runtime_options{.threads = 1});  // ordering by yield: one thread
}

TEST_CASE("errgroup's spawning calls outside run name the call and start nothing") {
    ringo::errgroup g;
    CHECK_THROWS_WITH_AS(g.go([] {}), doctest::Contains("ringo::errgroup::go called outside ringo::run"),
                         ringo::panic_error);
    CHECK_THROWS_WITH_AS((void)g.try_go([] {}),
                         doctest::Contains("ringo::errgroup::try_go called outside ringo::run"), ringo::panic_error);
    ringo::run([&g]() -> task<void> {
        std::error_code e = co_await g.wait();  // nothing was counted in: returns at once
        CHECK_FALSE(e);
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

TEST_CASE("a task queued for a slot shows in the dump at its g.go() call") {
    test::progress_watchdog dog(30s, "errgroup slot wait in the dump");
    ringo::chan<int> never_sent(0);
    std::string dump;
    ringo::run([](ringo::chan<int>& never, std::string& d) -> task<void> {
        ringo::errgroup g;
        g.set_limit(1);
        auto hold = [&never]() -> task<void> { (void)co_await never.recv(); };
        g.go(hold);  // takes the only slot and keeps it
        const unsigned go_line = __LINE__ + 1;
        g.go(hold);
        const std::vector<std::string> want{test::waits_at("errgroup wait", "test_errgroup.cpp", go_line)};
        d = co_await test::dump_showing(want);
        never.close();  // both end: the group is done before it goes
        std::error_code e = co_await g.wait();
        CHECK_FALSE(e);
    }(never_sent, dump));
    CHECK(dump.find("include/ringo/") == std::string::npos);  // no library line stands for the user's
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
