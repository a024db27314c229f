// context: cancellation trees, deadlines, values, causes, after_func,
// without_cancel, to_stop_token, and the context forms of channel operations.
#include <doctest/doctest.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ringo/ringo.hpp>

#include "dump.hpp"
#include "lifetime.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using clk = ringo::clock;
using ringo::chan;
using ringo::context;
using ringo::errc;
using ringo::task;

namespace {
const ringo::context_key<std::string> user_key;
const ringo::context_key<int> depth_key;
const ringo::context_key<std::string> other_key;

#ifdef RINGO_TEST_FULL_DEPTH
constexpr int many = 1'000'000;
#else
constexpr int many = 50'000;
#endif

// The linearizability races below: a tree whose nodes[0] is the root and
// every other node a descendant; cancels[i] cancels nodes[i].
struct race_tree {
    std::vector<context> nodes;
    std::vector<ringo::cancel_func> cancels;
    bool chain = false;  // nodes[i + 1] is a child of nodes[i]; else all are children of the root
};

race_tree make_race_tree(int n, bool chain) {
    race_tree t;
    t.chain = chain;
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    t.nodes.push_back(root);
    t.cancels.push_back(cancel_root);
    for (int i = 0; i < n; ++i) {
        auto [c, cancel] = ringo::with_cancel(chain ? t.nodes.back() : t.nodes.front());
        t.nodes.push_back(c);
        t.cancels.push_back(cancel);
    }
    return t;
}

// How many descendants of nodes[at] are not cancelled. Newest first: the
// reverse of the order a cancel walks them, so a walk still under way shows.
int uncancelled_below(const race_tree& t, std::size_t at) {
    if (!t.chain && at != 0)
        return 0;  // a leaf
    int n = 0;
    for (std::size_t i = t.nodes.size() - 1; i > at; --i)
        n += t.nodes[i].err() ? 0 : 1;
    return n;
}

// Both sides of a round wait here, then race.
void start_together(std::atomic<int>& ready) {
    ready.fetch_add(1, std::memory_order_acq_rel);
    while (ready.load(std::memory_order_acquire) < 2) {
    }
}

// One canceller cancels the root and then counts its uncancelled
// descendants; the other does `mode`: 0 cancels the root too, 1 only waits
// until the root's err() is set, 2 cancels a node in the middle; then it
// counts that node's uncancelled descendants. Either count must be 0: once
// a node's err() is set, or any cancel() of it has returned, every
// descendant's err() is set. Returns {the root canceller's, the other's}.
template <class RunElsewhere>
std::pair<int, int> cancel_race(race_tree& t, int mode, RunElsewhere run_elsewhere) {
    std::atomic<int> ready{0};
    auto root_side = [&t, &ready] {
        start_together(ready);
        t.cancels[0]();
        return uncancelled_below(t, 0);
    };
    std::size_t at = mode == 2 ? t.nodes.size() / 2 : 0;
    std::function<int()> elsewhere = root_side;
    auto finish = run_elsewhere(std::move(elsewhere));
    start_together(ready);
    if (mode == 1)
        while (!t.nodes[0].err()) {
        }
    else
        t.cancels[at]();
    int mine = uncancelled_below(t, at);
    return {finish(), mine};
}

// Runs f on a helper thread; the returned function joins it and gives f's result.
auto on_helper_thread(std::function<int()> f) {
    auto result = std::make_shared<int>(-1);
    auto thread = std::make_shared<std::thread>([f = std::move(f), result] { *result = f(); });
    return [thread, result] {
        thread->join();
        return *result;
    };
}
// 20 rounds of cancel_race over a 20,000-child tree and a 20,000-deep
// chain, every mode in turn; checks each tree and adds up the late reads.
template <class RunElsewhere>
std::pair<int, int> cancel_races(RunElsewhere run_elsewhere) {
    int late_root_side = 0, late_other_side = 0;
    for (int round = 0; round < 20; ++round)
        for (bool chain : {false, true}) {
            race_tree t = make_race_tree(20'000, chain);
            auto [root_side, other_side] = cancel_race(t, round % 3, run_elsewhere);
            late_root_side += root_side;
            late_other_side += other_side;
            CHECK(uncancelled_below(t, 0) == 0);
            test::tick();
        }
    return {late_root_side, late_other_side};
}

}  // namespace

TEST_SUITE("context") {

TEST_CASE("background never ends: nil done, no error, no deadline, no values") {
    context bg = ringo::background();
    CHECK_FALSE(bg.done());
    CHECK_FALSE(bg.err());
    CHECK_FALSE(bg.deadline().has_value());
    CHECK(bg.value(user_key) == nullptr);
    CHECK_FALSE(ringo::todo().done());
    CHECK_FALSE(ringo::cause(bg));
}

TEST_CASE("cancel closes done, sets err, and propagates to every descendant") {
    auto [root, cancel] = ringo::with_cancel(ringo::background());
    auto [child, cancel_child] = ringo::with_cancel(root);
    context grandchild = ringo::with_value(child, user_key, "x");
    auto [great, cancel_great] = ringo::with_cancel(grandchild);
    auto done = great.done();
    CHECK(done.try_recv().state == ringo::recv_state::would_block);
    cancel();
    // When cancel() returns, every descendant is cancelled.
    CHECK(root.err() == errc::canceled);
    CHECK(child.err() == errc::canceled);
    CHECK(grandchild.err() == errc::canceled);
    CHECK(great.err() == errc::canceled);
    CHECK(done.try_recv().state == ringo::recv_state::closed);
    CHECK(great.done().try_recv().state == ringo::recv_state::closed);  // made after the cancel: closed too
    cancel();  // idempotent
    cancel_child();
    CHECK(child.err() == errc::canceled);
}

TEST_CASE("cancelling a child leaves the parent alone and removes the child from it") {
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    auto* node = root.node().get()->cancel_ancestor();
    auto [child, cancel_child] = ringo::with_cancel(root);
    CHECK(ringo::detail::child_count(node) == 1);
    cancel_child();
    CHECK(child.err() == errc::canceled);
    CHECK_FALSE(root.err());
    CHECK(ringo::detail::child_count(node) == 0);
    cancel_root();
}

TEST_CASE("a child whose handles are all gone leaves its parent") {
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    auto* node = root.node().get()->cancel_ancestor();
    {
        auto [child, cancel_child] = ringo::with_cancel(root);
        auto [grandchild, cancel_grandchild] = ringo::with_cancel(child);
        CHECK(ringo::detail::child_count(node) == 1);
    }
    CHECK(ringo::detail::child_count(node) == 0);
    cancel_root();
}

TEST_CASE("a million children of one long-lived root, created and cancelled, leave nothing behind") {
    test::lifetime_counts.reset();
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    auto* node = root.node().get()->cancel_ancestor();
    for (int i = 0; i < many; ++i) {
        auto [child, cancel] = ringo::with_cancel(root);
        context v = ringo::with_value(child, depth_key, i);
        (void)v.done();
        cancel();
    }
    CHECK(ringo::detail::child_count(node) == 0);
    cancel_root();
}

TEST_CASE("a child of a cancelled parent is born cancelled") {
    auto [root, cancel] = ringo::with_cancel_cause(ringo::background());
    cancel(std::make_error_code(std::errc::timed_out));
    auto [child, c] = ringo::with_cancel(root);
    CHECK(child.err() == errc::canceled);
    CHECK(ringo::cause(child) == std::errc::timed_out);
}

TEST_CASE("values: typed keys, nearest ancestor wins, identity is the key's address") {
    context a = ringo::with_value(ringo::background(), user_key, "alice");  // type_identity: a string literal works
    context b = ringo::with_value(a, depth_key, 1);
    context c = ringo::with_value(b, user_key, std::string("carol"));
    REQUIRE(c.value(user_key) != nullptr);
    CHECK(*c.value(user_key) == "carol");
    CHECK(*b.value(user_key) == "alice");
    CHECK(*c.value(depth_key) == 1);
    CHECK(c.value(other_key) == nullptr);  // same type, different key
    auto [d, cancel] = ringo::with_cancel(c);
    CHECK(*d.value(user_key) == "carol");  // values pass through cancellable children
    context e = ringo::without_cancel(d);
    CHECK(*e.value(depth_key) == 1);  // and through without_cancel
}

TEST_CASE("causes follow Go 1.20/1.21") {
    auto [ctx, cancel] = ringo::with_cancel_cause(ringo::background());
    CHECK_FALSE(ringo::cause(ctx));
    auto [child, cancel_child] = ringo::with_cancel(ctx);
    cancel(std::make_error_code(std::errc::connection_reset));
    CHECK(ctx.err() == errc::canceled);
    CHECK(ringo::cause(ctx) == std::errc::connection_reset);
    CHECK(ringo::cause(child) == std::errc::connection_reset);  // inherited from the ancestor that was cancelled
    cancel(std::make_error_code(std::errc::io_error));          // later causes do not overwrite
    CHECK(ringo::cause(ctx) == std::errc::connection_reset);

    auto [plain, cancel_plain] = ringo::with_cancel(ringo::background());
    cancel_plain();
    CHECK(ringo::cause(plain) == errc::canceled);  // no cause given: the error
    auto [nocause, cancel_nocause] = ringo::with_cancel_cause(ringo::background());
    cancel_nocause({});
    CHECK(ringo::cause(nocause) == errc::canceled);
}

TEST_CASE("without_cancel: not cancelled with its parent, no deadline") {
    auto [parent, cancel] = ringo::with_cancel(ringo::background());
    context detached = ringo::without_cancel(parent);
    cancel();
    CHECK_FALSE(detached.err());
    CHECK_FALSE(detached.done());
    CHECK_FALSE(detached.deadline().has_value());
}

TEST_CASE("to_stop_token is stopped when the context is cancelled") {
    auto [ctx, cancel] = ringo::with_cancel(ringo::background());
    std::stop_token token = ringo::to_stop_token(ctx);
    CHECK(token.stop_possible());
    CHECK_FALSE(token.stop_requested());
    std::atomic<bool> stopped{false};
    std::stop_callback on_stop(token, [&stopped] { stopped = true; });
    cancel();
    CHECK(token.stop_requested());
    CHECK(stopped);
    CHECK_FALSE(ringo::to_stop_token(ringo::background()).stop_possible());
}

TEST_CASE("deadlines: err is deadline_exceeded after expiry; done is usable in select") {
    ringo::run([]() -> task<void> {
        auto start = clk::now();
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 3ms);
        REQUIRE(ctx.deadline().has_value());
        CHECK(*ctx.deadline() >= start + 3ms);
        chan<int> never(0);
        auto r = co_await ringo::select(ringo::recv(never), ringo::recv(ctx.done()));
        CHECK(r.index() == 1);
        CHECK(ctx.err() == errc::deadline_exceeded);
        CHECK(clk::now() - start >= 3ms);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("a child's deadline is never later than its parent's") {
    ringo::run([]() -> task<void> {
        auto [parent, cancel_parent] = ringo::with_timeout(ringo::background(), 1h);
        auto [later, cancel_later] = ringo::with_timeout(parent, 2h);
        CHECK(later.deadline() == parent.deadline());
        auto [earlier, cancel_earlier] = ringo::with_timeout(parent, 1min);
        CHECK(*earlier.deadline() < *parent.deadline());
        CHECK(ringo::num_timers() == 2);  // the later child needs no timer of its own
        cancel_parent();
        CHECK(later.err() == errc::canceled);
        CHECK(earlier.err() == errc::canceled);
        CHECK(ringo::num_timers() == 0);  // cancelling released the deadline timers at once
        co_return;
    }());
}

TEST_CASE("a deadline in the past cancels at once, even outside run") {
    auto [ctx, cancel] = ringo::with_deadline(ringo::background(), clk::now() - 1s);
    CHECK(ctx.err() == errc::deadline_exceeded);
    CHECK(ctx.done().try_recv().state == ringo::recv_state::closed);
    CHECK_THROWS_WITH_AS(ringo::with_deadline(ringo::background(), clk::now() + 1h),
                         doctest::Contains("ringo::with_deadline called outside ringo::run"), ringo::panic_error);
}

TEST_CASE("outside run, the context calls that need a runtime name the call the user made") {
    auto cause = std::make_error_code(std::errc::timed_out);
    CHECK_THROWS_WITH_AS(ringo::with_timeout(ringo::background(), 1h),
                         doctest::Contains("ringo::with_timeout called outside ringo::run"), ringo::panic_error);
    CHECK_THROWS_WITH_AS(ringo::with_timeout_cause(ringo::background(), 1h, cause),
                         doctest::Contains("ringo::with_timeout_cause called outside ringo::run"), ringo::panic_error);
    CHECK_THROWS_WITH_AS(ringo::with_deadline_cause(ringo::background(), clk::now() + 1h, cause),
                         doctest::Contains("ringo::with_deadline_cause called outside ringo::run"), ringo::panic_error);
    auto [ctx, cancel] = ringo::with_cancel(ringo::background());
    CHECK_THROWS_WITH_AS((void)ringo::after_func(ctx, [] {}),
                         doctest::Contains("ringo::after_func called outside ringo::run"), ringo::panic_error);
}

TEST_CASE("with_deadline_cause / with_timeout_cause: deadline_exceeded with the given cause") {
    ringo::run([]() -> task<void> {
        auto why = std::make_error_code(std::errc::timed_out);
        auto [ctx, cancel] = ringo::with_timeout_cause(ringo::background(), 2ms, why);
        CHECK_FALSE(ringo::cause(ctx));
        auto [child, cancel_child] = ringo::with_cancel(ctx);
        co_await ctx.done().recv();
        CHECK(ctx.err() == errc::deadline_exceeded);
        CHECK(ringo::cause(ctx) == std::errc::timed_out);
        CHECK(child.err() == errc::deadline_exceeded);
        CHECK(ringo::cause(child) == std::errc::timed_out);

        auto [d, cancel_d] = ringo::with_deadline_cause(ringo::background(), clk::now() + 1h, why);
        cancel_d();  // cancelled before the deadline: no cause of its own
        CHECK(d.err() == errc::canceled);
        CHECK(ringo::cause(d) == errc::canceled);

        auto [past, cancel_past] = ringo::with_deadline_cause(ringo::background(), clk::now() - 1s, why);
        CHECK(past.err() == errc::deadline_exceeded);  // cancelled at once
        CHECK(ringo::cause(past) == std::errc::timed_out);

        auto [empty, cancel_empty] = ringo::with_timeout_cause(ringo::background(), 0ms, {});
        CHECK(ringo::cause(empty) == errc::deadline_exceeded);  // an empty cause: the error

        // The parent's earlier deadline applies, and with it the parent's cause.
        auto [parent, cancel_parent] = ringo::with_timeout_cause(ringo::background(), 2ms, why);
        auto [later, cancel_later] =
            ringo::with_timeout_cause(parent, 1h, std::make_error_code(std::errc::connection_aborted));
        co_await later.done().recv();
        CHECK(later.err() == errc::deadline_exceeded);
        CHECK(ringo::cause(later) == std::errc::timed_out);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("cancel propagates to children created and cancelled from other threads") {
    ringo::run([]() -> task<void> {
        auto [root, cancel_root] = ringo::with_cancel(ringo::background());
        std::vector<context> made(4 * 1000);
        auto work = [&made, root = root](int t) {
            for (int i = 0; i < 1000; ++i) {
                auto [child, cancel] = ringo::with_cancel(root);
                if (i % 2 == 0)
                    cancel();
                made[static_cast<std::size_t>(t * 1000 + i)] = child;
            }
        };
        std::vector<std::jthread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back(work, t);
        threads.clear();  // joins
        cancel_root();
        int not_cancelled = 0;
        for (auto& c : made)
            not_cancelled += c.err() ? 0 : 1;
        CHECK(not_cancelled == 0);
        co_return;
    }());
}

TEST_CASE("cancel is linearizable: a second cancel() or a set err() means the whole subtree is cancelled") {
    // 20,000 children of one root, and a 20,000-deep chain; the root is
    // cancelled by a helper thread while this one cancels it too, or watches
    // its err(), or cancels a node in the middle of the chain.
    test::progress_watchdog dog(60s, "linearizable cancel");
    std::pair<int, int> late{-1, -1};
    ringo::run([&]() -> task<void> {
        late = cancel_races(on_helper_thread);
        co_return;
    }());
    CHECK(late.first == 0);   // the root's side
    CHECK(late.second == 0);  // the other side
}

TEST_CASE("cancel is linearizable across executors: a task on executor 1 races one on executor 0") {
    test::progress_watchdog dog(60s, "linearizable cancel, two executors");
    std::pair<int, int> late{-1, -1};
    ringo::run(
        [&]() -> task<void> {
            REQUIRE(ringo::detail::executor_count() == 2);
            // The root's canceller runs as a task pinned on executor 1.
            auto on_executor_1 = [](std::function<int()> f) {
                auto result = std::make_shared<std::atomic<int>>(-1);  // -1: not finished
                ringo::detail::go_pinned(1, [f = std::move(f), result] { result->store(f()); });
                return [result] {
                    int late_reads;
                    while ((late_reads = result->load()) == -1) {  // the task on executor 1 is nearly done
                    }
                    return late_reads;
                };
            };
            late = cancel_races(on_executor_1);
            co_return;
        }(),
        ringo::runtime_options{.threads = 2});
    CHECK(late.first == 0);
    CHECK(late.second == 0);
}

TEST_CASE("after_func runs once when the context is cancelled; stop reports correctly") {
    ringo::run([]() -> task<void> {
        auto ran = std::make_shared<int>(0);
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        auto stop = ringo::after_func(ctx, [ran] { ++*ran; });
        auto stop2 = ringo::after_func(ctx, [ran] { *ran += 100; });
        CHECK(stop2());  // stopped before the cancel
        cancel();
        cancel();
        co_await ringo::yield();
        CHECK(*ran == 1);
        CHECK_FALSE(stop());  // already ran
        CHECK_FALSE(stop2());

        auto late = ringo::after_func(ctx, [ran]() -> task<void> {  // ctx already done: runs at once
            *ran += 10;
            co_return;
        });
        co_await ringo::yield();
        CHECK(*ran == 11);
        CHECK_FALSE(late());
    }());
}

TEST_CASE("after_func on a context nobody can cancel any more is freed, not leaked") {
    ringo::run([]() -> task<void> {
        auto token = std::make_shared<int>(0);  // its use count counts the live callables
        for (int i = 0; i < 1000; ++i) {
            auto [ctx, cancel] = ringo::with_cancel(ringo::background());
            (void)ringo::after_func(ctx, [token] { ++*token; });
            auto stop = ringo::after_func(ctx, [token] { ++*token; });  // a stop_func kept past the context
            auto [deeper, cancel_deeper] = ringo::with_cancel(ctx);
            (void)ringo::after_func(deeper, [token] { ++*token; });
            if (i == 999) {
                ctx = {};
                cancel = {};
                deeper = {};
                cancel_deeper = {};
                CHECK(token.use_count() == 2);  // only the callable that `stop` still holds
                CHECK(stop());                  // it never ran: stop reports it kept f from running
            }
        }
        co_await ringo::yield();
        CHECK(*token == 0);
        CHECK(token.use_count() == 1);
    }());
}

TEST_CASE("after_func on a dropped child still runs when an ancestor that could cancel it is cancelled") {
    ringo::run([]() -> task<void> {
        auto ran = std::make_shared<int>(0);
        auto [root, cancel_root] = ringo::with_cancel(ringo::background());
        ringo::stop_func stopped_later;
        {
            auto [mid, cancel_mid] = ringo::with_cancel(root);
            auto [leaf, cancel_leaf] = ringo::with_cancel(ringo::with_value(mid, depth_key, 1));
            (void)ringo::after_func(leaf, [ran] { ++*ran; });
            stopped_later = ringo::after_func(leaf, [ran] { *ran += 100; });
            (void)ringo::after_func(mid, [ran] { *ran += 10; });
        }  // leaf and mid are gone; root could still cancel them (Go keeps them)
        CHECK(ringo::detail::child_count(root.node().get()->cancel_ancestor()) == 0);
        CHECK(stopped_later());
        cancel_root();
        co_await ringo::yield();
        co_await ringo::yield();
        CHECK(*ran == 11);

        // A deadline still to come can cancel a context nobody holds.
        auto [timed, cancel_timed] = ringo::with_timeout(ringo::background(), 1ms);
        (void)ringo::after_func(timed, [ran] { *ran += 1000; });
        timed = {};
        cancel_timed = {};
        co_await ringo::sleep_for(5ms);
        co_await ringo::yield();
        CHECK(*ran == 1011);
    }(), ringo::runtime_options{.threads = 1});  // ordering by yield: one thread
}

TEST_CASE("after_func: stop racing with its context's death and an ancestor's cancel on other threads") {
    ringo::run([]() -> task<void> {
        test::progress_watchdog dog(30s, "after_func stop race");
        constexpr int rounds = 2000;
        auto ran = std::make_shared<std::atomic<int>>(0);
        int stopped = 0;
        for (int i = 0; i < rounds; ++i) {
            auto [root, cancel_root] = ringo::with_cancel(ringo::background());
            auto [ctx, cancel] = ringo::with_cancel(root);
            auto stop = ringo::after_func(ctx, [ran] { ran->fetch_add(1); });
            std::atomic<bool> stop_result{false};
            std::thread stopper([&stop_result, stop] { stop_result = stop(); });
            std::thread canceller([cancel_root = cancel_root, i] {
                if (i % 2 == 1)
                    cancel_root();
            });
            ctx = {};  // the context dies (its callback moves to root) while the others run
            cancel = {};
            stopper.join();
            canceller.join();
            stopped += stop_result ? 1 : 0;
            test::tick();
        }
        // Each f was either stopped or run, never both, never lost.
        while (stopped + ran->load() < rounds) {
            co_await ringo::sleep_for(1ms);
            test::tick();
        }
        co_await ringo::sleep_for(5ms);
        CHECK(stopped + ran->load() == rounds);
    }());
}

TEST_CASE("after_func fired by a cancel on another thread runs on the runtime") {
    ringo::run([]() -> task<void> {
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        chan<int> ran(1);
        auto stop = ringo::after_func(ctx, [ran]() -> task<void> { co_await ran.send(1); });
        auto remote_cancel = [cancel = cancel] { cancel(); };
        co_await ringo::blocking(remote_cancel);
        auto v = co_await ran.recv();
        CHECK(v == 1);
        CHECK_FALSE(stop());
    }());
}

TEST_CASE("sleep_for(ctx) returns ctx.err() on cancel and {} otherwise") {
    ringo::run([]() -> task<void> {
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 2ms);
        std::error_code e = co_await ringo::sleep_for(ctx, 1h);
        CHECK(e == errc::deadline_exceeded);
        std::error_code ok = co_await ringo::sleep_for(ringo::background(), 1ms);
        CHECK_FALSE(ok);
        auto [c2, cancel2] = ringo::with_cancel(ringo::background());
        std::error_code short_sleep = co_await ringo::sleep_for(c2, 1ms);
        CHECK_FALSE(short_sleep);
        cancel2();
        std::error_code already = co_await ringo::sleep_for(c2, 1h);
        CHECK(already == errc::canceled);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("a task in sleep_for(ctx) shows in the dump as [sleep] at its call, not [select]") {
    test::progress_watchdog dog(30s, "sleep_for(ctx) in the dump");
    std::string dump;
    ringo::run([](std::string& d) -> task<void> {
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        const unsigned line = __LINE__ + 1;
        ringo::go([ctx]() -> task<void> { (void)co_await ringo::sleep_for(ctx, 1h); });
        const std::vector<std::string> want{test::waits_at("sleep", "test_context.cpp", line)};
        d = co_await test::dump_showing(want);
        cancel();  // the sleeper ends
    }(dump));
    CHECK(dump.find("[select]") == std::string::npos);
}

TEST_CASE("recv(ctx, ch) and send(ctx, ch, v) give up on cancel and leave the channel untouched") {
    ringo::run([]() -> task<void> {
        chan<std::unique_ptr<int>> ch(0);
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        ringo::go([cancel = cancel]() -> task<void> {
            co_await ringo::sleep_for(1ms);
            cancel();
        });
        auto [v, err] = co_await ringo::recv(ctx, ch);
        CHECK_FALSE(v.has_value());
        CHECK(err == errc::canceled);

        // Cancelled: send does not deliver, recv does not consume.
        std::error_code serr = co_await ringo::send(ctx, ch, std::make_unique<int>(1));
        CHECK(serr == errc::canceled);
        chan<int> buffered(1);
        co_await buffered.send(5);
        auto [v2, err2] = co_await ringo::recv(ctx, buffered);
        CHECK(err2 == errc::canceled);
        CHECK(buffered.len() == 1);

        // Not cancelled: they work as plain operations.
        ringo::recv_chan<int> in = buffered;
        auto [v3, err3] = co_await ringo::recv(ringo::background(), in);
        CHECK(v3 == 5);
        CHECK_FALSE(err3);
        auto [live, cancel_live] = ringo::with_cancel(ringo::background());
        std::error_code e4 = co_await ringo::send(live, ringo::send_chan<int>(buffered), 6);
        CHECK_FALSE(e4);
        auto [v5, e5] = co_await ringo::recv(live, buffered);
        CHECK(v5 == 6);
        buffered.close();
        auto [v6, e6] = co_await ringo::recv(live, buffered);
        CHECK_FALSE(v6.has_value());  // closed: nullopt without an error, as ch.recv() gives
        CHECK_FALSE(e6);
    }());
}

TEST_CASE("send(ctx, ch, std::move(p)) keeps p with the caller when ctx wins") {
    ringo::run([]() -> task<void> {
        chan<std::unique_ptr<int>> nobody(0);
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        ringo::go([cancel = cancel]() -> task<void> {
            co_await ringo::sleep_for(1ms);
            cancel();
        });
        auto p = std::make_unique<int>(7);
        std::error_code err = co_await ringo::send(ctx, nobody, std::move(p));  // ctx wins while waiting
        CHECK(err == errc::canceled);
        REQUIRE(p != nullptr);
        CHECK(*p == 7);
        std::error_code again = co_await ringo::send(ctx, nobody, std::move(p));  // already cancelled
        CHECK(again == errc::canceled);
        CHECK(p != nullptr);

        // Sent: moved from, and the receiver has it.
        chan<std::unique_ptr<int>> box(1);
        auto [live, cancel_live] = ringo::with_cancel(ringo::background());
        std::error_code ok = co_await ringo::send(live, ringo::send_chan<std::unique_ptr<int>>(box), std::move(p));
        CHECK_FALSE(ok);
        CHECK(p == nullptr);
        auto got = co_await box.recv();
        REQUIRE(got.has_value());
        CHECK(**got == 7);

        // An lvalue is copied: the caller's is never touched.
        chan<std::string> strings(0);
        std::string s = "kept";
        std::error_code e = co_await ringo::send(ctx, strings, s);
        CHECK(e == errc::canceled);
        CHECK(s == "kept");
    }());
}

TEST_CASE("chains 100,000 deep are cancelled, searched and destroyed without recursion") {
    constexpr int depth = 100'000;
    // On a 1 MiB stack, so that any per-level recursion overflows in every build.
    auto on_small_stack = [](void (*fn)()) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1 << 20);
        pthread_t t;
        auto body = [](void* f) -> void* {
            reinterpret_cast<void (*)()>(f)();
            return nullptr;
        };
        REQUIRE(pthread_create(&t, &attr, body, reinterpret_cast<void*>(fn)) == 0);
        pthread_join(t, nullptr);
        pthread_attr_destroy(&attr);
    };
    static std::atomic<int> checks_passed{0};
    checks_passed = 0;
    on_small_stack([] {
        // with_cancel chain: cancel the root, every level is cancelled; then destroy.
        auto [root, cancel_root] = ringo::with_cancel(ringo::background());
        context leaf = root;
        for (int i = 0; i < depth; ++i)
            leaf = ringo::with_cancel(leaf).first;  // each level's cancel_func is dropped: the child holds it
        cancel_root();
        if (leaf.err() == errc::canceled && ringo::cause(leaf) == errc::canceled)
            ++checks_passed;
        leaf = {};

        // Destroyed uncancelled, from the leaf.
        context chain = ringo::background();
        for (int i = 0; i < depth; ++i)
            chain = ringo::with_cancel(chain).first;
        chain = {};

        // with_value chain over a cancellable root: lookups walk it, cancel reaches the leaf.
        auto [vroot, cancel_vroot] = ringo::with_cancel(ringo::background());
        context values = ringo::with_value(vroot, user_key, std::string("root"));
        for (int i = 0; i < depth; ++i)
            values = ringo::with_value(values, depth_key, i);
        if (*values.value(user_key) == "root" && *values.value(depth_key) == depth - 1 &&
            values.value(other_key) == nullptr)
            ++checks_passed;
        cancel_vroot();
        if (values.err() == errc::canceled)
            ++checks_passed;
        values = {};

        // Mixed with_cancel / with_value, destroyed uncancelled.
        context mixed = ringo::background();
        for (int i = 0; i < depth; ++i)
            mixed = i % 2 == 0 ? ringo::with_cancel(mixed).first : ringo::with_value(mixed, depth_key, i);
        if (!mixed.err() && !mixed.deadline())
            ++checks_passed;
        mixed = {};
    });
    CHECK(checks_passed == 4);
}

TEST_CASE("a task waiting on done() of a context with a deadline is not a deadlock") {
    auto err = ringo::run([]() -> task<std::error_code> {
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 2ms);
        co_await ctx.done().recv();
        co_return ctx.err();
    }());
    CHECK(err == errc::deadline_exceeded);
}

TEST_CASE("contexts alive when the runtime ends release their timers") {
    context survivor;
    ringo::run([](context& keep) -> task<void> {
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 1h);
        keep = ctx;
        co_return;
    }(survivor));
    CHECK_FALSE(survivor.err());
}

TEST_CASE("once a child's done() is closed, its cancelled parent's err() is set (as Go: Err waits for cancel)") {
    test::progress_watchdog dog(60s, "child done before parent err");
    int parent_err_unset = 0;
    ringo::run([&]() -> task<void> {
        for (int round = 0; round < 100; ++round) {
            auto [parent, cancel] = ringo::with_cancel(ringo::background());
            std::vector<ringo::context> children;
            for (int i = 0; i < 5'000; ++i)
                children.push_back(ringo::with_cancel(parent).first);
            ringo::cancel_func cancel_parent = cancel;
            ringo::detail::go_pinned(1, [cancel_parent] { cancel_parent(); });  // the other thread cancels
            ringo::recv_chan<std::monostate> child_done = children[round % 2 == 0 ? 0 : children.size() - 1].done();
            co_await child_done.recv();  // closed by the canceller's walk
            parent_err_unset += parent.err() ? 0 : 1;
            test::tick();
        }
    }(), ringo::runtime_options{.threads = 2});
    CHECK(parent_err_unset == 0);
}

}  // TEST_SUITE
