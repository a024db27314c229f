// The runtime: run, go, yield, the task registry and dump, panics, deadlock
// detection, blocking(), teardown of live tasks and pending ring operations,
// and a clear error when the kernel refuses io_uring.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/detail/io_op.hpp>
#include <ringo/ringo.hpp>

#include "child.hpp"
#include "refuse_io_uring.hpp"
#include "lifetime.hpp"

using ringo::task;

namespace {

// Parks the calling task with nobody to wake it: a stand-in for a receive
// on a channel nobody holds.
struct park_forever {
    std::source_location site = std::source_location::current();
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const {
        ringo::detail::park(h, ringo::detail::task_state::chan_receive, site, "park_forever");
    }
    void await_resume() const noexcept {}
};

task<void> sleeper(test::lifetime) { co_await park_forever{}; }


}  // namespace

TEST_SUITE("runtime") {

TEST_CASE("run returns main's value and rethrows main's exception") {
    CHECK(ringo::run([]() -> task<int> { co_return 5; }()) == 5);
    CHECK_THROWS_AS(ringo::run([]() -> task<void> {
                        throw std::out_of_range("main failed");
                        co_return;
                    }()),
                    std::out_of_range);
}

TEST_CASE("go runs tasks, callables with arguments and capturing lambdas") {
    auto counter = std::make_shared<int>(0);
    ringo::run([](std::shared_ptr<int> c) -> task<void> {
        auto add = [](std::shared_ptr<int> p, int n) -> task<void> {
            *p += n;
            co_return;
        };
        ringo::go(add(c, 1));              // a task
        ringo::go(add, c, 10);             // a callable returning a task, with arguments
        ringo::go([c]() -> task<void> {    // a capturing coroutine lambda (moved into the frame)
            co_await ringo::yield();
            *c += 100;
        });
        ringo::go([c] { *c += 1000; });    // a plain callable
        while (ringo::num_tasks() > 1)
            co_await ringo::yield();
    }(counter));
    CHECK(*counter == 1111);
    CHECK(counter.use_count() == 1);  // every copy held by a task is gone
}

namespace forms {

task<void> bump(std::shared_ptr<int> c, int n) {
    *c += n;
    co_return;
}

std::shared_ptr<int> counter = std::make_shared<int>(0);
task<void> f() { return bump(counter, 1); }
task<void> g(int a, int b) { return bump(counter, a + b); }

}  // namespace forms

TEST_CASE("go is an expression statement in every form, and records the go-site") {
    using namespace forms;
    *counter = 0;
    std::string dump;
    ringo::run([](std::string& out) -> task<void> {
        auto worker = []() -> task<void> { return bump(counter, 100); };
        ringo::go(f);            // a function returning a task
        ringo::go(f());          // a task
        ringo::go(worker);       // a named lambda
        ringo::go(g, 2, 3);      // a function with arguments
        ringo::go([]() -> task<void> { return bump(counter, 1000); });
        ringo::go([] { *counter += 10000; });  // a plain callable
        ringo::chan<int> never(0);
        ringo::go([never]() -> task<void> { co_await never.recv(); });
        int line = __LINE__ - 1;
        while (ringo::num_tasks() > 2)
            co_await ringo::yield();
        out = ringo::dump_tasks();
        out += "\nline " + std::to_string(line);
    }(dump));
    CHECK(*counter == 11107);
    auto line = dump.substr(dump.rfind("line ") + 5);
    CHECK(dump.find("(go at test/test_runtime.cpp:" + line + ")") != std::string::npos);
}

TEST_CASE("yield lets every task made runnable first run, after any number of run-next hand-offs") {
    bool ran = false;
    ringo::run(
        [](bool& flag) -> task<void> {
            ringo::chan<int> ping(0), pong(0);
            ringo::go([ping, pong]() -> task<void> {
                while (auto v = co_await ping.recv())
                    co_await pong.send(*v);
            });
            for (int i = 0; i < 200; ++i) {  // every hand-off goes through the run-next slot
                co_await ping.send(i);
                (void)co_await pong.recv();
            }
            ringo::go([&flag] {
                flag = true;
            });
            co_await ringo::yield();
            CHECK(flag);  // yield returned only after the new task ran
            ping.close();
        }(ran),
        ringo::runtime_options{.threads = 1});
    CHECK(ran);
}

TEST_CASE("yield lets every runnable task run, in FIFO order") {
    std::vector<int> order;
    ringo::run([](std::vector<int>& out) -> task<void> {
        for (int i = 0; i < 3; ++i)
            ringo::go(
                [](std::vector<int>& o, int id) -> task<void> {
                    o.push_back(id);
                    co_await ringo::yield();
                    o.push_back(id + 10);
                },
                std::ref(out), i);
        while (ringo::num_tasks() > 1)
            co_await ringo::yield();
    }(order), ringo::runtime_options{.threads = 1});  // one executor's order (idle ones would steal)
    CHECK(order == std::vector<int>{2, 0, 1, 12, 10, 11});  // the newest spawn runs next, as in Go
}

TEST_CASE("misuse outside run is a panic_error naming the call") {
    CHECK_THROWS_WITH_AS(ringo::go([] {}), doctest::Contains("ringo::go called outside ringo::run"),
                         ringo::panic_error);
    CHECK(ringo::num_tasks() == 0);
    CHECK(ringo::dump_tasks().empty());
    ringo::run([]() -> task<void> {
        CHECK_THROWS_WITH_AS(ringo::run([]() -> task<void> { co_return; }()),
                             doctest::Contains("not reentrant"), ringo::panic_error);
        co_return;
    }());
}

TEST_CASE("num_tasks and dump_tasks show each task, its state and where it waits") {
    std::string dump;
    std::size_t n = 0;
    ringo::run([](std::string& d, std::size_t& count) -> task<void> {
        ringo::go(sleeper, test::lifetime{1});
        ringo::go(sleeper, test::lifetime{2});
        co_await ringo::yield();  // let them park
        count = ringo::num_tasks();
        d = ringo::dump_tasks();
    }(dump, n));
    CHECK(n == 3);
    CHECK(dump.find("task 1 [running]") != std::string::npos);
    CHECK(dump.find("task 2 [chan receive] test/test_runtime.cpp:") != std::string::npos);
    CHECK(dump.find("task 3 [chan receive] test/test_runtime.cpp:") != std::string::npos);
    CHECK(dump.find("(go at test/test_runtime.cpp:") != std::string::npos);
}

TEST_CASE("tasks still alive when main returns are destroyed cleanly") {
    test::lifetime_counts.reset();
    ringo::run([]() -> task<void> {
        for (int i = 0; i < 100; ++i)
            ringo::go(sleeper, test::lifetime{i});
        co_await ringo::yield();
        CHECK(test::lifetime_counts.alive() >= 100);  // one held by each parked task (at least)
    }());
    CHECK(test::lifetime_counts.alive() == 0);
}

TEST_CASE("a blocked main with nothing left to run is a deadlock") {
    test::lifetime_counts.reset();
    std::string what;
    try {
        ringo::run([]() -> task<void> {
            ringo::go(sleeper, test::lifetime{1});
            co_await park_forever{};
        }());
    } catch (const ringo::deadlock_error& e) {
        what = e.what();
    }
    CHECK(what.starts_with("all tasks are asleep - deadlock!"));
    CHECK(what.find("task 1 [chan receive] test/test_runtime.cpp:") != std::string::npos);
    CHECK(what.find("task 2 [chan receive]") != std::string::npos);
    CHECK(test::lifetime_counts.alive() == 0);
}

TEST_CASE("blocking runs on a helper thread and returns its value or exception") {
    auto main_thread = std::this_thread::get_id();
    auto r = ringo::run([](std::thread::id home) -> task<int> {
        auto on_helper = [home] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // main is idle meanwhile: no deadlock
            return std::this_thread::get_id() != home ? 1 : 0;
        };
        int v = co_await ringo::blocking(on_helper);
        auto thrower = []() -> int { throw std::invalid_argument("bad"); };
        int caught = 0;
        try {
            (void)co_await ringo::blocking(thrower);
        } catch (const std::invalid_argument&) {
            caught = 1;
        }
        auto nothing = [] {};
        co_await ringo::blocking(nothing);
        co_return v * 10 + caught;
    }(main_thread));
    CHECK(r == 11);
}

TEST_CASE("many concurrent blocking calls all complete") {
    int sum = ringo::run([]() -> task<int> {
        auto total = std::make_shared<std::atomic<int>>(0);  // the tasks may run on several executors
        for (int i = 1; i <= 50; ++i)
            ringo::go([total, i]() -> task<void> {
                auto work = [i] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    return i;
                };
                *total += co_await ringo::blocking(work);
            });
        while (ringo::num_tasks() > 1)
            co_await ringo::yield();
        co_return total->load();
    }());
    CHECK(sum == 50 * 51 / 2);
}

TEST_CASE("a blocking call outliving main does not touch the ended runtime") {
    auto done = std::make_shared<std::atomic<bool>>(false);
    ringo::run([](std::shared_ptr<std::atomic<bool>> d) -> task<void> {
        ringo::go([d]() -> task<void> {
            auto slow = [d] {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                d->store(true);
            };
            co_await ringo::blocking(slow);
        });
        co_await ringo::yield();
    }(done));
    // The helper finishes on its own; give it time, so sanitizers see it end.
    for (int i = 0; i < 200 && !done->load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(done->load());
}

TEST_CASE("ring operations pending when main returns are cancelled and drained first") {
    // Each task reads from a pipe nobody writes: the read stays in the kernel
    // until the runtime cancels it; the frame must outlive its completion.
    static int resumed = 0, freed_in_flight = 0, freed_after_completion = 0;
    static std::atomic<int> submitted = 0;  // tasks may run on other executors
    resumed = freed_in_flight = freed_after_completion = 0;
    submitted = 0;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ringo::run([](int fd) -> task<void> {
        for (int i = 0; i < 200; ++i)
            ringo::go([fd]() -> task<void> {
                std::byte buf[16];
                ringo::detail::io_slot op;
                struct guard {  // destroyed with the frame, before op: tells whether op's CQE came first
                    const ringo::detail::io_slot& slot;
                    ~guard() {
                        std::lock_guard l(const_cast<ringo::detail::io_slot&>(slot).lock);
                        ++(slot.completed ? freed_after_completion : freed_in_flight);
                    }
                } g{op};
                ringo::detail::io_request req{IORING_OP_READ, fd, reinterpret_cast<std::uint64_t>(buf), sizeof buf};
                ringo::detail::current_executor()->submit(&op, req);
                ++submitted;
                ringo::detail::io_wait wait{op, std::source_location::current()};
                (void)co_await wait;
                ++resumed;  // never reached: the task is destroyed at the end
            });
        while (submitted < 200)  // every read in flight (on whichever executor) before main returns
            co_await ringo::yield();
    }(fds[0]));
    CHECK(resumed == 0);
    CHECK(freed_in_flight == 0);            // no frame was freed while the kernel could still write into it
    CHECK(freed_after_completion == 200);   // every read was cancelled and completed first
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("an I/O completion resumes the awaiting task with its result") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "hello", 5) == 5);
    int n = ringo::run([](int fd) -> task<int> {
        char buf[16];
        ringo::detail::io_request req{IORING_OP_READ, fd, reinterpret_cast<std::uint64_t>(buf), sizeof buf};
        ringo::detail::io_slot op;
        ringo::detail::current_executor()->submit(&op, req);
        ringo::detail::io_wait wait{op, std::source_location::current()};
        int res = co_await wait;
        CHECK(std::string(buf, 5) == "hello");
        co_return res;
    }(fds[0]));
    CHECK(n == 5);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("a panic handler receives an exception escaping a go task") {
    std::string message;
    std::uint64_t id = 0;
    unsigned line = 0;
    ringo::set_panic_handler([&](std::exception_ptr e, const ringo::task_info& info) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            message = ex.what();
        }
        id = info.id;
        line = info.spawn_site.line();
    });
    unsigned spawn_line = 0;
    ringo::run([](unsigned& l) -> task<void> {
        l = __LINE__ + 1;
        ringo::go([]() -> task<void> { throw std::runtime_error("escaped"); co_return; });
        co_await ringo::yield();
    }(spawn_line));
    ringo::set_panic_handler({});
    CHECK(message == "escaped");
    CHECK(id == 2);
    CHECK(line == spawn_line);
}

TEST_CASE("without a handler, an escaping exception is a Go panic: message, spawn site, exit 2") {
    auto [status, err] = test::in_child([] {
        ringo::run([]() -> task<void> {
            ringo::go([]() -> task<void> { throw std::runtime_error("kaboom"); co_return; });
            co_await ringo::yield();
            std::_Exit(0);  // not reached
        }());
    });
    CHECK(status == 2);
    CHECK(err.find("panic: kaboom") != std::string::npos);
    CHECK(err.find("created by go at test/test_runtime.cpp:") != std::string::npos);
}

TEST_CASE("a kernel that refuses io_uring: automatic runs on epoll, io_uring forced gives one clear error") {
    auto [status, err] = test::in_child([] {
        if (!test::refuse_io_uring())  // as in a locked-down container
            std::_Exit(3);
        auto seen = ringo::run([]() -> task<ringo::backend_kind> { co_return ringo::current_backend(); }());
        if (seen != ringo::backend_kind::epoll)
            std::_Exit(7);
        try {
            ringo::run([]() -> task<void> { co_return; }(), ringo::runtime_options{.backend = ringo::backend_kind::io_uring});
        } catch (const std::system_error& e) {
            std::fputs(e.what(), stderr);
            std::_Exit(e.code().value() == EPERM ? 4 : 5);
        }
        std::_Exit(6);
    });
    CHECK(status == 4);
    CHECK(err.find("io_uring is not available") != std::string::npos);
    CHECK(err.find("Operation not permitted") != std::string::npos);
}

TEST_CASE("the backend asked for is the one every executor runs on, and the dump's header names it") {
    for (auto kind : {ringo::backend_kind::epoll, ringo::backend_kind::automatic}) {
        for (unsigned threads : {1u, 3u}) {
            std::vector<ringo::backend_kind> seen;
            std::string dump;
            ringo::run(
                [](std::vector<ringo::backend_kind>& out, std::string& d, unsigned n) -> task<void> {
                    ringo::wait_group wg;
                    std::mutex mu;
                    for (unsigned i = 0; i < n; ++i) {
                        wg.add(1);
                        ringo::detail::go_pinned(i, [&]() -> task<void> {
                            {
                                std::lock_guard l(mu);
                                out.push_back(ringo::current_backend());
                            }
                            wg.done();
                            co_return;
                        });
                    }
                    co_await wg.wait();
                    d = ringo::dump_tasks();
                }(seen, dump, threads),
                ringo::runtime_options{.threads = threads, .backend = kind});
            REQUIRE(seen.size() == threads);
            CHECK(seen[0] != ringo::backend_kind::automatic);
            if (kind == ringo::backend_kind::epoll)
                CHECK(seen[0] == ringo::backend_kind::epoll);
            for (auto b : seen)
                CHECK(b == seen[0]);
            std::string name = seen[0] == ringo::backend_kind::epoll ? "epoll" : "io_uring";
            CHECK(dump.starts_with("runtime: " + name + " backend, " + std::to_string(threads) +
                                   (threads == 1 ? " executor\n" : " executors\n")));
        }
    }
    CHECK(ringo::current_backend() == ringo::backend_kind::automatic);  // outside run
}

}  // TEST_SUITE
