// Time: sleeps, time.After, timer and ticker with Go 1.23 semantics,
// after_func, and how timers count for deadlock detection.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ringo/detail/timer_heap.hpp>
#include <ringo/ringo.hpp>

#include "watchdog.hpp"

#include "bare.hpp"

using namespace std::chrono_literals;
using ringo::chan;
using clk = ringo::clock;
using ringo::task;

#ifdef RINGO_TEST_FULL_DEPTH
constexpr int many = 1'000'000;
constexpr int many_sleepers = 200'000;
#else
constexpr int many = 50'000;  // sanitizer builds are 10-50x slower
constexpr int many_sleepers = 20'000;
#endif

TEST_SUITE("time") {

// One thread: with more, another executor may steal the spawned task (it
// waits in the run-next slot) and run it meanwhile, as Go's would.
TEST_CASE("sleep_for of zero or a negative duration returns without suspending") {
    ringo::run([]() -> task<void> {
        bool other_ran = false;
        ringo::go([&other_ran]() -> task<void> {
            other_ran = true;
            co_return;
        });
        co_await ringo::sleep_for(0ms);
        co_await ringo::sleep_for(-5ms);
        co_await ringo::sleep_until(clk::now() - 1s);
        CHECK_FALSE(other_ran);  // the task never parked
        co_await ringo::yield();
        CHECK(other_ran);
    }(), ringo::runtime_options{.threads = 1});
}

TEST_CASE("sleep_for suspends for at least the duration, and a sleeping main is no deadlock") {
    auto elapsed = ringo::run([]() -> task<clk::duration> {
        auto start = clk::now();
        co_await ringo::sleep_for(3ms);
        co_return clk::now() - start;
    }());
    CHECK(elapsed >= 3ms);
}

TEST_CASE("sleepers wake in deadline order") {
    auto order = ringo::run([]() -> task<std::vector<int>> {
        auto out = std::make_shared<std::vector<int>>();
        ringo::wait_group wg;
        for (int ms : {5, 1, 4, 2, 3})
            wg.go([out, ms]() -> task<void> {
                co_await ringo::sleep_for(std::chrono::milliseconds(ms));
                out->push_back(ms);
            });
        co_await wg.wait();
        co_return *out;
    }(), ringo::runtime_options{.threads = 1});  // one heap's order (on several executors the pushes would race)
    CHECK(order == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("many pending timers fire in deadline order and leave the heap empty") {
    ringo::run([]() -> task<void> {
        auto fired = std::make_shared<std::vector<clk::time_point>>();
        fired->reserve(many_sleepers);
        auto base = std::make_shared<clk::time_point>();
        ringo::wait_group wg;
        for (int i = 0; i < many_sleepers; ++i) {
            auto offset = std::chrono::microseconds((i * 7919) % 30'000);  // scattered over 30 ms
            wg.go([fired, base, offset]() -> task<void> {
                auto deadline = *base + offset;
                co_await ringo::sleep_until(deadline);
                fired->push_back(deadline);
            });
        }
        *base = clk::now() + 2s;  // all are spawned: their deadlines lie well ahead, even on a loaded machine
        co_await ringo::yield();
        CHECK(ringo::num_timers() > 0);
        co_await wg.wait();
        CHECK(fired->size() == std::size_t(many_sleepers));
        CHECK(std::is_sorted(fired->begin(), fired->end()));
        CHECK(ringo::num_timers() == 0);
    }(), ringo::runtime_options{.threads = 1});  // one heap's order: one executor (the vector is unsynchronized too)
}

TEST_CASE("after is a channel usable in select: the timeout wins when nothing else is ready") {
    ringo::run([]() -> task<void> {
        chan<int> never(0);
        auto r = co_await ringo::select(ringo::recv(never), ringo::recv(ringo::after(2ms)));
        CHECK(r.index() == 1);
        auto at = r.get<1>();
        CHECK(at.has_value());
        chan<int> ready(1);
        co_await ready.send(5);
        auto r2 = co_await ringo::select(ringo::recv(ready), ringo::recv(ringo::after(1h)));
        CHECK(r2.index() == 0);
        CHECK(ringo::num_timers() == 0);  // the dropped after(1h) left at once
    }());
}

TEST_CASE("select with after in a loop leaves no timer behind") {
    ringo::run([]() -> task<void> {
        chan<int> ch(1);
        std::size_t max_timers = 0;
        for (int i = 0; i < many; ++i) {
            (void)ch.try_send(i);
            auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(ringo::after(1h)));
            CHECK(r.index() == 0);
            max_timers = std::max(max_timers, ringo::num_timers());
        }
        CHECK(max_timers == 0);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("after with a non-positive duration fires at once; a dropped after releases its timer") {
    ringo::run([]() -> task<void> {
        auto c = ringo::after(-1s);
        auto v = co_await c.recv();
        CHECK(v.has_value());
        {
            auto pending = ringo::after(1h);
            CHECK(ringo::num_timers() == 1);
        }
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("timer: stop and reset return values follow Go 1.23") {
    ringo::run([]() -> task<void> {
        ringo::timer t(1h);
        CHECK(t.stop());        // pending: stopped
        CHECK_FALSE(t.stop());  // already stopped
        CHECK(ringo::num_timers() == 0);

        CHECK_FALSE(t.reset(1ms));  // was stopped
        auto v = co_await t.c().recv();
        CHECK(v.has_value());
        CHECK_FALSE(t.stop());  // fired and received

        // Fired but not received: stop returns true and discards the value.
        CHECK_FALSE(t.reset(1ms));
        co_await ringo::sleep_for(5ms);
        CHECK(t.c().len() == 0);  // Go 1.23: a timer channel always reports 0
        CHECK(t.stop());
        CHECK(t.c().try_recv().state == ringo::recv_state::would_block);

        // Reset of a fired, unreceived timer: true, and no stale value after.
        CHECK_FALSE(t.reset(1ms));
        co_await ringo::sleep_for(5ms);
        CHECK(t.reset(1h));
        CHECK_FALSE(ringo::try_select(ringo::recv(t.c())).has_value());
        CHECK(t.reset(2ms));  // pending: true
        auto v2 = co_await t.c().recv();
        CHECK(v2.has_value());
    }());
}

TEST_CASE("timer: a value received after reset is from after the reset") {
    ringo::run([]() -> task<void> {
        ringo::timer t(1ms);
        co_await ringo::sleep_for(3ms);  // fired, unreceived
        auto reset_at = clk::now();
        t.reset(2ms);
        auto v = co_await t.c().recv();
        CHECK(*v >= reset_at);
    }());
}

TEST_CASE("timer: stop and reset work from another thread") {
    ringo::run([]() -> task<void> {
        ringo::timer t(1h);
        auto remote_stop = [&t] { return t.stop(); };
        bool stopped = co_await ringo::blocking(remote_stop);
        CHECK(stopped);
        co_await ringo::yield();  // the executor applies the request
        CHECK(ringo::num_timers() == 0);
        auto remote_reset = [&t] { return t.reset(1ms); };
        bool was_pending = co_await ringo::blocking(remote_reset);
        CHECK_FALSE(was_pending);
        auto v = co_await t.c().recv();  // the reset armed it on its executor
        CHECK(v.has_value());
    }());
}

TEST_CASE("a timer whose channel is held stays armed after the timer is gone (Go's GC rule)") {
    ringo::run([]() -> task<void> {
        ringo::recv_chan<clk::time_point> c;
        {
            ringo::timer t(1ms);
            c = t.c();
        }
        CHECK(ringo::num_timers() == 1);  // still pending: c refers to it
        auto v = co_await c.recv();
        CHECK(v.has_value());
        {
            ringo::timer t(1h);
            auto c2 = t.c();
            ringo::timer other(1h);
            t = std::move(other);  // the first timer lives on through c2
            CHECK(ringo::num_timers() == 2);
        }
        CHECK(ringo::num_timers() == 0);  // timers and channels gone: nothing left
    }());
}

TEST_CASE("co_await ringo::timer(d).c().recv() on a temporary timer fires after d") {
    ringo::run([]() -> task<void> {
        auto start = clk::now();
        auto v = co_await ringo::timer(10ms).c().recv();
        CHECK(v.has_value());
        CHECK(*v >= start + 10ms);
        auto c = ringo::timer(2ms).c();  // the timer object is gone at the semicolon
        auto v2 = co_await c.recv();
        CHECK(v2.has_value());
        auto tick = ringo::ticker(1ms).c();  // Go's time.Tick
        for (int i = 0; i < 3; ++i) {
            auto t = co_await tick.recv();
            CHECK(t.has_value());
        }
        tick = {};
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("timer, ticker and after channels report len() == 0 and cap() == 0 (Go 1.23)") {
    ringo::run([]() -> task<void> {
        auto a = ringo::after(0ms);
        ringo::timer t(0ms);
        ringo::ticker tk(1ms);
        co_await ringo::sleep_for(5ms);  // each has fired; nobody received
        CHECK(a.len() == 0);
        CHECK(a.cap() == 0);
        CHECK(t.c().len() == 0);
        CHECK(t.c().cap() == 0);
        CHECK(tk.c().len() == 0);
        CHECK(tk.c().cap() == 0);
        CHECK(a.try_recv().state == ringo::recv_state::ok);  // yet the values are there
        CHECK(t.c().try_recv().state == ringo::recv_state::ok);
        CHECK(tk.c().try_recv().state == ringo::recv_state::ok);
        chan<int> plain(3);
        CHECK(plain.cap() == 3);  // other channels are unchanged
        CHECK(plain.try_send(1));
        CHECK(plain.len() == 1);
    }());
}

TEST_CASE("forever durations never fire: now + d saturates instead of overflowing") {
    ringo::run([]() -> task<void> {
        const clk::duration forevers[] = {clk::duration::max(), std::chrono::nanoseconds::max() - 1s,
                                          clk::duration::max() - clk::now().time_since_epoch() / 2};
        auto fired = std::make_shared<int>(0);
        std::vector<ringo::recv_chan<clk::time_point>> afters;
        std::vector<ringo::timer> timers;
        std::vector<ringo::ticker> tickers;
        std::vector<ringo::stop_func> funcs;
        std::vector<std::pair<ringo::context, ringo::cancel_func>> ctxs;
        for (clk::duration d : forevers) {
            afters.push_back(ringo::after(d));
            timers.emplace_back(d);
            timers.emplace_back(1h);
            CHECK(timers.back().reset(d));
            tickers.emplace_back(d);
            tickers.emplace_back(1h);
            tickers.back().reset(d);
            funcs.push_back(ringo::after_func(d, [fired] { ++*fired; }));
            ctxs.push_back(ringo::with_timeout(ringo::background(), d));
            ctxs.push_back(ringo::with_timeout_cause(ringo::background(), d, make_error_code(std::errc::timed_out)));
            ringo::go([fired, d]() -> task<void> {
                co_await ringo::sleep_for(d);
                ++*fired;
            });
            auto [live, cancel] = ringo::with_cancel(ringo::background());
            ctxs.emplace_back(live, cancel);
            ringo::go([fired, d, live = live]() -> task<void> {
                std::error_code e = co_await ringo::sleep_for(live, d);
                if (!e)
                    ++*fired;  // the sleep ended by itself
            });
        }
        co_await ringo::sleep_for(20ms);
        CHECK(*fired == 0);
        for (auto& a : afters)
            CHECK(a.try_recv().state == ringo::recv_state::would_block);
        for (auto& t : timers)
            CHECK(t.c().try_recv().state == ringo::recv_state::would_block);
        for (auto& t : tickers)
            CHECK(t.c().try_recv().state == ringo::recv_state::would_block);
        for (auto& [ctx, cancel] : ctxs) {
            CHECK_FALSE(ctx.err());
            CHECK(ctx.deadline().value_or(clk::time_point::max()) > clk::now() + 24h);
        }
        for (auto& f : funcs)
            CHECK(f());  // still pending
        for (auto& [ctx, cancel] : ctxs)
            cancel();  // the sleep_for(ctx, d) tasks end with ctx.err()
        co_await ringo::yield();
        CHECK(*fired == 0);
    }());
}

TEST_CASE("ticker ticks, drops ticks for a slow receiver, stops and resets") {
    ringo::run([]() -> task<void> {
        ringo::ticker tick(1ms);
        for (int i = 0; i < 3; ++i) {
            auto v = co_await tick.c().recv();
            CHECK(v.has_value());
        }
        co_await ringo::sleep_for(10ms);  // ~10 ticks pass; one is kept
        auto kept = tick.c().try_recv();
        CHECK(kept.state == ringo::recv_state::ok);
        CHECK(tick.c().try_recv().state == ringo::recv_state::would_block);  // the others were dropped
        co_await ringo::sleep_for(5ms);
        tick.stop();  // a tick was kept again, and stop discards it (Go 1.23)
        co_await ringo::sleep_for(3ms);
        CHECK(tick.c().try_recv().state == ringo::recv_state::would_block);
        tick.reset(1ms);
        auto v = co_await tick.c().recv();
        CHECK(v.has_value());
    }());
}

TEST_CASE("a non-positive ticker period is a panic_error") {
    ringo::run([]() -> task<void> {
        CHECK_THROWS_WITH_AS(ringo::ticker(0ms), doctest::Contains("non-positive interval for ringo::ticker"),
                             ringo::panic_error);
        CHECK_THROWS_WITH_AS(ringo::ticker(-1s), doctest::Contains("non-positive interval"), ringo::panic_error);
        ringo::ticker t(1h);
        CHECK_THROWS_WITH_AS(t.reset(0s), doctest::Contains("non-positive interval for ringo::ticker::reset"),
                             ringo::panic_error);
        co_return;
    }());
}

TEST_CASE("timers outside run are a panic_error naming the call") {
    CHECK_THROWS_WITH_AS(ringo::after(1s), doctest::Contains("ringo::after called outside ringo::run"),
                         ringo::panic_error);
    CHECK_THROWS_WITH_AS(ringo::timer(1s), doctest::Contains("ringo::timer called outside ringo::run"),
                         ringo::panic_error);
    CHECK_THROWS_WITH_AS(ringo::ticker(1s), doctest::Contains("ringo::ticker called outside ringo::run"),
                         ringo::panic_error);
    CHECK_THROWS_WITH_AS((void)ringo::after_func(1s, [] {}),
                         doctest::Contains("ringo::after_func called outside ringo::run"), ringo::panic_error);
}

TEST_CASE("sleep_until awaited outside run names sleep_until, not sleep_for") {
    using test::bare;  // a coroutine driven by hand, with no ringo runtime on this thread
    auto sleeper = [](bool until) -> bare {
        if (until)
            co_await ringo::sleep_until(clk::now() + 1h);
        else
            co_await ringo::sleep_for(1h);
    };
    for (bool until : {true, false}) {
        bare b = sleeper(until);
        b.h.resume();
        REQUIRE(b.h.promise().error);
        try {
            std::rethrow_exception(b.h.promise().error);
        } catch (const ringo::panic_error& e) {
            CHECK(std::string(e.what()).find(until ? "ringo::sleep_until called outside" : "ringo::sleep_for called outside") !=
                  std::string::npos);
        }
        b.h.destroy();
    }
}

TEST_CASE("after_func runs f as a new task; its stop reports whether it stopped it") {
    ringo::run([]() -> task<void> {
        auto ran = std::make_shared<int>(0);
        auto stop = ringo::after_func(1ms, [ran]() -> task<void> {
            ++*ran;
            co_return;
        });
        co_await ringo::sleep_for(5ms);
        CHECK(*ran == 1);
        CHECK_FALSE(stop());  // already ran

        auto stop2 = ringo::after_func(2ms, [ran] { *ran += 10; });
        auto copy = stop2;
        CHECK(copy());         // stopped in time
        CHECK_FALSE(stop2());  // idempotent
        co_await ringo::sleep_for(5ms);
        CHECK(*ran == 1);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("deadlock detection: sleepers keep the runtime alive; a receive nobody can satisfy does not") {
    int got = ringo::run([]() -> task<int> {
        chan<int> ch(0);
        ringo::go([](chan<int> c) -> task<void> {
            co_await ringo::sleep_for(2ms);
            co_await c.send(7);
        }, ch);
        auto v = co_await ch.recv();  // the sender sleeps meanwhile: not a deadlock
        co_return *v;
    }());
    CHECK(got == 7);

    CHECK_THROWS_WITH_AS(ringo::run([]() -> task<void> {
                             ringo::go([]() -> task<void> { co_await ringo::sleep_for(2ms); });
                             chan<int> nobody(0);
                             co_await nobody.recv();
                         }()),
                         doctest::Contains("all tasks are asleep - deadlock!"), ringo::deadlock_error);
}

TEST_CASE("a stopped after_func leaves at once, from any thread: it neither counts nor delays deadlock detection") {
    test::progress_watchdog dog(30s, "stopped after_func");
    CHECK_THROWS_WITH_AS(ringo::run([]() -> task<void> {
                             auto here = ringo::after_func(1h, [] {});
                             auto there = ringo::after_func(1h, [] {});
                             CHECK(ringo::num_timers() == 2);
                             CHECK(here());
                             CHECK(ringo::num_timers() == 1);
                             auto stop_there = [&there] { return there(); };
                             bool stopped = co_await ringo::blocking(stop_there);
                             CHECK(stopped);
                             CHECK(ringo::num_timers() == 0);  // at once, though stopped on another thread
                             CHECK_FALSE(there());
                             chan<int> nobody(0);
                             co_await nobody.recv();  // a deadlock now, not in an hour
                         }()),
                         doctest::Contains("all tasks are asleep - deadlock!"), ringo::deadlock_error);
}

TEST_CASE("timers and sleepers pending when main returns are released") {
    ringo::recv_chan<clk::time_point> survivor;
    ringo::run([](ringo::recv_chan<clk::time_point>& keep) -> task<void> {
        keep = ringo::after(1h);
        ringo::go([]() -> task<void> { co_await ringo::sleep_for(1h); });
        ringo::go([]() -> task<void> {
            ringo::timer t(1h);
            co_await t.c().recv();
        });
        auto stop = ringo::after_func(1h, [] {});
        (void)stop;
        while (ringo::num_timers() < 4)  // the two tasks may start on other executors
            co_await ringo::yield();
        CHECK(ringo::num_timers() == 4);
    }(survivor));
    CHECK(survivor.try_recv().state == ringo::recv_state::would_block);
}

// Staging (detail/timer_heap.hpp): a timer enters the heap in O(1) and is
// sifted into order only once a staged deadline may be due.

TEST_CASE("the timer heap, staged or sifted, pops exactly what a plain heap would, in deadline order") {
    using ringo::detail::timer;
    using ringo::detail::timer_heap;
    auto no_fire = [](timer&, clk::time_point, std::uint64_t) noexcept {};
    std::vector<std::unique_ptr<timer>> timers;
    for (int i = 0; i < 64; ++i)
        timers.push_back(std::make_unique<timer>(+no_fire));
    timer_heap heap;
    std::map<timer*, clk::time_point> model;  // what the heap holds, and when each is due
    std::mt19937 rng(17);
    auto base = clk::time_point{} + 1h;
    auto now = base;
    for (int op = 0; op < 200'000; ++op) {
        timer* t = timers[rng() % timers.size()].get();
        switch (rng() % 4) {
        case 0:
        case 1: {  // arm or re-arm, sometimes before now
            auto when = now + std::chrono::microseconds(int(rng() % 200) - 20);
            heap.update(t, when);
            model[t] = when;
            break;
        }
        case 2:
            heap.remove(t);
            model.erase(t);
            break;
        default: {  // the executor's run_timers
            now += std::chrono::microseconds(rng() % 30);
            while (timer* due = heap.pop_due(now)) {
                auto earliest = std::min_element(model.begin(), model.end(),
                                                 [](auto& a, auto& b) { return a.second < b.second; });
                REQUIRE(earliest != model.end());
                REQUIRE(model.at(due) == earliest->second);  // the earliest (any of a tie)
                REQUIRE(model.at(due) <= now);
                model.erase(due);
            }
            for (auto& [left, when] : model)
                REQUIRE(when > now);  // nothing due is left behind
        }
        }
        REQUIRE(heap.empty() == model.empty());
        for (auto& [held, when] : model)
            REQUIRE(heap.earliest() <= when);  // the executor never sleeps past a deadline
    }
    std::size_t left = 0;
    while (heap.pop_any() != nullptr)
        ++left;
    CHECK(left == model.size());
    CHECK(heap.empty());
}

TEST_CASE("an after() dropped by a select that another case won never fires, counts or delays deadlock detection") {
    test::progress_watchdog dog(30s, "dropped after");
    CHECK_THROWS_WITH_AS(ringo::run([]() -> task<void> {
                             chan<int> ready(1);
                             for (int i = 0; i < 100; ++i) {
                                 (void)ready.try_send(i);
                                 auto r = co_await ringo::select(ringo::recv(ready), ringo::recv(ringo::after(1ms)));
                                 CHECK(r.index() == 0);
                                 CHECK(ringo::num_timers() == 0);  // at once
                             }
                             ringo::timer stopped(1ms);
                             CHECK(stopped.stop());
                             co_await ringo::sleep_for(5ms);  // past every deadline above
                             CHECK(ringo::num_timers() == 0);
                             CHECK(stopped.c().try_recv().state == ringo::recv_state::would_block);
                             (void)ready.try_send(1);
                             auto r2 = co_await ringo::select(ringo::recv(ready), ringo::recv(ringo::after(1h)));
                             CHECK(r2.index() == 0);
                             chan<int> nobody(0);
                             co_await nobody.recv();  // a deadlock now, not in an hour
                         }()),
                         doctest::Contains("all tasks are asleep - deadlock!"), ringo::deadlock_error);
}

TEST_CASE("a select parked on after() and a channel: one timer while it waits, none once a send wins") {
    ringo::run([]() -> task<void> {
        chan<int> ch(0);
        ringo::go([ch]() -> task<void> {
            for (int i = 0; i < 100; ++i) {
                while (ringo::num_timers() == 0)  // the select below is parked on its after()
                    co_await ringo::yield();
                co_await ch.send(i);
            }
        });
        for (int i = 0; i < 100; ++i) {
            auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(ringo::after(1h)));
            REQUIRE(r.index() == 0);
            CHECK(*r.get<0>() == i);
            CHECK(ringo::num_timers() == 0);
        }
    }());
}

TEST_CASE("timers staged and timers in the heap proper fire together in deadline order; stopped ones never") {
    ringo::run([]() -> task<void> {
        auto fired = std::make_shared<std::vector<clk::time_point>>();
        auto base = std::make_shared<clk::time_point>();
        ringo::wait_group wg;
        auto sleepers = [&wg, fired, base](int first, int count) {
            for (int i = first; i < first + count; ++i) {
                auto offset = std::chrono::microseconds((i * 7919) % 20'000);  // scattered over 20 ms
                wg.go([fired, base, offset]() -> task<void> {
                    auto deadline = *base + offset;
                    co_await ringo::sleep_until(deadline);
                    fired->push_back(deadline);
                });
            }
        };
        *base = clk::now() + 1s;  // ahead of every step below, even on a loaded machine
        sleepers(0, 500);
        std::vector<ringo::timer> sifted_then_stopped, staged_then_stopped, kept;
        for (int i = 0; i < 50; ++i)
            sifted_then_stopped.emplace_back(500ms + std::chrono::milliseconds(i));
        co_await ringo::sleep_for(1ms);  // due: everything staged so far is sifted into the heap
        sleepers(500, 500);              // staged behind it
        for (int i = 0; i < 50; ++i) {
            staged_then_stopped.emplace_back(500ms + std::chrono::milliseconds(i));
            kept.emplace_back(std::chrono::milliseconds(i % 5));
        }
        co_await ringo::yield();  // the second sleepers are parked, staged
        for (auto& t : sifted_then_stopped)
            CHECK(t.stop());
        for (auto& t : staged_then_stopped)
            CHECK(t.stop());
        for (auto& t : kept) {
            auto v = co_await t.c().recv();
            CHECK(v.has_value());
        }
        co_await wg.wait();
        CHECK(fired->size() == 1000u);
        CHECK(std::is_sorted(fired->begin(), fired->end()));
        co_await ringo::sleep_for(1ms);
        for (auto* group : {&sifted_then_stopped, &staged_then_stopped})
            for (auto& t : *group) {
                CHECK_FALSE(t.stop());
                CHECK(t.c().try_recv().state == ringo::recv_state::would_block);
            }
        CHECK(ringo::num_timers() == 0);
    }(), ringo::runtime_options{.threads = 1});  // one heap's order (the vector is unsynchronized too)
}

TEST_CASE("a timer still staged is stopped and reset from other threads, and by tasks on other executors") {
    test::progress_watchdog dog(30s, "staged timers across threads");
    ringo::run([]() -> task<void> {
        for (int i = 0; i < 100; ++i) {
            ringo::timer t(1h);  // staged on this executor (main is pinned)
            auto remote_stop = [&t] { return t.stop(); };
            bool stopped = co_await ringo::blocking(remote_stop);
            CHECK(stopped);
            CHECK(ringo::num_timers() == 0);  // at once, though the home applies it later
            auto remote_reset = [&t] { return t.reset(1ms); };
            bool was_pending = co_await ringo::blocking(remote_reset);
            CHECK_FALSE(was_pending);
            auto v = co_await t.c().recv();
            CHECK(v.has_value());
            t.reset(1h);  // staged again, here
            auto remote_later = [&t] { return t.reset(2h); };
            was_pending = co_await ringo::blocking(remote_later);
            CHECK(was_pending);
            CHECK(t.stop());
            test::tick();
        }
        // Tasks on every executor make timers; tasks elsewhere stop or reset them.
        chan<std::shared_ptr<ringo::timer>> handed(16);
        ringo::wait_group makers, changers;
        constexpr int per_maker = 500;
        for (int m = 0; m < 4; ++m)
            makers.go([handed]() -> task<void> {
                for (int i = 0; i < per_maker; ++i) {
                    auto t = std::make_shared<ringo::timer>(1h);
                    co_await handed.send(std::move(t));
                }
            });
        auto fired = std::make_shared<std::atomic<int>>(0);
        for (int c = 0; c < 4; ++c)
            changers.go([handed, fired, c]() -> task<void> {
                int n = 0;
                while (auto t = co_await handed.recv()) {
                    if ((n++ + c) % 2 == 0) {
                        CHECK((*t)->stop());
                    } else {
                        CHECK((*t)->reset(1ms));
                        auto v = co_await (*t)->c().recv();
                        CHECK(v.has_value());
                        fired->fetch_add(1, std::memory_order_relaxed);
                    }
                    test::tick();
                }
            });
        co_await makers.wait();
        handed.close();
        co_await changers.wait();
        CHECK(fired->load() > 0);
        CHECK(ringo::num_timers() == 0);
    }(), ringo::runtime_options{.threads = 4});
}

}  // TEST_SUITE
