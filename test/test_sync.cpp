// sync: wait_group, mutex, rw_mutex, cond, once, semaphore, singleflight.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <coroutine>
#include <deque>
#include <csignal>
#include <exception>
#include <memory>
#include <new>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/ringo.hpp>

#include "bare.hpp"
#include "child.hpp"
#include "dump.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::task;

TEST_SUITE("sync") {

TEST_CASE("wait_group: add, done, wait, go; a negative counter panics") {
    int total = ringo::run([]() -> task<int> {
        ringo::wait_group wg;
        auto sum = std::make_shared<std::atomic<int>>(0);  // the tasks may run on several executors
        for (int i = 1; i <= 10; ++i)
            wg.go([sum, i]() -> task<void> {
                co_await ringo::yield();
                *sum += i;
            });
        wg.add(1);
        ringo::go([&wg, sum]() -> task<void> {
            *sum += 100;
            wg.done();
            co_return;
        });
        co_await wg.wait();
        CHECK_THROWS_WITH_AS(wg.done(), "sync: negative WaitGroup counter", ringo::panic_error);
        co_await wg.wait();  // zero: returns at once
        co_return sum->load();
    }());
    CHECK(total == 155);
}

TEST_CASE("wait_group: the waiter may destroy it as soon as wait returns") {
    // Even rounds free the wait_group at once (ASan sees any later access);
    // odd rounds poison its storage instead and check, once both tasks have
    // ended, that no done() wrote to it after releasing main. Every round,
    // wait returns only after both done() calls. On one executor the last
    // done() always returns before main resumes, so the test also runs on
    // two, where main can resume (and reuse the memory) while it returns.
    struct result {
        int early_wakes = 0;     // wait returned before both done() calls
        int late_writes = 0;     // a done() wrote to the wait_group after wait returned
    };
    for (unsigned threads : {0u, 2u}) {  // 0: RINGO_THREADS, else 1
        CAPTURE(threads);
        result r = ringo::run([]() -> task<result> {
            result out;
            constexpr auto poison = std::byte{0xa5};
            for (int round = 0; round < 100; ++round) {
                auto storage = std::make_unique<std::byte[]>(sizeof(ringo::wait_group));
                auto* wg = new (storage.get()) ringo::wait_group;
                auto dones = std::make_shared<std::atomic<int>>(0);
                wg->add(2);
                ringo::go([wg, dones]() -> task<void> {
                    dones->fetch_add(1);
                    wg->done();
                    co_return;
                });
                ringo::go([wg, dones]() -> task<void> {
                    co_await ringo::yield();
                    dones->fetch_add(1);
                    wg->done();  // touches nothing after releasing main
                });
                co_await wg->wait();
                out.early_wakes += dones->load() != 2;
                wg->~wait_group();
                if (round % 2 == 0) {
                    storage.reset();  // ASan: no use after free from the last done()
                    continue;
                }
                std::fill_n(storage.get(), sizeof(ringo::wait_group), poison);
                while (ringo::num_tasks() > 1)  // both tasks have returned from done() and ended
                    co_await ringo::yield();
                for (std::size_t i = 0; i < sizeof(ringo::wait_group); ++i)
                    out.late_writes += storage[i] != poison;
            }
            co_return out;
        }(), ringo::runtime_options{.threads = threads});
        CHECK(r.early_wakes == 0);
        CHECK(r.late_writes == 0);
    }
}

TEST_CASE("wait_group::go moves the callable into the task's frame") {
    auto seen = ringo::run([]() -> task<std::string> {
        auto out = std::make_shared<std::string>();
        ringo::wait_group wg;
        {
            std::string text = "captured by value";
            wg.go([text, out]() -> task<void> {  // the lambda object is a temporary here
                co_await ringo::yield();
                *out = text;  // would dangle if the lambda were not moved into the frame
            });
        }
        co_await wg.wait();
        co_return *out;
    }());
    CHECK(seen == "captured by value");
}

TEST_CASE("mutex: mutual exclusion across suspensions, try_lock, unlock misuse") {
    ringo::run([]() -> task<void> {
        ringo::mutex mu;
        int counter = 0;
        ringo::wait_group wg;
        for (int t = 0; t < 8; ++t)
            wg.go([&]() -> task<void> {
                for (int i = 0; i < 100; ++i) {
                    auto guard = co_await mu.lock();
                    int seen = counter;
                    co_await ringo::yield();  // others run while we hold it
                    counter = seen + 1;
                }
            });
        co_await wg.wait();
        CHECK(counter == 800);
        CHECK(mu.try_lock());
        CHECK_FALSE(mu.try_lock());
        mu.unlock();
        CHECK_THROWS_WITH_AS(mu.unlock(), "sync: unlock of unlocked mutex", ringo::panic_error);
        {
            auto guard = co_await mu.lock();
            ringo::mutex* raw = guard.release();  // Go style: unlock by hand
            CHECK_FALSE(mu.try_lock());
            raw->unlock();
        }
        CHECK(mu.try_lock());
        mu.unlock();
    }());
}

TEST_CASE("mutex: a waiter is never starved by a task that re-locks in a loop") {
    // Go's starvation scenario: one task holds the lock in a tight loop
    // (unlock, relock); another must still get it regularly.
    auto [greedy_rounds, other_got] = ringo::run([]() -> task<std::pair<int, int>> {
        ringo::mutex mu;
        bool stop = false;
        int greedy = 0, other = 0;
        ringo::wait_group wg;
        wg.go([&]() -> task<void> {
            while (!stop) {
                auto g = co_await mu.lock();
                ++greedy;
                co_await ringo::yield();  // holds the lock across a suspension
            }
        });
        wg.go([&]() -> task<void> {
            for (int i = 0; i < 50; ++i) {
                auto g = co_await mu.lock();
                ++other;
            }
            stop = true;
        });
        co_await wg.wait();
        co_return std::pair{greedy, other};
    }());
    CHECK(other_got == 50);
    CHECK(greedy_rounds <= 2 * 50 + 2);  // hand-off: the two alternate
}

TEST_CASE("mutex::lock passed to std::lock_guard is diagnosed, not silently ignored") {
    auto [status, err] = test::in_child([] {
        ringo::mutex mu;
        std::lock_guard<ringo::mutex> g(mu);  // locks nothing: must not pass silently
    });
    CHECK(status == 128 + SIGABRT);
    CHECK(err.find("ringo::mutex::lock() (write: auto guard = co_await mu.lock();) was not awaited") !=
          std::string::npos);
}

TEST_CASE("rw_mutex: readers share, writers exclude, writers are not starved") {
    ringo::run([]() -> task<void> {
        ringo::rw_mutex rw;
        // Atomics: readers holding the lock together may be on several executors.
        std::atomic<int> readers_inside{0}, max_readers{0};
        std::atomic<bool> writer_inside{false}, overlap{false};
        std::atomic<int> met{0};  // readers that have been inside together with all the others
        int writes = 0;           // under the write lock
        ringo::wait_group wg;
        for (int r = 0; r < 4; ++r)
            wg.go([&]() -> task<void> {
                for (int i = 0; i < 20; ++i) {
                    auto g = co_await rw.lock_shared();
                    int inside = readers_inside.fetch_add(1) + 1;
                    // The first time, stay until all four hold the lock at once
                    // (on several executors, a short hold may never overlap).
                    // No writer is queued yet: it waits for this.
                    if (i == 0) {
                        met.fetch_add(1);
                        while (met.load() < 4)
                            co_await ringo::yield();
                        inside = std::max(inside, readers_inside.load());
                    }
                    for (int seen = max_readers.load(); seen < inside && !max_readers.compare_exchange_weak(seen, inside);) {
                    }
                    if (writer_inside.load())
                        overlap = true;
                    co_await ringo::yield();
                    readers_inside.fetch_sub(1);
                }
            });
        wg.go([&]() -> task<void> {
            while (met.load() < 4)  // then writes compete with reads
                co_await ringo::yield();
            for (int i = 0; i < 10; ++i) {
                auto g = co_await rw.lock();
                writer_inside = true;
                if (readers_inside.load() != 0)
                    overlap = true;
                co_await ringo::yield();
                ++writes;
                writer_inside = false;
            }
        });
        co_await wg.wait();
        CHECK(max_readers.load() > 1);
        CHECK_FALSE(overlap.load());
        CHECK(writes == 10);
        CHECK(rw.try_lock());
        CHECK_FALSE(rw.try_lock_shared());
        rw.unlock();
        CHECK_THROWS_WITH_AS(rw.unlock(), "sync: Unlock of unlocked RWMutex", ringo::panic_error);
        CHECK_THROWS_WITH_AS(rw.unlock_shared(), "sync: RUnlock of unlocked RWMutex", ringo::panic_error);
    }());
}

TEST_CASE("rw_mutex: writers exclude readers and writers across executors") {
    test::progress_watchdog dog(30s, "rw_mutex across executors");
    ringo::run([]() -> task<void> {
        ringo::rw_mutex rw;
        std::atomic<int> readers_inside = 0, writers_inside = 0;
        std::atomic<bool> overlap = false;
        long shared_value = 0;  // written under the write lock only: TSan checks the exclusion too
        ringo::wait_group wg;
        wg.add(8);
        for (unsigned t = 0; t < 8; ++t)
            ringo::detail::go_pinned(t, [&, t]() -> task<void> {
                for (int i = 0; i < 2'000; ++i) {
                    if ((i + int(t)) % 4 == 0) {
                        auto g = co_await rw.lock();
                        if (++writers_inside != 1 || readers_inside != 0)
                            overlap = true;
                        ++shared_value;
                        co_await ringo::yield();
                        --writers_inside;
                    } else {
                        auto g = co_await rw.lock_shared();
                        ++readers_inside;
                        if (writers_inside != 0)
                            overlap = true;
                        long seen = shared_value;
                        (void)seen;
                        co_await ringo::yield();
                        --readers_inside;
                    }
                    test::tick();
                }
                wg.done();
            });
        co_await wg.wait();
        CHECK_FALSE(overlap);
        CHECK(shared_value == 8 * 2'000 / 4);
    }(), ringo::runtime_options{.threads = 4});
}

TEST_CASE("rw_mutex: a waiting writer blocks new readers (writer preference)") {
    test::progress_watchdog dog(30s, "rw_mutex writer preference");
    ringo::run([]() -> task<void> {
        ringo::rw_mutex rw;
        // Each task sends its name while it holds the lock, so the channel
        // holds them in the order the lock was granted (on any executors).
        ringo::chan<std::string> order(2);
        auto granted = [order](const char* who) -> task<void> {
            std::string name = who;
            co_await order.send(name);
        };
        auto first = co_await rw.lock_shared();
        const unsigned writer_line = __LINE__ + 2;
        auto writer = [&rw, &granted]() -> task<void> {
            auto g = co_await rw.lock();
            co_await granted("writer");
        };
        ringo::go(writer);
        const std::vector<std::string> writer_waits{test::waits_at("sync.RWMutex.Lock", "test_sync.cpp", writer_line)};
        (void)co_await test::dump_showing(writer_waits);  // the writer now waits
        bool shared_too = rw.try_lock_shared();
        CHECK_FALSE(shared_too);
        if (shared_too)
            rw.unlock_shared();  // (or the writer would wait forever)
        const unsigned reader_line = __LINE__ + 2;
        auto late_reader = [&rw, &granted]() -> task<void> {
            auto g = co_await rw.lock_shared();
            co_await granted("late reader");
        };
        ringo::go(late_reader);
        const std::vector<std::string> reader_waits{
            test::waits_at("sync.RWMutex.RLock", "test_sync.cpp", reader_line)};
        (void)co_await test::dump_showing(reader_waits);  // behind the writer, not beside the first reader
        first.unlock();
        std::vector<std::string> got;
        for (int i = 0; i < 2; ++i)
            got.push_back((co_await order.recv()).value_or(""));
        CHECK(got == std::vector<std::string>{"writer", "late reader"});
    }());
}

TEST_CASE("cond: wait releases the mutex and returns holding it; signal and broadcast") {
    ringo::run([]() -> task<void> {
        ringo::mutex mu;
        ringo::cond cv(mu);
        int ready = 0, woke = 0;
        ringo::wait_group wg;
        for (int i = 0; i < 3; ++i)
            wg.go([&]() -> task<void> {
                auto g = co_await mu.lock();
                while (ready == 0)
                    co_await cv.wait();
                CHECK_FALSE(mu.try_lock());  // we hold it again
                ++woke;
                --ready;
            });
        co_await ringo::yield();
        {
            auto g = co_await mu.lock();
            ready = 1;
            cv.signal();
        }
        co_await ringo::yield();
        co_await ringo::yield();
        CHECK(woke == 1);
        {
            auto g = co_await mu.lock();
            ready = 2;
            cv.broadcast();
        }
        co_await wg.wait();
        CHECK(woke == 3);
    }(), ringo::runtime_options{.threads = 1});  // yield() lets the woken task run: one executor
}

TEST_CASE("cond: a queue guarded by mutex and cond hands every item to exactly one consumer across 4 executors") {
    test::progress_watchdog dog(30s, "cond queue across executors");
    ringo::run([]() -> task<void> {
        constexpr int items = 20'000, consumers = 4;
        ringo::mutex mu;
        ringo::cond not_empty(mu);
        std::deque<int> queue;
        bool closed = false;
        std::vector<int> taken(items, 0);  // guarded by mu
        ringo::wait_group wg;
        for (int c = 0; c < consumers; ++c)
            wg.go([&]() -> task<void> {
                for (;;) {
                    auto g = co_await mu.lock();
                    while (queue.empty() && !closed)
                        co_await not_empty.wait();
                    if (queue.empty())
                        co_return;  // closed and drained
                    ++taken[static_cast<std::size_t>(queue.front())];
                    queue.pop_front();
                    test::tick();
                }
            });
        for (int i = 0; i < items; ++i) {
            {
                auto g = co_await mu.lock();
                queue.push_back(i);
                not_empty.signal();
            }
            if (i % 64 == 0)
                co_await ringo::yield();  // let consumers run on this executor too
        }
        {
            auto g = co_await mu.lock();
            closed = true;
            not_empty.broadcast();
        }
        co_await wg.wait();
        CHECK(std::count(taken.begin(), taken.end(), 1) == items);
    }(), ringo::runtime_options{.threads = 4});
}

TEST_CASE("once: concurrent callers wait for the first; a throwing call lets the next one retry") {
    ringo::run([]() -> task<void> {
        ringo::once o;
        int calls = 0, attempts = 0;
        ringo::wait_group wg;
        for (int i = 0; i < 5; ++i)
            wg.go([&]() -> task<void> {
                auto init = [&]() -> task<void> {
                    ++attempts;
                    co_await ringo::yield();  // the others arrive and wait meanwhile
                    if (attempts == 1)
                        throw std::runtime_error("first try fails");
                    ++calls;
                };
                try {
                    co_await o.call(init);
                } catch (const std::runtime_error&) {
                }
                CHECK((o.done() || attempts == 1));
            });
        co_await wg.wait();
        CHECK(attempts == 2);  // the failure, then one waiter's successful retry
        CHECK(calls == 1);
        CHECK(o.done());
        auto again = [&] { ++calls; };
        co_await o.call(again);
        CHECK(calls == 1);
    }(), ringo::runtime_options{.threads = 1});  // yield() orders the tasks: one executor
}

TEST_CASE("semaphore: weighted, FIFO, a large request is not starved, cancel loses no permit") {
    ringo::run([]() -> task<void> {
        ringo::semaphore sem(10);
        CHECK(sem.try_acquire(6));
        std::vector<std::string> order;
        ringo::wait_group wg;
        wg.go([&]() -> task<void> {
            auto e = co_await sem.acquire(ringo::background(), 8);  // large: waits for 8
            CHECK_FALSE(e);
            order.push_back("large");
            co_await ringo::yield();
            sem.release(8);
        });
        co_await ringo::yield();
        CHECK_FALSE(sem.try_acquire(1));  // FIFO: a small request does not overtake the large one
        wg.go([&]() -> task<void> {
            auto e = co_await sem.acquire(ringo::background(), 1);
            CHECK_FALSE(e);
            order.push_back("small");
            sem.release(1);
        });
        co_await ringo::yield();
        sem.release(6);
        co_await wg.wait();
        CHECK(order == std::vector<std::string>{"large", "small"});

        // Cancelled while waiting: returns ctx.err(), takes nothing.
        CHECK(sem.try_acquire(10));
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 2ms);
        auto e = co_await sem.acquire(ctx, 3);
        CHECK(e == ringo::errc::deadline_exceeded);
        sem.release(10);
        CHECK(sem.try_acquire(10));  // every permit is back
        sem.release(10);
        CHECK_THROWS_WITH_AS(sem.release(1), "semaphore: released more than held", ringo::panic_error);
    }(), ringo::runtime_options{.threads = 1});  // yield() orders the tasks: one executor
}

TEST_CASE("semaphore: a cancelled head lets smaller requests behind it through") {
    ringo::run([]() -> task<void> {
        ringo::semaphore sem(4);
        CHECK(sem.try_acquire(2));
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        bool small_got = false;
        ringo::go([&, c = ctx]() -> task<void> { (void)co_await sem.acquire(c, 4); });  // waits: head
        co_await ringo::yield();
        ringo::go([&]() -> task<void> {
            auto e = co_await sem.acquire(ringo::background(), 2);
            small_got = !e;
        });
        co_await ringo::yield();
        CHECK_FALSE(small_got);  // behind the head
        cancel();
        co_await ringo::yield();
        co_await ringo::yield();
        CHECK(small_got);
    }(), ringo::runtime_options{.threads = 1});  // yield() orders the tasks: one executor
}

TEST_CASE("semaphore: a request larger than the size waits only for ctx and blocks nobody") {
    ringo::run([]() -> task<void> {
        ringo::semaphore sem(2);
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        std::error_code doomed_err;
        bool doomed_done = false;
        ringo::go([&, c = ctx]() -> task<void> {
            doomed_err = co_await sem.acquire(c, 3);  // can never succeed
            doomed_done = true;
        });
        co_await ringo::yield();
        CHECK_FALSE(doomed_done);
        CHECK(sem.try_acquire(1));  // not queued behind the doomed request
        auto e = co_await sem.acquire(ringo::background(), 1);
        CHECK_FALSE(e);
        sem.release(2);
        cancel();
        co_await ringo::yield();
        CHECK(doomed_done);
        CHECK(doomed_err == ringo::errc::canceled);
        CHECK(sem.try_acquire(2));  // it took nothing
        sem.release(2);
    }(), ringo::runtime_options{.threads = 1});  // ordering by yield: one thread
}

TEST_CASE("singleflight: run_shared says whether the result went to more than one caller") {
    ringo::run([]() -> task<void> {
        ringo::singleflight<std::string> sf;
        auto alone = [] { return std::string("solo"); };
        auto [v, shared] = co_await sf.run_shared("a", alone);
        CHECK(v == "solo");
        CHECK_FALSE(shared);  // nobody joined

        std::vector<bool> flags;
        int calls = 0;
        ringo::wait_group wg;
        for (int i = 0; i < 3; ++i)
            wg.go([&]() -> task<void> {
                auto fetch = [&]() -> task<std::string> {
                    ++calls;
                    co_await ringo::sleep_for(1ms);
                    co_return std::string("v");
                };
                auto r = co_await sf.run_shared("b", fetch);
                CHECK(r.value == "v");
                flags.push_back(r.shared);
            });
        co_await wg.wait();
        CHECK(calls == 1);
        CHECK(flags == std::vector<bool>{true, true, true});  // the caller that ran it included
        std::string plain = co_await sf.run("c", alone);       // run() still gives the value itself
        CHECK(plain == "solo");
    }(), ringo::runtime_options{.threads = 1});  // ordering by yield: one thread
}

TEST_CASE("sync awaitables awaited outside run name the call") {
    using test::bare;  // a coroutine driven by hand, with no ringo runtime on this thread
    auto message = [](bare b) {
        b.h.resume();
        std::string what;
        try {
            if (b.h.promise().error)
                std::rethrow_exception(b.h.promise().error);
        } catch (const ringo::panic_error& e) {
            what = e.what();
        }
        b.h.destroy();
        return what;
    };
    ringo::rw_mutex rw;
    REQUIRE(rw.try_lock());  // held: the awaits below must park
    auto shared = [](ringo::rw_mutex& m) -> bare { auto g = co_await m.lock_shared(); (void)g.release(); };
    CHECK(message(shared(rw)).find("ringo::rw_mutex::lock_shared called outside ringo::run") != std::string::npos);
    auto exclusive = [](ringo::rw_mutex& m) -> bare { auto g = co_await m.lock(); (void)g.release(); };
    CHECK(message(exclusive(rw)).find("ringo::rw_mutex::lock called outside ringo::run") != std::string::npos);
    ringo::mutex mu;
    REQUIRE(mu.try_lock());
    auto locker = [](ringo::mutex& m) -> bare { auto g = co_await m.lock(); (void)g.release(); };
    CHECK(message(locker(mu)).find("ringo::mutex::lock called outside ringo::run") != std::string::npos);
}

TEST_CASE("wait_group::go outside run names the call and adds nothing") {
    ringo::wait_group wg;
    CHECK_THROWS_WITH_AS(wg.go([] {}), doctest::Contains("ringo::wait_group::go called outside ringo::run"),
                         ringo::panic_error);
    ringo::run([&wg]() -> task<void> {
        co_await wg.wait();  // the counter is still zero: returns at once
    }());
}

TEST_CASE("singleflight: one call per key in flight, shared result and exception, forget") {
    ringo::run([]() -> task<void> {
        ringo::singleflight<int> sf;
        int calls = 0;
        std::vector<int> results;
        ringo::wait_group wg;
        for (int i = 0; i < 5; ++i)
            wg.go([&]() -> task<void> {
                auto fetch = [&]() -> task<int> {
                    ++calls;
                    co_await ringo::sleep_for(1ms);
                    co_return 42;
                };
                results.push_back(co_await sf.run("key", fetch));
            });
        co_await wg.wait();
        CHECK(calls == 1);
        CHECK(results == std::vector<int>(5, 42));

        int failures = 0;
        for (int i = 0; i < 3; ++i)
            wg.go([&]() -> task<void> {
                auto boom = [&]() -> int {
                    ++calls;
                    throw std::runtime_error("backend down");
                };
                try {
                    (void)co_await sf.run("bad", boom);
                } catch (const std::runtime_error&) {
                    ++failures;
                }
            });
        co_await wg.wait();
        CHECK(failures == 3);

        // forget: the next caller starts a new call even while one is in flight.
        int started = 0;
        wg.go([&]() -> task<void> {
            auto slow = [&]() -> task<int> {
                ++started;
                co_await ringo::sleep_for(2ms);
                co_return 1;
            };
            (void)co_await sf.run("k", slow);
        });
        co_await ringo::yield();
        sf.forget("k");
        wg.go([&]() -> task<void> {
            auto fast = [&]() -> int { return ++started; };
            (void)co_await sf.run("k", fast);
        });
        co_await wg.wait();
        CHECK(started == 2);
    }(), ringo::runtime_options{.threads = 1});  // the forget step orders tasks with yield(): one executor
}

TEST_CASE("dump_tasks names each sync wait: rw_mutex, singleflight, semaphore") {
    test::progress_watchdog dog(30s, "sync waits in the dump");
    // Outlive run(): the tasks still parked on them are destroyed at its end.
    ringo::rw_mutex rw_outside;
    ringo::singleflight<int> sf_outside;
    ringo::semaphore sem_outside(1);
    ringo::chan<int> never_sent(0);
    std::string dump;
    ringo::run([](ringo::rw_mutex& rw, ringo::singleflight<int>& sf, ringo::semaphore& sem, ringo::chan<int>& never,
                  std::string& d) -> task<void> {
        auto held = co_await rw.lock();
        (void)held.release();  // stays write-locked: both waiters below stay parked
        const unsigned lock_line = __LINE__ + 1;
        ringo::go([&rw]() -> task<void> { auto g = co_await rw.lock(); });
        const unsigned rlock_line = __LINE__ + 1;
        ringo::go([&rw]() -> task<void> { auto g = co_await rw.lock_shared(); });
        auto fetch = [&never]() -> task<int> { co_return (co_await never.recv()).value_or(0); };
        const unsigned sf_line = __LINE__ + 1;
        auto caller = [&sf, &fetch]() -> task<void> { (void)co_await sf.run("k", fetch); };
        ringo::go(caller);  // the leader: waits in fetch
        ringo::go(caller);  // joins it: waits for the leader's result
        CHECK(sem.try_acquire(1));
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        const unsigned sem_line = __LINE__ + 1;
        ringo::go([&sem, ctx]() -> task<void> { (void)co_await sem.acquire(ctx, 1); });
        const std::vector<std::string> want{
            test::waits_at("sync.RWMutex.Lock", "test_sync.cpp", lock_line),
            test::waits_at("sync.RWMutex.RLock", "test_sync.cpp", rlock_line),
            test::waits_at("singleflight wait", "test_sync.cpp", sf_line),
            test::waits_at("semaphore acquire", "test_sync.cpp", sem_line),
        };
        d = co_await test::dump_showing(want);
    }(rw_outside, sf_outside, sem_outside, never_sent, dump));
    CHECK(dump.find("[sync.Mutex.Lock]") == std::string::npos);
    CHECK(dump.find("[select]") == std::string::npos);
    CHECK(dump.find("[sync.Once.Do]") == std::string::npos);
}

}  // TEST_SUITE
