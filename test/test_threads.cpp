// The multi-threaded runtime: tasks spread over 2 and 4 executors, wake-ups
// across threads, no false deadlock, real deadlocks still found, and every
// primitive under contention. Run under ThreadSanitizer in CI. A progress
// watchdog turns a lost wake-up (a hang) into a failure; no test has a limit
// on its total time, so a loaded machine only makes them slower.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ringo/ringo.hpp>

#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::chan;
using ringo::task;

#ifdef RINGO_TEST_FULL_DEPTH
constexpr int pingpongs = 200'000;
constexpr int per_producer = 100'000;
#else
constexpr int pingpongs = 20'000;
constexpr int per_producer = 5'000;
#endif

namespace {

unsigned executor_index() { return ringo::detail::current_executor()->index(); }

}  // namespace

TEST_SUITE("threads") {

TEST_CASE("cross-thread ping-pong never raises a false deadlock") {
    test::progress_watchdog dog(30s, "ping-pong");
    auto homes = ringo::run(
        []() -> task<std::pair<unsigned, unsigned>> {
            chan<int> ping(0), pong(0);
            auto other = std::make_shared<unsigned>(99);
            ringo::detail::go_pinned(1, [ping, pong, other]() -> task<void> {
                *other = executor_index();
                while (auto v = co_await ping.recv())
                    co_await pong.send(*v + 1);
            });
            for (int i = 0; i < pingpongs; ++i) {
                co_await ping.send(i);
                auto v = co_await pong.recv();
                REQUIRE(v == i + 1);
                test::tick();
            }
            ping.close();
            co_return std::pair{executor_index(), *other};
        }(),
        ringo::runtime_options{.threads = 2});
    CHECK(homes.first == 0);
    CHECK(homes.second == 1);  // the two really were on different threads
}

namespace {

// ~10 us of work that never yields.
void short_work() {
    auto until = std::chrono::steady_clock::now() + 10us;
    while (std::chrono::steady_clock::now() < until) {
    }
}

// Head-of-line blocking: a task that computes without yielding until 200
// short tasks have all finished. Without work stealing, the short tasks
// queued behind it (in its executor's queue or run-next slot) would never
// run: the busy task would spin forever and the watchdog would fail the
// test. The order asserted: every short task finishes while the busy one is
// still running. `spawner_is_busy`: the busy task starts the short ones
// itself (they land on its own executor, as go() places them), else main does.
bool short_tasks_finish_behind_a_busy_one(bool spawner_is_busy) {
    return ringo::run(
        [](bool from_busy) -> task<bool> {
            constexpr int shorts = 200;
            auto finished = std::make_shared<std::atomic<int>>(0);
            auto finished_before_busy_ended = std::make_shared<std::atomic<int>>(-1);
            ringo::wait_group wg;
            auto start_shorts = [finished, &wg] {
                for (int i = 0; i < shorts; ++i)
                    wg.go([finished]() -> task<void> {
                        short_work();
                        finished->fetch_add(1);
                        test::tick();
                        co_return;
                    });
            };
            wg.go([finished, finished_before_busy_ended, from_busy, start_shorts]() -> task<void> {
                if (from_busy)
                    start_shorts();
                while (finished->load() < shorts) {  // never yields
                }
                finished_before_busy_ended->store(finished->load());
                co_return;
            });
            if (!from_busy)
                start_shorts();
            co_await wg.wait();
            co_return finished_before_busy_ended->load() == shorts;
        }(spawner_is_busy),
        ringo::runtime_options{.threads = 2});
}

}  // namespace

TEST_CASE("work stealing: short tasks do not wait behind a task that never yields") {
    test::progress_watchdog dog(30s, "head-of-line");
    for (int round = 0; round < 5; ++round) {
        CHECK(short_tasks_finish_behind_a_busy_one(false));
        CHECK(short_tasks_finish_behind_a_busy_one(true));
    }
}

TEST_CASE("a deadlock spread over threads is still reported") {
    test::progress_watchdog dog(30s, "deadlock");
    std::string what;
    try {
        ringo::run(
            []() -> task<void> {
                chan<int> a(0), b(0);
                ringo::detail::go_pinned(1, [a]() -> task<void> { co_await a.recv(); });
                ringo::detail::go_pinned(2, [b]() -> task<void> { co_await b.recv(); });
                co_await ringo::sleep_for(1ms);
                chan<int> nobody(0);
                co_await nobody.recv();
            }(),
            ringo::runtime_options{.threads = 3});
    } catch (const ringo::deadlock_error& e) {
        what = e.what();
    }
    CHECK(what.starts_with("all tasks are asleep - deadlock!"));
    CHECK(what.find("on executor 1") != std::string::npos);
    CHECK(what.find("on executor 2") != std::string::npos);
}

TEST_CASE("mpmc over threads: every value received exactly once") {
    for (unsigned threads : {2u, 4u}) {
        test::progress_watchdog dog(30s, "mpmc");
        auto [count, sum] = ringo::run(
            []() -> task<std::pair<std::uint64_t, std::uint64_t>> {
                chan<std::uint64_t> ch(64);
                ringo::wait_group producers, consumers;
                auto n_recv = std::make_shared<std::atomic<std::uint64_t>>(0);
                auto total = std::make_shared<std::atomic<std::uint64_t>>(0);
                for (int p = 0; p < 4; ++p)
                    producers.go([ch, p]() -> task<void> {
                        for (int i = 0; i < per_producer; ++i)
                            co_await ch.send(std::uint64_t(p) * per_producer + std::uint64_t(i));
                    });
                for (int c = 0; c < 4; ++c)
                    consumers.go([ch, n_recv, total]() -> task<void> {
                        while (auto v = co_await ch.recv()) {
                            test::tick();
                            n_recv->fetch_add(1);
                            total->fetch_add(*v);
                        }
                    });
                co_await producers.wait();
                ch.close();
                co_await consumers.wait();
                co_return std::pair{n_recv->load(), total->load()};
            }(),
            ringo::runtime_options{.threads = threads});
        std::uint64_t n = 4ull * per_producer;
        CHECK(count == n);
        CHECK(sum == n * (n - 1) / 2);
    }
}

TEST_CASE("select over threads with sends, receives and closes: nothing lost or duplicated") {
    for (unsigned threads : {2u, 4u}) {
        test::progress_watchdog dog(30s, "select stress");
        auto got = ringo::run(
            []() -> task<std::vector<std::uint64_t>> {
                std::vector<chan<std::uint64_t>> in{chan<std::uint64_t>(0), chan<std::uint64_t>(1),
                                                    chan<std::uint64_t>(4)};
                chan<std::uint64_t> out(2), spill(1);
                auto left = std::make_shared<std::atomic<int>>(3);
                for (int p = 0; p < 3; ++p)
                    ringo::go([in, spill, left, p]() -> task<void> {
                        for (int k = 0; k < per_producer; ++k) {
                            std::uint64_t v = (std::uint64_t(p) << 32) | std::uint64_t(k);
                            co_await ringo::select(ringo::send(in[std::size_t(p)], v), ringo::send(spill, v));
                        }
                        in[std::size_t(p)].close();
                        if (left->fetch_sub(1) == 1)
                            spill.close();
                    });
                auto consumers = std::make_shared<std::atomic<int>>(3);
                for (int c = 0; c < 3; ++c)
                    ringo::go([in, spill, out, consumers]() mutable -> task<void> {
                        for (;;) {
                            if (!in[0] && !in[1] && !in[2] && !spill)
                                break;
                            auto r = co_await ringo::select(ringo::recv(in[0]), ringo::recv(in[1]),
                                                            ringo::recv(in[2]), ringo::recv(spill));
                            std::size_t i = r.index();
                            std::optional<std::uint64_t> v;
                            switch (i) {
                            case 0: v = r.get<0>(); break;
                            case 1: v = r.get<1>(); break;
                            case 2: v = r.get<2>(); break;
                            default: v = r.get<3>(); break;
                            }
                            if (!v) {
                                (i == 3 ? spill : in[i]) = {};
                                continue;
                            }
                            co_await out.send(*v);
                        }
                        if (consumers->fetch_sub(1) == 1)
                            out.close();
                    });
                std::vector<std::uint64_t> all;
                while (auto v = co_await out.recv()) {
                    test::tick();
                    all.push_back(*v);
                }
                co_return all;
            }(),
            ringo::runtime_options{.threads = threads});
        REQUIRE(got.size() == 3u * per_producer);
        std::vector<std::vector<bool>> seen(3, std::vector<bool>(per_producer));
        int dup = 0;
        for (auto v : got) {
            auto flag = seen[v >> 32][v & 0xffffffff];
            dup += flag ? 1 : 0;
            flag = true;
        }
        CHECK(dup == 0);
    }
}

TEST_CASE("timers, contexts, mutexes, errgroups and blocking calls across threads") {
    test::progress_watchdog dog(30s, "primitives");
    ringo::run(
        []() -> task<void> {
            // Sleepers on every executor.
            ringo::wait_group wg;
            auto woke = std::make_shared<std::atomic<int>>(0);
            for (int i = 0; i < 40; ++i)
                wg.go([woke, i]() -> task<void> {
                    co_await ringo::sleep_for(std::chrono::microseconds(100 * (i % 7)));
                    woke->fetch_add(1);
                    test::tick();
                });
            co_await wg.wait();
            CHECK(woke->load() == 40);

            // A context cancelled on one thread wakes children waiting on others.
            auto [root, cancel] = ringo::with_cancel(ringo::background());
            auto seen = std::make_shared<std::atomic<int>>(0);
            for (int i = 0; i < 40; ++i) {
                auto [child, c] = ringo::with_cancel(root);
                wg.go([child = child, seen]() -> task<void> {
                    co_await child.done().recv();
                    if (child.err() == ringo::errc::canceled)
                        seen->fetch_add(1);
                });
            }
            co_await ringo::sleep_for(1ms);
            cancel();
            co_await wg.wait();
            CHECK(seen->load() == 40);

            // A mutex protecting a plain counter, across threads.
            ringo::mutex mu;
            long counter = 0;
            for (int t = 0; t < 8; ++t)
                wg.go([&]() -> task<void> {
                    for (int i = 0; i < 2000; ++i) {
                        auto g = co_await mu.lock();
                        ++counter;
                        test::tick();
                        if (i % 64 == 0)
                            co_await ringo::yield();
                    }
                });
            co_await wg.wait();
            CHECK(counter == 16000);

            // errgroup with a limit, tasks spread over executors.
            ringo::errgroup g;
            g.set_limit(3);
            auto done = std::make_shared<std::atomic<int>>(0);
            for (int i = 0; i < 30; ++i)
                g.go([done]() -> task<void> {
                    co_await ringo::sleep_for(100us);
                    done->fetch_add(1);
                    test::tick();
                });
            CHECK_FALSE(co_await g.wait());
            CHECK(done->load() == 30);

            // A timer stopped from another executor's task.
            ringo::timer t(1h);
            auto stopped = std::make_shared<std::atomic<bool>>(false);
            wg.go([&t, stopped]() -> task<void> {
                stopped->store(t.stop());
                co_return;
            });
            co_await wg.wait();
            CHECK(stopped->load());
        }(),
        ringo::runtime_options{.threads = 4});
}

TEST_CASE("TCP across threads: echo on every executor, close from another executor") {
    test::progress_watchdog dog(30s, "net");
    ringo::run(
        []() -> task<void> {
            auto [ln, err] = co_await ringo::net::listen("127.0.0.1:0");
            REQUIRE_FALSE(err);
            std::string addr = ln.addr();
            constexpr int conns = 40;
            ringo::go([ln = std::move(ln)]() mutable -> task<void> {
                for (int i = 0; i < conns; ++i) {
                    auto [c, aerr] = co_await ln.accept(ringo::background());
                    if (aerr)
                        break;
                    ringo::go([c = std::move(c)]() mutable -> task<void> {  // stolen by idle executors
                        std::vector<std::byte> buf(4096);
                        for (;;) {
                            auto [n, rerr] = co_await c.read(ringo::background(), buf);
                            if (rerr)
                                break;
                            (void)co_await c.write_all(ringo::background(), std::span(buf.data(), n));
                        }
                    });
                }
            });
            ringo::errgroup g;
            auto ok = std::make_shared<std::atomic<int>>(0);
            for (int i = 0; i < conns; ++i)
                g.go([addr, ok, i]() -> task<std::error_code> {
                    auto [c, derr] = co_await ringo::net::dial(ringo::background(), addr);
                    if (derr)
                        co_return derr;
                    std::string msg(8192, static_cast<char>('a' + i % 26));
                    (void)co_await c.write_all(ringo::background(), msg);
                    c.shutdown_write();
                    std::string back;
                    std::vector<std::byte> buf(4096);
                    for (;;) {
                        auto [n, rerr] = co_await c.read(ringo::background(), buf);
                        if (rerr)
                            break;
                        back.append(reinterpret_cast<const char*>(buf.data()), n);
                    }
                    if (back == msg)
                        ok->fetch_add(1);
                    test::tick();
                    co_return std::error_code();
                });
            CHECK_FALSE(co_await g.wait());
            CHECK(ok->load() == conns);

            // A read pending on another executor ends when this one closes the socket.
            auto [c, derr] = co_await ringo::net::dial(ringo::background(), addr);
            auto conn = std::make_shared<ringo::net::conn>(std::move(c));
            chan<std::error_code> result(1);
            ringo::go([conn, result]() -> task<void> {
                std::byte buf[8];
                auto [n, rerr] = co_await conn->read(ringo::background(), buf);
                co_await result.send(rerr);
            });
            co_await ringo::sleep_for(5ms);
            conn->close();
            auto rerr = co_await result.recv();
            CHECK(*rerr == ringo::errc::closed);
        }(),
        ringo::runtime_options{.threads = 4});
}

// A timer lives on the executor that armed it; any thread may stop, reset or
// drop it. 1,000,000 timers of every kind (timer, ticker, after, after_func,
// context deadline) are made on executor 0 and handed in batches to a task
// on executor 1, which stops, resets and destroys them while many fire on
// executor 0. ASan and TSan runs check that no timer is freed while its home
// still reaches it; the test checks Go's guarantees across threads: after
// stop() no stale value is received, an after_func either is stopped or
// runs (never both, never neither), and a stopped timer stops counting at once.
TEST_CASE("timers made on one executor and stopped, reset or dropped on another") {
    test::progress_watchdog dog(30s, "cross-executor timers");
    constexpr int total = 1'000'000, batch = 1'000;
    struct item {
        int kind = 0;
        std::optional<ringo::timer> t;
        std::optional<ringo::ticker> tick;
        ringo::recv_chan<ringo::clock::time_point> after;
        ringo::stop_func stop;
        std::optional<ringo::context> ctx;
        ringo::cancel_func cancel;
    };
    struct tally {
        std::atomic<int> funcs{0}, ran{0}, stopped{0}, stale{0};
    };
    auto counts = std::make_shared<tally>();
    ringo::run(
        [counts]() -> task<void> {
            chan<std::vector<item>> batches(2);
            chan<unsigned> done(1);
            ringo::detail::go_pinned(1, [batches, done, counts]() -> task<void> {
                unsigned where = executor_index();
                int n = 0;
                while (auto b = co_await batches.recv()) {
                    for (item& it : *b) {
                        switch (it.kind) {
                        case 0:  // timer: stopped; nothing stale may arrive after stop()
                            it.t->stop();
                            if (it.t->c().try_recv().state == ringo::recv_state::ok)
                                counts->stale.fetch_add(1);
                            it.t.reset();  // and destroyed at once, while executor 0 may apply the stop
                            break;
                        case 1:  // timer: reset to fire soon on its home, then dropped
                            it.t->reset(std::chrono::microseconds(n % 50));
                            break;
                        case 2:  // ticker: reset, stopped, dropped
                            it.tick->reset(std::chrono::microseconds(1 + n % 50));
                            it.tick->stop();
                            break;
                        case 3:  // after: dropped, maybe while it fires
                            break;
                        case 4:  // after_func: stopped, maybe while it fires
                            if (it.stop())
                                counts->stopped.fetch_add(1);
                            break;
                        case 5:  // context deadline: cancelled, maybe while it fires
                            it.cancel();
                            break;
                        }
                        ++n;
                    }
                    b->clear();  // destroyed here, on executor 1
                    test::tick();
                }
                co_await done.send(where);
            });
            int made = 0;
            while (made < total) {
                std::vector<item> b(batch);
                for (item& it : b) {
                    it.kind = made % 6;
                    bool soon = made % 3 == 0;  // fires while the other side works on it
                    auto d = soon ? std::chrono::microseconds(made % 40) : std::chrono::microseconds(3'600'000'000);
                    switch (it.kind) {
                    case 0:
                    case 1: it.t.emplace(d); break;
                    case 2: it.tick.emplace(std::chrono::microseconds(1 + made % 40)); break;
                    case 3: it.after = ringo::after(d); break;
                    case 4: {
                        auto c = counts;
                        it.stop = ringo::after_func(d, [c] { c->ran.fetch_add(1); });
                        counts->funcs.fetch_add(1);
                        break;
                    }
                    case 5: {
                        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), d);
                        it.ctx = ctx;
                        it.cancel = cancel;
                        break;
                    }
                    }
                    ++made;
                }
                co_await batches.send(std::move(b));
            }
            batches.close();
            auto where = co_await done.recv();
            CHECK(where == 1u);  // the other side really ran on another executor
            CHECK(ringo::num_timers() == 0);  // every one stopped or fired, counted at once
            CHECK(counts->stale.load() == 0);
            // Every after_func was stopped or runs (on executor 0, soon).
            while (counts->ran.load() + counts->stopped.load() < counts->funcs.load()) {
                co_await ringo::sleep_for(1ms);
                test::tick();
            }
            CHECK(counts->ran.load() + counts->stopped.load() == counts->funcs.load());
            CHECK(counts->stopped.load() > 0);
        }(),
        ringo::runtime_options{.threads = 2});
}

TEST_CASE("tasks alive on every executor when main returns are destroyed cleanly") {
    test::progress_watchdog dog(30s, "teardown");
    auto counter = std::make_shared<int>(0);
    ringo::run(
        [](std::shared_ptr<int> c) -> task<void> {
            chan<int> never(0);
            for (int i = 0; i < 100; ++i)
                ringo::detail::go_pinned(unsigned(i), [never, c]() -> task<void> { co_await never.recv(); });  // on every executor
            for (int i = 0; i < 20; ++i)
                ringo::go([c]() -> task<void> { co_await ringo::sleep_for(1h); });
            CHECK(ringo::num_tasks() == 121);  // counted once go() returns, wherever they were placed
            co_await ringo::sleep_for(2ms);
            CHECK(ringo::num_tasks() == 121);
        }(counter),
        ringo::runtime_options{.threads = 4});
    CHECK(counter.use_count() == 1);
}

// Thieves move a task's registration with the task (executor::adopt_tasks).
// While they do, num_tasks() and dump_tasks() must see every task exactly
// once. Workers yield and now and then sleep, so that executors keep
// running dry and stealing; main counts meanwhile, and goes on until the
// workers have changed executors 300 times (the watchdog fails the test if
// no move comes for 30 s).
TEST_CASE("num_tasks and dump_tasks see each task once while thieves move tasks") {
    for (unsigned threads : {2u, 4u}) {
        test::progress_watchdog dog(30s, "registry moves");
        ringo::run(
            []() -> task<void> {
                constexpr int workers = 8;
                auto stop = std::make_shared<std::atomic<bool>>(false);
                auto moves = std::make_shared<std::atomic<int>>(0);
                ringo::wait_group wg;
                for (int i = 0; i < workers; ++i)
                    wg.go([stop, moves, i]() -> task<void> {
                        unsigned at = executor_index();
                        for (int round = 0; !stop->load(); ++round) {
                            if ((round + i) % 2 == 0)  // now and then an executor runs dry, and steals
                                co_await ringo::sleep_for(std::chrono::microseconds(50 + 10 * i));
                            else
                                co_await ringo::yield();
                            if (unsigned now = executor_index(); now != at) {
                                moves->fetch_add(1);
                                at = now;
                            }
                        }
                    });
                auto count_dumped = [] {
                    std::string dump = ringo::dump_tasks();
                    int n = 0;
                    for (std::size_t at = dump.find("\ntask "); at != std::string::npos; at = dump.find("\ntask ", at + 1))
                        ++n;
                    return n;
                };
                int bad_counts = 0, bad_dumps = 0;
                int seen_moves = 0;
                for (int checks = 0; checks < 2000 || seen_moves < 300; ++checks) {
                    if (ringo::num_tasks() != workers + 1)
                        ++bad_counts;
                    if (checks % 16 == 0 && count_dumped() != workers + 1)
                        ++bad_dumps;
                    if (int m = moves->load(); m != seen_moves) {
                        seen_moves = m;
                        test::tick();  // progress is a move: none for 30 s fails the test
                    }
                    co_await ringo::sleep_for(std::chrono::microseconds(20));  // main's executor runs dry too
                }
                stop->store(true);
                co_await wg.wait();
                CHECK(bad_counts == 0);
                CHECK(bad_dumps == 0);
            }(),
            ringo::runtime_options{.threads = threads});
    }
}

TEST_CASE("RINGO_THREADS picks the number of executors") {
    ::setenv("RINGO_THREADS", "3", 1);
    auto seen = ringo::run([]() -> task<std::size_t> {
        std::string dump = ringo::dump_tasks();
        co_return dump.find("on executor 0") != std::string::npos ? 3 : 1;
    }());
    ::unsetenv("RINGO_THREADS");
    CHECK(seen == 3);
}

}  // TEST_SUITE

TEST_SUITE("threads") {

TEST_CASE("state machine: a select claimed by one sender is skipped by another until woken") {
    // Deterministic interleaving: a foreign thread's try_send claims the
    // parked select through channel a and is paused (test hook) between the
    // claim and the wake-up. Meanwhile a send on channel b must not deliver to
    // the claimed select: b's value stays with its sender.
    test::progress_watchdog dog(30s, "interleaving");
    static std::atomic<int> phase{0};  // 1: paused after claim; 2: released
    phase = 0;
    ringo::detail::test_hooks::after_claim = [] {
        phase = 1;
        while (phase.load() != 2)
            std::this_thread::yield();
    };
    auto [index, value, b_sent, b_len] = ringo::run([]() -> task<std::tuple<std::size_t, int, bool, std::size_t>> {
        chan<int> a(0), b(0);
        chan<std::pair<std::size_t, int>> result(1);
        ringo::go([a, b, result]() -> task<void> {
            auto r = co_await ringo::select(ringo::recv(a), ringo::recv(b));
            int v = r.index() == 0 ? *r.get<0>() : *r.get<1>();
            co_await result.send(std::pair{r.index(), v});
        });
        co_await ringo::yield();  // the select is parked on a and b
        std::thread sender([a] { (void)a.try_send(1); });
        auto paused = [] {
            while (phase.load() != 1)
                std::this_thread::yield();
        };
        co_await ringo::blocking(paused);  // the sender now holds the claim
        bool sent_b = b.try_send(2);       // must skip the claimed node
        std::size_t len_b = b.len();
        phase = 2;  // let the sender finish: it delivers 1 and wakes the select
        auto join = [&sender] { sender.join(); };
        co_await ringo::blocking(join);
        auto r = co_await result.recv();
        co_return std::tuple{r->first, r->second, sent_b, len_b};
    }());
    ringo::detail::test_hooks::after_claim = nullptr;
    CHECK(index == 0);
    CHECK(value == 1);
    CHECK_FALSE(b_sent);  // nobody took b's value: the select was already won
    CHECK(b_len == 0);
}

}  // TEST_SUITE
