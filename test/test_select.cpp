// select: Go's selectgo semantics - random choice, losers untouched, send and
// receive cases, nil and closed channels, the dynamic form, and a stress test
// in which every value is received exactly once.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ringo/ringo.hpp>

#include "lifetime.hpp"

using ringo::chan;
using ringo::task;
using test::lifetime;
using test::lifetime_counts;

TEST_SUITE("select") {

TEST_CASE("select receives from the ready case and reports its index") {
    ringo::run([]() -> task<void> {
        chan<int> a(1), b(1);
        co_await b.send(7);
        auto r = co_await ringo::select(ringo::recv(a), ringo::recv(b));
        CHECK(r.index() == 1);
        auto v = r.get<1>();
        CHECK(v == 7);
    }());
}

TEST_CASE("select blocks until a case is ready, then completes exactly that one") {
    ringo::run([]() -> task<void> {
        chan<int> a(0), b(0), out(0);
        ringo::go([](chan<int> c) -> task<void> { co_await c.send(5); }, b);
        int sent_value = 99;
        auto r = co_await ringo::select(ringo::recv(a), ringo::recv(b), ringo::send(out, sent_value));
        CHECK(r.index() == 1);
        CHECK(r.get<1>() == 5);
        CHECK(a.len() == 0);
        CHECK(sent_value == 99);  // the losing send case left its value alone
    }());
}

TEST_CASE("a send case delivers to a waiting receiver") {
    int got = ringo::run([]() -> task<int> {
        chan<int> out(0);
        auto result = std::make_shared<int>(0);
        ringo::go([](chan<int> c, std::shared_ptr<int> res) -> task<void> { *res = *(co_await c.recv()); }, out,
                  result);
        co_await ringo::yield();  // the receiver waits
        chan<int> never(0);
        auto r = co_await ringo::select(ringo::recv(never), ringo::send(out, 11));
        CHECK(r.index() == 1);
        co_await ringo::yield();
        co_return *result;
    }(), ringo::runtime_options{.threads = 1});  // explicit steps: one executor
    CHECK(got == 11);
}

TEST_CASE("a send case's value is moved from only if it wins (move-only type)") {
    ringo::run([]() -> task<void> {
        chan<std::unique_ptr<int>> full(1);
        co_await full.send(std::make_unique<int>(0));
        chan<int> ready(1);
        co_await ready.send(1);
        auto p = std::make_unique<int>(5);
        auto r = co_await ringo::select(ringo::send(full, std::move(p)), ringo::recv(ready));
        CHECK(r.index() == 1);
        REQUIRE(p != nullptr);  // lost: untouched
        CHECK(*p == 5);
        chan<std::unique_ptr<int>> room(1);
        auto r2 = co_await ringo::select(ringo::send(room, std::move(p)), ringo::recv(chan<int>()));
        CHECK(r2.index() == 0);
        CHECK(p == nullptr);  // won: moved into the channel
        auto got = room.try_recv();
        CHECK(**got.value == 5);
    }());
}

// A send case refers to a non-const lvalue of any T, move-only included.
template <class C, class V>
concept can_send_case = requires(const C& c, V&& v) { ringo::send(c, std::forward<V>(v)); };
static_assert(can_send_case<chan<std::unique_ptr<int>>, std::unique_ptr<int>&>);
static_assert(can_send_case<ringo::send_chan<std::unique_ptr<int>>, std::unique_ptr<int>&>);
static_assert(can_send_case<chan<std::unique_ptr<int>>, std::unique_ptr<int>>);
static_assert(!can_send_case<chan<std::unique_ptr<int>>, const std::unique_ptr<int>&>);
static_assert(can_send_case<chan<std::string>, const char*>);  // converted and owned
static_assert(!can_send_case<chan<std::string>, int*>);

TEST_CASE("a send case refers to an lvalue of a move-only type: the losing case never moves it, the winner does") {
    ringo::run([]() -> task<void> {
        chan<std::unique_ptr<int>> full(1), empty(1);
        co_await full.send(std::make_unique<int>(1));
        auto mine = std::make_unique<int>(2);
        auto r = co_await ringo::select(ringo::send(full, mine), ringo::send(empty, mine));
        CHECK(r.index() == 1);
        CHECK(mine == nullptr);  // the winner moved it
        auto sent = empty.try_recv();
        REQUIRE(sent.value.has_value());
        REQUIRE(*sent.value != nullptr);  // the loser did not move it first
        CHECK(**sent.value == 2);

        mine = std::make_unique<int>(3);
        chan<int> ready(1);
        co_await ready.send(0);
        auto r2 = co_await ringo::select_biased(ringo::recv(ready), ringo::send(full, mine));
        CHECK(r2.index() == 0);
        REQUIRE(mine != nullptr);
        CHECK_FALSE(ringo::try_select(ringo::send(full, mine)).has_value());
        REQUIRE(mine != nullptr);
        CHECK(*mine == 3);

        ringo::send_chan<std::unique_ptr<int>> out = empty;
        auto r3 = ringo::try_select(ringo::send(full, mine), ringo::send(out, mine));
        REQUIRE(r3.has_value());
        CHECK(r3->index() == 1);
        CHECK(mine == nullptr);
        CHECK(**empty.try_recv().value == 3);
        CHECK(**full.try_recv().value == 1);  // never touched
    }());
}

TEST_CASE("Go's TestPseudoRandomSend: two send cases on one channel both get through, parked or not") {
    constexpr int n = 100;
    for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
        CAPTURE(cap);
        auto values = ringo::run([](std::size_t c_cap) -> task<std::vector<int>> {
            chan<int> c(c_cap);
            auto got = std::make_shared<std::vector<int>>();
            chan<std::monostate> done(0);
            ringo::go([](chan<int> ch, std::shared_ptr<std::vector<int>> g, chan<std::monostate> d) -> task<void> {
                for (int i = 0; i < n; ++i) {
                    co_await ringo::yield();  // the select parks first (when unbuffered)
                    auto v = co_await ch.recv();
                    g->push_back(*v);
                }
                d.close();
            }, c, got, done);
            for (int i = 0; i < n; ++i) {
                int one = 1, zero = 0;
                co_await ringo::select(ringo::send(c, one), ringo::send(c, zero));
            }
            co_await done.recv();
            co_return *got;
        }(cap), ringo::runtime_options{.threads = 1});
        REQUIRE(values.size() == n);
        int ones = 0;
        for (int v : values)
            ones += v;
        CHECK(ones > n / 10);
        CHECK(n - ones > n / 10);
    }
}

TEST_CASE("a parked select with two receive cases on one channel wakes either (static and dynamic forms)") {
    constexpr int rounds = 1000;
    struct hits {
        std::array<int, 2> fixed{}, dynamic{}, biased{};
    };
    auto h = ringo::run([]() -> task<hits> {
        hits out;
        chan<int> ch(0);
        ringo::go([](chan<int> c) -> task<void> {
            for (int i = 0; i < 3 * rounds; ++i) {
                co_await ringo::yield();  // the select parks first
                co_await c.send(i);
            }
        }, ch);
        for (int i = 0; i < rounds; ++i) {
            auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(ch));
            ++out.fixed[r.index()];
        }
        std::vector<ringo::select_case<int>> cases;
        cases.push_back(ringo::select_case<int>::recv(ch));
        cases.push_back(ringo::select_case<int>::recv(ch));
        for (int i = 0; i < rounds; ++i) {
            std::size_t k = co_await ringo::select(cases);
            ++out.dynamic[k];
        }
        for (int i = 0; i < rounds; ++i) {
            auto r = co_await ringo::select_biased(ringo::recv(ch), ringo::recv(ch));
            ++out.biased[r.index()];
        }
        co_return out;
    }(), ringo::runtime_options{.threads = 1});
    for (int k = 0; k < 2; ++k) {  // expected 500 each; 100 is > 25 standard deviations away
        CHECK(h.fixed[k] >= 100);
        CHECK(h.dynamic[k] >= 100);
    }
    CHECK(h.biased[0] == rounds);  // select_biased keeps the written order
}

TEST_CASE("ready cases are chosen uniformly at random") {
    std::array<int, 4> hits{};
    ringo::run([](std::array<int, 4>& h) -> task<void> {
        std::array<chan<int>, 4> chans{chan<int>(1), chan<int>(1), chan<int>(1), chan<int>(1)};
        for (auto& c : chans)
            co_await c.send(0);
        for (int i = 0; i < 40'000; ++i) {
            auto r = co_await ringo::select(ringo::recv(chans[0]), ringo::recv(chans[1]), ringo::recv(chans[2]),
                                            ringo::recv(chans[3]));
            ++h[r.index()];
            co_await chans[r.index()].send(0);  // ready again
        }
    }(hits));
    for (int n : hits) {  // expected 10,000 each; 8,500 is > 30 standard deviations away
        CHECK(n > 8'500);
        CHECK(n < 11'500);
    }
}

// select and select_biased are awaitable only as the temporary they are
// written as: a stored one's send cases may refer to destroyed temporaries.
template <class S>
concept awaitable_as_lvalue = requires(S& s) { s.operator co_await(); } || requires(S& s) { s.await_ready(); };
template <class S>
concept awaitable_as_rvalue = requires(S&& s) {
    static_cast<S&&>(s).operator co_await().await_ready();
    static_cast<S&&>(s).operator co_await().await_resume();
};
using two_cases = ringo::select<ringo::detail::recv_case<int>, ringo::detail::send_case<int>>;
using two_biased = ringo::select_biased<ringo::detail::recv_case<int>, ringo::detail::send_case<int>>;
static_assert(std::is_same_v<decltype(ringo::select(ringo::recv(std::declval<chan<int>&>()),
                                                    ringo::send(std::declval<chan<int>&>(), 1))),
                             two_cases>);
static_assert(!awaitable_as_lvalue<two_cases> && awaitable_as_rvalue<two_cases>);
static_assert(!awaitable_as_lvalue<two_biased> && awaitable_as_rvalue<two_biased>);
static_assert(!awaitable_as_lvalue<const two_cases>);

TEST_CASE("select_biased takes the first ready case in written order") {
    ringo::run([]() -> task<void> {
        chan<int> a(1), b(1);
        for (int i = 0; i < 100; ++i) {
            co_await a.send(1);
            co_await b.send(2);
            auto r = co_await ringo::select_biased(ringo::recv(a), ringo::recv(b));
            CHECK(r.index() == 0);
            auto r2 = co_await ringo::select_biased(ringo::recv(a), ringo::recv(b));
            CHECK(r2.index() == 1);
        }
    }());
}

TEST_CASE("try_select is select with a default case") {
    chan<int> a(1), b(0);
    auto none = ringo::try_select(ringo::recv(a), ringo::send(b, 1));
    CHECK_FALSE(none.has_value());
    CHECK(a.try_send(3));
    auto some = ringo::try_select(ringo::recv(a), ringo::send(b, 1));
    REQUIRE(some.has_value());
    CHECK(some->index() == 0);
    CHECK(some->get<0>() == 3);
}

TEST_CASE("nil channels disable their case; closed channels are always ready") {
    ringo::run([]() -> task<void> {
        chan<int> nil, closed(0);
        closed.close();
        auto r = co_await ringo::select(ringo::recv(nil), ringo::send(nil, 1), ringo::recv(closed));
        CHECK(r.index() == 2);
        CHECK_FALSE(r.get<2>().has_value());
        CHECK_FALSE(ringo::try_select(ringo::recv(nil)).has_value());
    }());
}

TEST_CASE("a select of only nil channels blocks forever") {
    CHECK_THROWS_WITH_AS(ringo::run([]() -> task<void> {
                             chan<int> nil;
                             co_await ringo::select(ringo::recv(nil), ringo::send(nil, 1));
                         }()),
                         doctest::Contains("[select] test/test_select.cpp:"), ringo::deadlock_error);
}

TEST_CASE("a send case on a closed channel panics when chosen") {
    ringo::run([]() -> task<void> {
        chan<int> closed(1);
        closed.close();
        bool panicked = false;
        try {
            co_await ringo::select(ringo::send(closed, 1));
        } catch (const ringo::panic_error& e) {
            panicked = std::string(e.what()).find("send on closed channel") != std::string::npos;
        }
        CHECK(panicked);
    }());
}

TEST_CASE("close wakes a parked select with the closed case") {
    ringo::run([]() -> task<void> {
        chan<int> a(0), b(0);
        ringo::go([](chan<int> c) -> task<void> {
            co_await ringo::yield();
            c.close();
        }, b);
        auto r = co_await ringo::select(ringo::recv(a), ringo::recv(b));
        CHECK(r.index() == 1);
        CHECK_FALSE(r.get<1>().has_value());
    }());
}

TEST_CASE("overloads for send_chan and recv_chan, and temporaries living for the full expression") {
    ringo::run([]() -> task<void> {
        chan<int> ch(1);
        ringo::send_chan<int> out = ch;
        ringo::recv_chan<int> in = ch;
        auto r = co_await ringo::select(ringo::send(out, 4), ringo::recv(ringo::recv_chan<int>(chan<int>(0))));
        CHECK(r.index() == 0);
        auto r2 = co_await ringo::select(ringo::recv(in), ringo::recv(chan<int>(1)));
        CHECK(r2.index() == 0);
        CHECK(r2.get<0>() == 4);
    }());
}

TEST_CASE("the same channel in a send and a receive case") {
    ringo::run([]() -> task<void> {
        chan<int> ch(1);
        auto r = co_await ringo::select(ringo::recv(ch), ringo::send(ch, 1));
        CHECK(r.index() == 1);  // empty: only the send is ready
        auto r2 = co_await ringo::select(ringo::recv(ch), ringo::send(ch, 2));
        CHECK(r2.index() == 0);  // full: only the receive is ready
        CHECK(r2.get<0>() == 1);
    }());
}

TEST_CASE("no element leaks or is copied through select; parked selects are unlinked at teardown") {
    lifetime_counts.reset();
    ringo::run([]() -> task<void> {
        chan<lifetime> a(2), b(0);
        ringo::go([](chan<lifetime> c) -> task<void> {
            for (int i = 0; i < 50; ++i)
                co_await c.send(lifetime{i});
        }, a);
        for (int i = 0; i < 50; ++i) {
            lifetime mine{1000 + i};
            auto r = co_await ringo::select(ringo::recv(a), ringo::send(b, mine));
            CHECK(r.index() == 0);
            CHECK(mine.valid);
            auto v = r.get<0>();
            CHECK(v->value == i);
        }
        for (int i = 0; i < 5; ++i)  // parked forever: destroyed when main returns
            ringo::go([](chan<lifetime> x, chan<lifetime> y) -> task<void> {
                lifetime keep{-1};
                co_await ringo::select(ringo::recv(x), ringo::send(y, keep));
            }, a, b);
        co_await ringo::yield();
    }());
    CHECK(lifetime_counts.copied == 0);
    CHECK(lifetime_counts.alive() == 0);
}

TEST_CASE("dynamic select over a vector of cases; losing send cases keep their values") {
    ringo::run([]() -> task<void> {
        chan<std::string> a(0), b(1), c(1);
        co_await c.send("from c");
        std::vector<ringo::select_case<std::string>> cases;
        cases.push_back(ringo::select_case<std::string>::send(a, "keep me"));
        cases.push_back(ringo::select_case<std::string>::recv(c));
        std::size_t i = co_await ringo::select(cases);
        CHECK(i == 1);
        CHECK(cases[1].value == "from c");
        CHECK(cases[0].value == "keep me");

        cases.push_back(ringo::select_case<std::string>::send(b, "to b"));
        i = co_await ringo::select(cases);  // c is empty, a has no receiver: b wins
        CHECK(i == 2);
        CHECK_FALSE(cases[2].value.has_value());  // sent
        CHECK(cases[0].value == "keep me");
        CHECK(b.try_recv().value == "to b");

        ringo::go([](chan<std::string> x) -> task<void> { co_await x.recv(); }, a);
        i = co_await ringo::select(cases);  // parks; the receiver takes a's value
        CHECK((i == 0 || i == 2));
        if (i == 0)
            CHECK_FALSE(cases[0].value.has_value());
    }());
}

TEST_CASE("stress: several producers and consumers selecting over receive and send cases, with closes") {
    // Producers send unique values through select(send(own), send(spill)) and
    // close their own channel when done; consumers select over every input
    // (nil once closed) and a send of the oldest value they hold to `out`; a
    // collector checks that every value arrives exactly once.
    constexpr int producers = 4, consumers = 3;
    constexpr std::uint64_t per_producer = 3000;
    struct shared {
        std::vector<chan<std::uint64_t>> in;
        chan<std::uint64_t> spill{2}, out{1};
        std::atomic<int> producers_left{producers}, consumers_left{consumers};  // tasks on any thread
    };
    auto received = ringo::run([]() -> task<std::vector<std::uint64_t>> {
        auto s = std::make_shared<shared>();
        const std::size_t caps[producers] = {0, 1, 4, 0};
        for (std::size_t c : caps)
            s->in.emplace_back(c);
        for (int p = 0; p < producers; ++p)
            ringo::go([](std::shared_ptr<shared> st, int id) -> task<void> {
                for (std::uint64_t k = 0; k < per_producer; ++k) {
                    std::uint64_t v = (static_cast<std::uint64_t>(id) << 32) | k;
                    co_await ringo::select(ringo::send(st->in[id], v), ringo::send(st->spill, v));
                    if (k % 97 == 0)
                        co_await ringo::yield();
                }
                st->in[id].close();
                if (--st->producers_left == 0)
                    st->spill.close();
            }, s, p);
        for (int c = 0; c < consumers; ++c)
            ringo::go([](std::shared_ptr<shared> st) -> task<void> {
                auto in = st->in;
                chan<std::uint64_t> spill = st->spill;
                std::deque<std::uint64_t> held;
                for (;;) {
                    bool inputs_open = spill || in[0] || in[1] || in[2] || in[3];
                    if (!inputs_open && held.empty())
                        break;
                    std::uint64_t next = held.empty() ? 0 : held.front();
                    chan<std::uint64_t> out = held.empty() ? chan<std::uint64_t>() : st->out;
                    auto r = co_await ringo::select(ringo::recv(in[0]), ringo::recv(in[1]), ringo::recv(in[2]),
                                                    ringo::recv(in[3]), ringo::recv(spill), ringo::send(out, next));
                    std::size_t i = r.index();
                    if (i == 5) {
                        held.pop_front();
                        continue;
                    }
                    std::optional<std::uint64_t> v;
                    switch (i) {
                    case 0: v = r.get<0>(); break;
                    case 1: v = r.get<1>(); break;
                    case 2: v = r.get<2>(); break;
                    case 3: v = r.get<3>(); break;
                    default: v = r.get<4>(); break;
                    }
                    if (v)
                        held.push_back(*v);
                    else if (i == 4)
                        spill = {};  // closed: disable the case, as Go code sets it to nil
                    else
                        in[i] = {};
                }
                if (--st->consumers_left == 0)
                    st->out.close();
            }, s);
        std::vector<std::uint64_t> got;
        while (auto v = co_await s->out.recv())
            got.push_back(*v);
        co_return got;
    }());
    REQUIRE(received.size() == producers * per_producer);
    std::vector<std::vector<bool>> seen(producers, std::vector<bool>(per_producer));
    std::uint64_t duplicates = 0;
    for (std::uint64_t v : received) {
        auto flag = seen[v >> 32][v & 0xffffffff];
        duplicates += flag ? 1 : 0;
        flag = true;
    }
    CHECK(duplicates == 0);
}

}  // TEST_SUITE
