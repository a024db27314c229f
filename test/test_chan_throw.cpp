// A T whose move constructor throws during a hand-off: the exception reaches
// the caller, the channel stays unlocked and consistent, no waiter is lost and
// no value leaks (chan.hpp states what happens to the value on each path).
// Every test here hung (a channel lock left held) or lost a waiter before.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <ringo/ringo.hpp>

#include "lifetime.hpp"
#include "throwing.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::chan;
using ringo::task;
using test::lifetime_counts;
using test::move_failure;
using test::throw_on_move;
using test::throwing;

namespace {

// Runs body as main on one thread (the steps below are deterministic), after
// resetting the counts; checks that every object was destroyed, none copied.
template <class F>
void run1(F body) {
    lifetime_counts.reset();
    throw_on_move = 0;
    ringo::run(body(), ringo::runtime_options{.threads = 1});
    throw_on_move = 0;
    CHECK(lifetime_counts.copied == 0);
    CHECK(lifetime_counts.alive() == 0);
}

// What a parked helper task reports back.
struct outcome {
    std::optional<int> got;  // a value it received
    bool done = false;       // its operation completed
    bool threw = false;      // its operation threw move_failure
    bool kept = false;       // its own value survived (not moved from)
    std::size_t index = 99;  // the case its select completed
};

}  // namespace

TEST_SUITE("chan: throwing moves") {

TEST_CASE("a send whose value throws moving to a parked receiver changes nothing; the receiver still waits") {
    test::progress_watchdog dog(30s, "throwing send to a parked receiver");
    run1([]() -> task<void> {
        chan<throwing> ch(0);
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, std::shared_ptr<outcome> o) -> task<void> {
            auto v = co_await c.recv();
            o->got = v->value();
            o->done = true;
        }, ch, out);
        co_await ringo::yield();  // the receiver parks

        throwing x(7);
        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_send(x), move_failure);
        CHECK(x.valid());  // the sender keeps its value

        throwing y(8);
        auto send = ch.send(std::move(y));  // moved into the awaiter: not yet a hand-off
        throw_on_move = 1;
        bool threw = false;
        try {
            co_await send;
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        test::tick();

        CHECK_FALSE(out->done);
        CHECK(ch.try_send(x));  // the receiver is still queued: it takes x
        co_await ringo::yield();
        CHECK(out->done);
        CHECK(out->got == 7);
    });
}

TEST_CASE("a receive that throws taking a parked sender's value changes nothing; the sender still waits") {
    test::progress_watchdog dog(30s, "throwing receive from a parked sender");
    run1([]() -> task<void> {
        chan<throwing> ch(0);
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, std::shared_ptr<outcome> o) -> task<void> {
            throwing v(5);
            co_await c.send(std::move(v));
            o->done = true;
        }, ch, out);
        co_await ringo::yield();  // the sender parks

        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_recv(), move_failure);

        auto recv = ch.recv();
        throw_on_move = 1;
        bool threw = false;
        try {
            auto v = co_await recv;
            CHECK_FALSE(v.has_value());  // not reached
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        test::tick();

        CHECK_FALSE(out->done);
        auto r = ch.try_recv();  // the sender is still queued, with its value
        REQUIRE(r.state == ringo::recv_state::ok);
        CHECK(r.value->value() == 5);
        co_await ringo::yield();
        CHECK(out->done);
    });
}

TEST_CASE("a send that throws moving into the buffer leaves it as it was") {
    test::progress_watchdog dog(30s, "throwing send into the buffer");
    run1([]() -> task<void> {
        chan<throwing> ch(2);
        throwing x(1);
        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_send(x), move_failure);
        CHECK(x.valid());

        throwing y(2);
        auto send = ch.send(std::move(y));
        throw_on_move = 1;
        bool threw = false;
        try {
            co_await send;
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        test::tick();

        CHECK(ch.len() == 0);
        CHECK(ch.try_send(x));
        throwing z(3);
        co_await ch.send(std::move(z));
        auto first = co_await ch.recv();
        auto second = co_await ch.recv();
        CHECK(first->value() == 1);
        CHECK(second->value() == 3);
    });
}

TEST_CASE("a receive that throws taking the buffer's head leaves it first") {
    test::progress_watchdog dog(30s, "throwing receive from the buffer");
    run1([]() -> task<void> {
        chan<throwing> ch(2);
        throwing a(1), b(2);
        CHECK(ch.try_send(a));
        CHECK(ch.try_send(b));

        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_recv(), move_failure);
        auto recv = ch.recv();
        throw_on_move = 1;
        bool threw = false;
        try {
            auto v = co_await recv;
            CHECK_FALSE(v.has_value());  // not reached
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        test::tick();

        CHECK(ch.len() == 2);
        auto first = co_await ch.recv();
        auto second = co_await ch.recv();
        CHECK(first->value() == 1);
        CHECK(second->value() == 2);
    });
}

TEST_CASE("a receive from a full buffer whose parked sender's value throws: the receive succeeds, that send throws") {
    test::progress_watchdog dog(30s, "throwing refill from a parked sender");
    run1([]() -> task<void> {
        chan<throwing> ch(1);
        throwing a(1);
        CHECK(ch.try_send(a));
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, std::shared_ptr<outcome> o) -> task<void> {
            throwing v(2);
            try {
                co_await c.send(std::move(v));
                o->done = true;
            } catch (const move_failure&) {
                o->threw = true;
            }
        }, ch, out);
        co_await ringo::yield();  // the sender parks: the buffer is full

        throw_on_move = 2;  // the head moves out; the sender's value throws moving in
        auto r = ch.try_recv();
        REQUIRE(r.state == ringo::recv_state::ok);
        CHECK(r.value->value() == 1);
        CHECK(ch.len() == 0);
        co_await ringo::yield();
        CHECK(out->threw);  // woken with the exception, not lost
        CHECK_FALSE(out->done);
        test::tick();

        throwing c(3);  // still a working channel
        co_await ch.send(std::move(c));
        auto v = co_await ch.recv();
        CHECK(v->value() == 3);
    });
}

TEST_CASE("a parked select meeting a throwing send stays parked on all its cases") {
    test::progress_watchdog dog(30s, "throwing send to a parked select");
    run1([]() -> task<void> {
        chan<throwing> ch(0);
        chan<int> other(0);
        auto out = std::make_shared<outcome>();
        auto selector = [](chan<throwing> c, chan<int> d, std::shared_ptr<outcome> o) -> task<void> {
            auto r = co_await ringo::select(ringo::recv(c), ringo::recv(d));
            o->index = r.index();
            if (r.index() == 0)
                o->got = r.get<0>()->value();
            o->done = true;
        };
        ringo::go(selector, ch, other, out);
        co_await ringo::yield();  // the select parks

        throwing x(4);
        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_send(x), move_failure);
        CHECK(x.valid());
        CHECK_FALSE(out->done);
        CHECK(other.try_send(9));  // not claimed: the other case can still win
        co_await ringo::yield();
        CHECK(out->index == 1);
        test::tick();

        auto out2 = std::make_shared<outcome>();
        ringo::go(selector, ch, other, out2);
        co_await ringo::yield();
        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_send(x), move_failure);
        CHECK(ch.try_send(x));  // and the failed case itself can win later
        co_await ringo::yield();
        CHECK(out2->index == 0);
        CHECK(out2->got == 4);
    });
}

TEST_CASE("a parked select's send case meeting a throwing receive stays parked with its value") {
    test::progress_watchdog dog(30s, "throwing receive from a parked select");
    run1([]() -> task<void> {
        chan<throwing> ch(0);
        chan<int> never(0);
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, chan<int> n, std::shared_ptr<outcome> o) -> task<void> {
            throwing mine(6);
            auto r = co_await ringo::select(ringo::send(c, mine), ringo::recv(n));
            o->index = r.index();
            o->kept = mine.valid();
            o->done = true;
        }, ch, never, out);
        co_await ringo::yield();

        throw_on_move = 1;
        CHECK_THROWS_AS(ch.try_recv(), move_failure);
        CHECK_FALSE(out->done);
        auto r = ch.try_recv();
        REQUIRE(r.state == ringo::recv_state::ok);
        CHECK(r.value->value() == 6);
        co_await ringo::yield();
        CHECK(out->index == 0);
        CHECK_FALSE(out->kept);  // it won: moved from
        test::tick();
    });
}

TEST_CASE("a parked select's send case whose value throws joining a full buffer: the select throws, keeping it") {
    test::progress_watchdog dog(30s, "throwing refill from a parked select");
    run1([]() -> task<void> {
        chan<throwing> ch(1);
        chan<int> never(0);
        throwing a(1);
        CHECK(ch.try_send(a));
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, chan<int> n, std::shared_ptr<outcome> o) -> task<void> {
            throwing mine(2);
            try {
                auto r = co_await ringo::select(ringo::send(c, mine), ringo::recv(n));
                o->index = r.index();
            } catch (const move_failure&) {
                o->threw = true;
            }
            o->kept = mine.valid();
        }, ch, never, out);
        co_await ringo::yield();

        throw_on_move = 2;
        auto r = ch.try_recv();
        REQUIRE(r.state == ringo::recv_state::ok);
        CHECK(r.value->value() == 1);
        co_await ringo::yield();
        CHECK(out->threw);
        CHECK(out->kept);
        CHECK(ch.len() == 0);
        test::tick();
    });
}

TEST_CASE("a select whose ready case throws moving its value throws, completes nothing, and keeps the value") {
    test::progress_watchdog dog(30s, "throwing select cases");
    run1([]() -> task<void> {
        chan<throwing> buffered(1), unbuffered(0);
        chan<int> never(0);
        throwing x(3);

        // Send case into the buffer.
        throw_on_move = 1;
        bool threw = false;
        try {
            auto r = co_await ringo::select(ringo::send(buffered, x), ringo::recv(never));
            CHECK(r.index() == 99);  // not reached
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        CHECK(x.valid());
        CHECK(buffered.len() == 0);
        test::tick();

        // Send case to a parked receiver.
        auto out = std::make_shared<outcome>();
        ringo::go([](chan<throwing> c, std::shared_ptr<outcome> o) -> task<void> {
            auto v = co_await c.recv();
            o->got = v->value();
        }, unbuffered, out);
        co_await ringo::yield();
        throw_on_move = 1;
        threw = false;
        try {
            auto r = co_await ringo::select_biased(ringo::send(unbuffered, x), ringo::recv(never));
            CHECK(r.index() == 99);
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        CHECK(x.valid());
        throw_on_move = 1;
        CHECK_THROWS_AS((void)ringo::try_select(ringo::send(unbuffered, x)), move_failure);
        CHECK(x.valid());
        auto r = ringo::try_select(ringo::send(unbuffered, x));  // the receiver still waits
        CHECK(r.has_value());
        co_await ringo::yield();
        CHECK(out->got == 3);
        test::tick();

        // Receive case from the buffer.
        throwing b(4);
        CHECK(buffered.try_send(b));
        throw_on_move = 1;
        threw = false;
        try {
            auto r2 = co_await ringo::select(ringo::recv(buffered), ringo::recv(never));
            CHECK(r2.index() == 99);
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        CHECK(buffered.len() == 1);
        auto r3 = co_await ringo::select(ringo::recv(buffered), ringo::recv(never));
        CHECK(r3.get<0>()->value() == 4);

        // Dynamic form: a send case keeps its value.
        std::vector<ringo::select_case<throwing>> cases;
        throwing d(5);
        cases.push_back(ringo::select_case<throwing>::send(buffered, std::move(d)));
        cases.push_back(ringo::select_case<throwing>::recv(chan<throwing>()));
        throw_on_move = 1;
        threw = false;
        try {
            std::size_t i = co_await ringo::select(cases);
            CHECK(i == 99);
        } catch (const move_failure&) {
            threw = true;
        }
        CHECK(threw);
        REQUIRE(cases[0].value.has_value());
        CHECK(cases[0].value->value() == 5);
        std::size_t i = co_await ringo::select(cases);
        CHECK(i == 0);
        CHECK_FALSE(cases[0].value.has_value());
        auto v = co_await buffered.recv();
        CHECK(v->value() == 5);
    });
}

TEST_CASE("stress: throwing moves race with other cases on 4 threads; every value arrives exactly once") {
    // Producers send through select(send(a), send(b)), every third value
    // failing its first move (the producer retries with it); consumers select
    // over both. A throwing hand-off reserves a parked select's claim while a
    // counterpart on the other channel waits for it: that is the race here.
    constexpr int producers = 4, consumers = 3, per_producer = 2000;
    test::progress_watchdog dog(60s, "throwing-move stress");
    lifetime_counts.reset();
    auto got = ringo::run([]() -> task<std::vector<int>> {
        chan<throwing> a(0), b(2);
        chan<int> produced(producers);
        chan<std::vector<int>> results(consumers);
        for (int p = 0; p < producers; ++p)
            ringo::go([](chan<throwing> x, chan<throwing> y, chan<int> done, int id) -> task<void> {
                int lost = 0;  // values gone after a failed send (expected: none)
                for (int k = 0; k < per_producer; ++k) {
                    throwing v(id * per_producer + k, k % 3 == 0 ? 1 : 0);
                    for (;;) {
                        try {
                            co_await ringo::select(ringo::send(x, v), ringo::send(y, v));
                            break;
                        } catch (const move_failure&) {
                            lost += v.valid() ? 0 : 1;  // kept: try again
                        }
                    }
                    test::tick();
                }
                co_await done.send(lost);
            }, a, b, produced, p);
        for (int c = 0; c < consumers; ++c)
            ringo::go([](chan<throwing> x, chan<throwing> y, chan<std::vector<int>> out) -> task<void> {
                std::vector<int> mine;
                while (x || y) {
                    try {
                        auto r = co_await ringo::select(ringo::recv(x), ringo::recv(y));
                        auto v = r.index() == 0 ? r.get<0>() : r.get<1>();
                        if (v)
                            mine.push_back(v->value());
                        else
                            (r.index() == 0 ? x : y) = {};  // closed and drained
                    } catch (const move_failure&) {
                        // a parked sender's value threw: it stays with its sender
                    }
                }
                co_await out.send(std::move(mine));
            }, a, b, results);
        for (int p = 0; p < producers; ++p) {
            auto lost = co_await produced.recv();
            CHECK(lost == 0);
        }
        a.close();
        b.close();
        std::vector<int> all;
        for (int c = 0; c < consumers; ++c) {
            auto part = co_await results.recv();
            all.insert(all.end(), part->begin(), part->end());
        }
        co_return all;
    }(), ringo::runtime_options{.threads = 4});
    REQUIRE(got.size() == std::size_t{producers * per_producer});
    std::vector<int> seen(producers * per_producer);
    for (int v : got)
        ++seen[static_cast<std::size_t>(v)];
    CHECK(std::count(seen.begin(), seen.end(), 1) == producers * per_producer);
    CHECK(lifetime_counts.copied == 0);
    CHECK(lifetime_counts.alive() == 0);
}

}  // TEST_SUITE
