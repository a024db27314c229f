// context: the done() channel, which lives in its context's node - one
// channel for the context's life, closed by cancel, valid for as long as a
// handle to it is kept (also after every context handle is gone), and
// released from any thread.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <variant>
#include <vector>

#include <ringo/ringo.hpp>

#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::context;
using ringo::errc;
using ringo::task;

namespace {
const ringo::context_key<int> id_key;
}  // namespace

TEST_CASE("done() is one channel for a context's life: the same before and after cancel, closed by it") {
    auto [root, cancel] = ringo::with_cancel(ringo::background());
    context valued = ringo::with_value(root, id_key, 7);
    ringo::recv_chan<std::monostate> before = root.done();
    CHECK(before == root.done());
    CHECK(before == valued.done());  // a value node has its cancellable parent's channel
    CHECK(before.try_recv().state == ringo::recv_state::would_block);
    cancel();
    ringo::recv_chan<std::monostate> after = root.done();
    CHECK(after == before);
    CHECK(after.try_recv().state == ringo::recv_state::closed);
    CHECK(before.try_recv().state == ringo::recv_state::closed);
    CHECK(valued.done().try_recv().state == ringo::recv_state::closed);
}

TEST_CASE("a child cancelled by its parent: its done() is closed, whether taken before or after") {
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    auto [child, cancel_child] = ringo::with_cancel(root);
    auto [grandchild, cancel_grandchild] = ringo::with_cancel(child);
    ringo::recv_chan<std::monostate> taken_before = grandchild.done();
    CHECK(taken_before != child.done());
    cancel_root();
    CHECK(taken_before.try_recv().state == ringo::recv_state::closed);
    CHECK(grandchild.done() == taken_before);
    CHECK(child.done().try_recv().state == ringo::recv_state::closed);
    cancel_grandchild();  // already done: nothing changes
    CHECK(grandchild.err() == errc::canceled);
    CHECK(grandchild.done().try_recv().state == ringo::recv_state::closed);
}

TEST_CASE("a done() channel outlives every handle to its context") {
    ringo::recv_chan<std::monostate> cancelled, live;
    auto [root, cancel_root] = ringo::with_cancel(ringo::background());
    auto* root_node = root.node().get()->cancel_ancestor();
    {
        auto [ctx, cancel] = ringo::with_cancel(root);
        cancelled = ctx.done();
        cancel();
    }
    {
        auto [ctx, cancel] = ringo::with_cancel(root);
        live = ctx.done();
    }
    // Both contexts are gone (the uncancelled one left its parent); their
    // channels are still whole.
    CHECK(ringo::detail::child_count(root_node) == 0);
    CHECK(cancelled.try_recv().state == ringo::recv_state::closed);
    CHECK(live.try_recv().state == ringo::recv_state::would_block);
    ringo::recv_chan<std::monostate> copy = cancelled;
    cancelled = {};
    CHECK(copy.try_recv().state == ringo::recv_state::closed);
    cancel_root();
    CHECK(root.done().try_recv().state == ringo::recv_state::closed);
}

TEST_CASE("a deadline context's done() is closed when it expires, and outlives the context") {
    ringo::run([]() -> task<void> {
        ringo::recv_chan<std::monostate> done;
        {
            auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 1ms);
            done = ctx.done();
            co_await done.recv();
            CHECK(ctx.err() == errc::deadline_exceeded);
        }
        CHECK(done.try_recv().state == ringo::recv_state::closed);
        CHECK(ringo::num_timers() == 0);
    }());
}

TEST_CASE("tasks waiting on done() on two executors, cancelled from a plain thread, handles dropped on every thread") {
    test::progress_watchdog dog(60s, "done() across threads");
    constexpr int n = 2'000;
    std::atomic<int> woken{0};
    ringo::run(
        [&]() -> task<void> {
            auto [root, cancel_root] = ringo::with_cancel(ringo::background());
            std::vector<context> children;
            children.reserve(n);
            ringo::wait_group wg;
            for (int i = 0; i < n; ++i) {
                auto [child, cancel_child] = ringo::with_cancel(root);
                children.push_back(child);
                // The task holds the channel only: the node's last handle is
                // children[i], dropped below on this thread, while the task
                // drops the channel's on whichever executor runs it.
                wg.go([done = child.done(), &woken]() -> task<void> {
                    co_await done.recv();
                    woken.fetch_add(1, std::memory_order_relaxed);
                    test::tick();
                });
            }
            std::thread canceller([cancel = cancel_root] { cancel(); });
            canceller.join();
            for (const context& c : children)
                CHECK(c.err() == errc::canceled);
            children.clear();
            co_await wg.wait();
            CHECK(woken.load() == n);
        }(),
        ringo::runtime_options{.threads = 2});
}
