// The channel and select fast paths: select's one-draw random poll order,
// the unlocked readiness probes (try_recv, try_send, try_select and select's
// first pass skip a channel observably not ready), and the inline buffer of a
// capacity-1 channel.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include <ringo/ringo.hpp>

using ringo::chan;
using ringo::task;

namespace {

// One permutation of n cases, as select draws it.
std::vector<std::uint32_t> draw_order(std::size_t n) {
    std::vector<std::uint32_t> order(n);
    auto visit = [](std::size_t, auto&&) {};
    ringo::detail::select_engine<decltype(visit)> engine{visit, order, {}, n};
    engine.permute(false);
    return order;
}

}  // namespace

TEST_SUITE("chan fast paths") {

TEST_CASE("select's poll order: every order of 4 cases, each about equally often") {
    std::map<std::vector<std::uint32_t>, int> seen;
    constexpr int draws = 24 * 1000;
    for (int i = 0; i < draws; ++i)
        ++seen[draw_order(4)];
    CHECK(seen.size() == 24);
    for (auto& [order, count] : seen) {
        // Expected 1000, standard deviation ~31: these bounds fail only if biased.
        CHECK(count > 700);
        CHECK(count < 1300);
    }
}

TEST_CASE("select's poll order: a permutation for many cases, every case at every position (several draws)") {
    for (std::size_t n : {1u, 2u, 3u, 12u, 13u, 20u}) {
        std::vector<std::vector<int>> at(n, std::vector<int>(n, 0));
        for (int i = 0; i < 4000; ++i) {
            std::vector<std::uint32_t> order = draw_order(n);
            std::vector<bool> hit(n, false);
            for (std::size_t p = 0; p < n; ++p) {
                REQUIRE(order[p] < n);
                CHECK_FALSE(hit[order[p]]);
                hit[order[p]] = true;
                ++at[p][order[p]];
            }
        }
        for (std::size_t p = 0; p < n; ++p)
            for (std::size_t c = 0; c < n; ++c)
                CHECK(at[p][c] > 0);
    }
}

TEST_CASE("select_biased keeps the written order") {
    std::vector<std::uint32_t> order(5);
    auto visit = [](std::size_t, auto&&) {};
    ringo::detail::select_engine<decltype(visit)> engine{visit, order, {}, 5};
    engine.permute(true);
    CHECK(order == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("every ready case of a select wins sometimes") {
    ringo::run([]() -> task<void> {
        std::array<chan<int>, 4> c{chan<int>(1), chan<int>(1), chan<int>(1), chan<int>(1)};
        std::array<int, 4> wins{};
        for (int i = 0; i < 4000; ++i) {
            for (auto& ch : c)
                (void)ch.try_send(i);
            auto r = co_await ringo::select(ringo::recv(c[0]), ringo::recv(c[1]), ringo::recv(c[2]), ringo::recv(c[3]));
            ++wins[r.index()];
        }
        for (int w : wins)
            CHECK(w > 700);  // expected 1000 each
    }(), ringo::runtime_options{.threads = 1});
}

TEST_CASE("the probes: try_recv and try_send on empty, full, unbuffered and closed channels") {
    ringo::run([]() -> task<void> {
        chan<int> b(1);
        CHECK(b.try_recv().state == ringo::recv_state::would_block);  // open and empty
        CHECK(b.try_send(1));
        CHECK_FALSE(b.try_send(2));  // open and full
        CHECK(b.len() == 1);
        CHECK(b.cap() == 1);
        b.close();
        CHECK_THROWS_AS(b.try_send(3), ringo::panic_error);  // closed and full: still panics
        auto r = b.try_recv();
        CHECK((r.state == ringo::recv_state::ok && r.value == 1));  // drains after close
        CHECK(b.try_recv().state == ringo::recv_state::closed);

        chan<int> u(0);
        CHECK(u.try_recv().state == ringo::recv_state::would_block);
        CHECK_FALSE(u.try_send(1));
        ringo::wait_group wg;
        wg.go([u]() -> task<void> { CHECK(co_await u.recv() == 7); });
        co_await ringo::yield();  // the receiver parks
        CHECK(u.try_send(7));      // the probe sees it waiting
        co_await wg.wait();
        wg.go([u]() -> task<void> { co_await u.send(8); });
        co_await ringo::yield();  // the sender parks
        auto got = u.try_recv();
        CHECK((got.state == ringo::recv_state::ok && got.value == 8));
        co_await wg.wait();
        u.close();
        CHECK(u.try_recv().state == ringo::recv_state::closed);
    }(), ringo::runtime_options{.threads = 1});
}

TEST_CASE("try_select skips empty channels and still sees a closed one") {
    ringo::run([]() -> task<void> {
        chan<int> a(4), b(0), full(1);
        (void)full.try_send(0);
        int v = 5;
        CHECK_FALSE(ringo::try_select(ringo::recv(a), ringo::recv(b), ringo::send(full, v)).has_value());
        CHECK(v == 5);
        b.close();
        auto r = ringo::try_select(ringo::recv(a), ringo::recv(b), ringo::send(full, v));
        REQUIRE(r.has_value());
        CHECK(r->index() == 1);
        CHECK_FALSE(r->get<1>().has_value());
        co_return;
    }(), ringo::runtime_options{.threads = 1});
}

TEST_CASE("a capacity-1 channel of a small and of a large type keeps values and frees them") {
    ringo::run([]() -> task<void> {
        chan<std::string> s(1);
        std::string big(100, 'x');
        CHECK(s.try_send(big));
        CHECK((co_await s.recv()) == std::string(100, 'x'));
        CHECK(s.try_send(std::string(50, 'y')));  // left buffered: the destructor frees it
        chan<std::array<char, 64>> large(1);
        std::array<char, 64> a{};
        a[63] = 'z';
        CHECK(large.try_send(a));
        CHECK((co_await large.recv())->at(63) == 'z');
    }());
}

TEST_CASE("select and try_select racing with close: every select completes on the closed channel") {
    for (std::size_t cap : {0u, 1u, 8u}) {
        ringo::run([](std::size_t c_cap) -> task<void> {
            for (int round = 0; round < 300; ++round) {
                chan<int> c(c_cap), idle(c_cap);
                ringo::wait_group wg;
                std::atomic<int> saw_closed{0};
                for (int t = 0; t < 3; ++t)
                    wg.go([c, idle, &saw_closed]() -> task<void> {
                        auto r = co_await ringo::select(ringo::recv(idle), ringo::recv(c));
                        if (r.index() == 1 && !r.get<1>().has_value())
                            saw_closed.fetch_add(1);
                    });
                wg.go([c, idle, &saw_closed]() -> task<void> {
                    for (;;) {
                        auto r = ringo::try_select(ringo::recv(idle), ringo::recv(c));
                        if (r) {
                            CHECK(r->index() == 1);
                            saw_closed.fetch_add(1);
                            co_return;
                        }
                        co_await ringo::yield();
                    }
                });
                wg.go([c]() -> task<void> {
                    co_await ringo::yield();
                    c.close();
                });
                co_await wg.wait();
                CHECK(saw_closed.load() == 4);
            }
        }(cap), ringo::runtime_options{.threads = 4});
    }
}

TEST_CASE("try_send and try_recv across threads: every value exactly once") {
    ringo::run([]() -> task<void> {
        constexpr int producers = 3, per = 20000;
        chan<int> c(4);
        std::vector<std::atomic<int>> got(producers * per);
        ringo::wait_group prod, cons;
        for (int p = 0; p < producers; ++p)
            prod.go([c, p]() -> task<void> {
                for (int i = 0; i < per; ++i) {
                    int v = p * per + i;
                    while (!c.try_send(v))
                        co_await ringo::yield();
                }
            });
        for (int k = 0; k < 2; ++k)
            cons.go([c, &got]() -> task<void> {
                for (;;) {
                    auto r = c.try_recv();
                    if (r.state == ringo::recv_state::closed)
                        co_return;
                    if (r.state == ringo::recv_state::ok)
                        got[static_cast<std::size_t>(*r.value)].fetch_add(1);
                    else
                        co_await ringo::yield();
                }
            });
        co_await prod.wait();
        c.close();
        co_await cons.wait();
        int wrong = 0;
        for (auto& g : got)
            wrong += g.load() != 1;
        CHECK(wrong == 0);
    }(), ringo::runtime_options{.threads = 4});
}

}  // TEST_SUITE
