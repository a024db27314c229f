// ringo-bench: the workloads of bench/WORKLOADS.md.
//
//   ringo-bench [--repeat N] [WORKLOAD...]     (no workload: all)
//   ringo-bench --list                         (NAME UNIT of every workload)
//
// Runs each workload N times (default 1) and prints one line per workload
// on stdout, "NAME VALUE UNIT", VALUE being the median of the N runs and
// UNIT what it counts (ns/roundtrip, ns/msg, ns/task, bytes/task, ...);
// notes go to stderr. Build in release mode.
#include <ringo/ringo.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ringo::chan;
using ringo::task;
using clk = std::chrono::steady_clock;

double ns_since(clk::time_point start, double ops) {
    return std::chrono::duration<double, std::nano>(clk::now() - start).count() / ops;
}

// pingpong_roundtrip: two tasks, two unbuffered channels a->b->a. The
// partner is started with go() (it runs where the scheduler puts it), or,
// for pingpong_roundtrip_t2, pinned on executor 1: main is on executor 0,
// so every hand-off crosses threads.
task<void> echo(chan<int> in, chan<int> out) {
    while (auto v = co_await in.recv())
        co_await out.send(*v);
}
task<double> pingpong_with(bool cross_thread) {
    constexpr int n = 1'000'000;
    chan<int> ping(0), pong(0);
    if (cross_thread)
        ringo::detail::go_pinned(1, echo(ping, pong));
    else
        ringo::go(echo, ping, pong);
    auto start = clk::now();
    for (int i = 0; i < n; ++i) {
        co_await ping.send(i);
        co_await pong.recv();
    }
    double ns = ns_since(start, n);
    ping.close();
    co_return ns;
}
task<double> pingpong() { return pingpong_with(false); }
task<double> pingpong_cross_thread() { return pingpong_with(true); }

// spsc_cap128: 5,000,000 ints through a capacity-128 channel.
task<double> spsc() {
    constexpr int n = 5'000'000;
    chan<int> ch(128);
    ringo::wait_group wg;
    auto start = clk::now();
    wg.go([ch]() -> task<void> {
        for (int i = 0; i < n; ++i)
            co_await ch.send(i);
        ch.close();
    });
    std::int64_t sum = 0;
    while (auto v = co_await ch.recv())
        sum += *v;
    co_await wg.wait();
    double ns = ns_since(start, n);
    if (sum != std::int64_t(n) * (n - 1) / 2)
        std::fprintf(stderr, "spsc: wrong sum\n");
    co_return ns;
}

// mpmc_4x4_cap64: 4 producers x 1,000,000 ints, 4 consumers, capacity 64.
task<double> mpmc() {
    constexpr int per = 1'000'000, producers = 4, consumers = 4;
    chan<int> ch(64);
    ringo::wait_group prod, cons;
    auto start = clk::now();
    for (int p = 0; p < producers; ++p)
        prod.go([ch]() -> task<void> {
            for (int i = 0; i < per; ++i)
                co_await ch.send(i);
        });
    for (int c = 0; c < consumers; ++c)
        cons.go([ch]() -> task<void> {
            while (co_await ch.recv()) {
            }
        });
    co_await prod.wait();
    ch.close();
    co_await cons.wait();
    co_return ns_since(start, double(per) * producers);
}

// select4_recv: 4 producers on their own capacity-16 channels, one consumer
// selecting over the 4 receives 4,000,000 times.
task<double> select4() {
    constexpr int per = 1'000'000;
    chan<int> c0(16), c1(16), c2(16), c3(16);
    for (chan<int> c : {c0, c1, c2, c3})
        ringo::go([c]() -> task<void> {
            for (int i = 0; i < per; ++i)
                co_await c.send(i);
        });
    auto start = clk::now();
    for (int i = 0; i < 4 * per; ++i) {
        auto r = co_await ringo::select(ringo::recv(c0), ringo::recv(c1), ringo::recv(c2), ringo::recv(c3));
        (void)r;
    }
    co_return ns_since(start, 4.0 * per);
}

// spawn_join: spawn 1,000,000 empty tasks, wait for all (wait_group add/done).
// spawn_join_10k: 100 rounds of 10,000 (the cost without fresh memory).
task<void> empty_task(ringo::wait_group& wg) {
    wg.done();
    co_return;
}
task<double> spawn_join_rounds(int n, int rounds) {
    auto start = clk::now();
    for (int r = 0; r < rounds; ++r) {
        ringo::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i)
            ringo::go(empty_task(wg));
        co_await wg.wait();
    }
    co_return ns_since(start, double(n) * rounds);
}
task<double> spawn_join() { return spawn_join_rounds(1'000'000, 1); }
task<double> spawn_join_10k() { return spawn_join_rounds(10'000, 100); }

// wait_group_spawn: the same through wait_group::go.
task<double> wait_group_spawn() {
    constexpr int n = 1'000'000;
    ringo::wait_group wg;
    auto start = clk::now();
    for (int i = 0; i < n; ++i)
        wg.go([]() -> task<void> { co_return; });
    co_await wg.wait();
    co_return ns_since(start, n);
}

// errgroup_go: 1,000,000 errgroup::go of an empty task, then wait; per go + completion.
task<double> errgroup_go() {
    constexpr int n = 1'000'000;
    ringo::errgroup g;
    auto start = clk::now();
    for (int i = 0; i < n; ++i)
        g.go([]() -> task<std::error_code> { co_return std::error_code(); });
    (void)co_await g.wait();
    co_return ns_since(start, n);
}

// mutex_uncontended: one task, 10,000,000 lock/unlock pairs.
task<double> mutex_uncontended() {
    constexpr int n = 10'000'000;
    ringo::mutex mu;
    long counter = 0;
    auto start = clk::now();
    for (int i = 0; i < n; ++i) {
        auto g = co_await mu.lock();
        ++counter;
    }
    double ns = ns_since(start, n);
    if (counter != n)
        std::fprintf(stderr, "mutex_uncontended: lost updates\n");
    co_return ns;
}

// mutex_contended_4: 4 tasks x 250,000 lock/increment/unlock; every 8th time
// a task yields while holding the lock, so the others queue behind it.
task<double> mutex_contended() {
    constexpr int per = 250'000, tasks = 4;
    ringo::mutex mu;
    long counter = 0;
    ringo::wait_group wg;
    auto start = clk::now();
    for (int t = 0; t < tasks; ++t)
        wg.go([&]() -> task<void> {
            for (int i = 0; i < per; ++i) {
                auto g = co_await mu.lock();
                ++counter;
                if (i % 8 == 0)
                    co_await ringo::yield();
            }
        });
    co_await wg.wait();
    co_return ns_since(start, double(per) * tasks);
}

// Heap bytes in use (malloc's own count: memory freed by an earlier
// workload and reused would hide growth in the resident set size).
// malloc's bytes in use plus the regions of ringo's frame heap (mapped
// outside malloc), counted whole.
long heap_bytes() {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<long>(mi.uordblks + mi.hblkhd + ringo::detail::frame_memory_bytes());
}

// idle_tasks_1m: 1,000,000 tasks each blocked on its own channel receive,
// then all released; heap bytes per blocked task (frames, channel, record).
task<double> idle_tasks() {
    constexpr int n = 1'000'000;
    long before = heap_bytes();
    std::vector<chan<int>> chans;
    chans.reserve(n);
    ringo::wait_group wg;
    for (int i = 0; i < n; ++i) {
        chans.emplace_back(0);
        wg.go([c = chans.back()]() -> task<void> { co_await c.recv(); });
    }
    co_await ringo::yield();  // every task is now parked
    long during = heap_bytes();
    for (auto& c : chans)
        c.close();
    co_await wg.wait();
    co_return double(during - before) / n;
}

// select_with_after: send one value on a capacity-1 channel, then
// select { recv it, recv after(1h) }; a timer is created and dropped per op.
task<double> select_with_after() {
    constexpr int n = 1'000'000;
    chan<int> ch(1);
    auto start = clk::now();
    for (int i = 0; i < n; ++i) {
        (void)ch.try_send(i);
        auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(ringo::after(std::chrono::hours(1))));
        (void)r;
    }
    co_return ns_since(start, n);
}

// sleep_many_wall: 100,000 tasks each sleep 1 + (i % 10) ms; wall time / tasks.
task<double> sleep_many() {
    constexpr int n = 100'000;
    ringo::wait_group wg;
    auto start = clk::now();
    for (int i = 0; i < n; ++i)
        wg.go([i]() -> task<void> { co_await ringo::sleep_for(std::chrono::milliseconds(1 + i % 10)); });
    co_await wg.wait();
    co_return ns_since(start, n);
}

// timer_lateness_p50 / _p99: how late 10,000 sleeps of 1-10 ms wake up.
std::vector<double> lateness_ns;
task<double> lateness(double quantile) {
    if (lateness_ns.empty()) {
        constexpr int n = 10'000;
        auto late = std::make_shared<std::vector<double>>();
        ringo::wait_group wg;
        for (int i = 0; i < n; ++i)
            wg.go([i, late]() -> task<void> {
                auto want = clk::now() + std::chrono::microseconds(1000 + (i * 7919) % 9000);
                co_await ringo::sleep_until(want);
                late->push_back(std::chrono::duration<double, std::nano>(clk::now() - want).count());
            });
        co_await wg.wait();
        lateness_ns = std::move(*late);
        std::sort(lateness_ns.begin(), lateness_ns.end());
    }
    co_return lateness_ns[static_cast<std::size_t>(quantile * double(lateness_ns.size() - 1))];
}

// cancel_tree: 100,000 tasks each wait on done() of its own child context of
// one root; cancel the root; wait for all. Per task, spawn included.
task<double> cancel_tree() {
    constexpr int n = 100'000;
    auto start = clk::now();
    auto [root, cancel] = ringo::with_cancel(ringo::background());
    ringo::wait_group wg;
    for (int i = 0; i < n; ++i) {
        auto [child, cancel_child] = ringo::with_cancel(root);
        wg.go([child = child]() -> task<void> { co_await child.done().recv(); });
    }
    co_await ringo::yield();  // all are waiting
    cancel();
    co_await wg.wait();
    co_return ns_since(start, n);
}

// pending_timers_1m: 1,000,000 after() timers pending at once; heap bytes
// per timer (heap entry + timer + its channel).
task<double> pending_timers() {
    constexpr int n = 1'000'000;
    long before = heap_bytes();
    std::vector<ringo::recv_chan<ringo::clock::time_point>> timers;
    timers.reserve(n);
    for (int i = 0; i < n; ++i)
        timers.push_back(ringo::after(std::chrono::hours(1) + std::chrono::microseconds(i)));
    long during = heap_bytes();
    if (ringo::num_timers() != std::size_t(n))
        std::fprintf(stderr, "pending_timers_1m: %zu timers pending\n", ringo::num_timers());
    timers.clear();
    co_await ringo::yield();
    co_return double(during - before) / n;
}

// Cross-thread wake-up latency: a task on executor 0 sends its clock reading
// to a task on executor 1, which notes how long the wake-up took. "asleep":
// the receiver's executor has been idle long enough to sleep in the kernel;
// "awake": it is still polling for work.
std::vector<double> wake_asleep_ns, wake_awake_ns;
task<double> wake_latency(bool asleep, double quantile) {
    auto& samples = asleep ? wake_asleep_ns : wake_awake_ns;
    if (samples.empty()) {
        constexpr int n = 2'000;
        chan<clk::time_point> ch(0);
        chan<int> ack(0);
        auto out = std::make_shared<std::vector<double>>();
        ringo::detail::go_pinned(1, [ch, ack, out]() -> task<void> {  // main is on executor 0
            while (auto t0 = co_await ch.recv()) {
                out->push_back(std::chrono::duration<double, std::nano>(clk::now() - *t0).count());
                co_await ack.send(0);
            }
        });
        for (int i = 0; i < n; ++i) {
            if (asleep)
                co_await ringo::sleep_for(std::chrono::microseconds(500));  // long past the receiver's spin
            co_await ch.send(clk::now());
            co_await ack.recv();
        }
        ch.close();
        samples = std::move(*out);
        std::sort(samples.begin(), samples.end());
    }
    co_return samples[static_cast<std::size_t>(quantile * double(samples.size() - 1))];
}

// CPU work that the optimizer cannot remove: `rounds` xorshift steps
// (1,000,000 take 1-2 ms here).
std::uint64_t compute(std::uint64_t rounds) {
    std::uint64_t x = 88172645463325252ull;
    for (std::uint64_t i = 0; i < rounds; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}
std::atomic<std::uint64_t> compute_sink{0};

// cpu_fanout: main starts 64 tasks, each computing 1-2 ms without
// yielding, and waits for all; wall time per task. With two executors the
// idle one steals half of the queue, so the figure should halve.
task<double> cpu_fanout() {
    constexpr int n = 64;
    ringo::wait_group wg;
    auto start = clk::now();
    for (int i = 0; i < n; ++i)
        wg.go([]() -> task<void> {
            compute_sink.fetch_add(compute(1'000'000), std::memory_order_relaxed);
            co_return;
        });
    co_await wg.wait();
    co_return ns_since(start, n);
}

// hol_latency_t2: head-of-line blocking. A task starts 200 short tasks
// (10,000 compute rounds each, 10-20 us) on its own executor and then
// computes for 100-200 ms without yielding. Figure: ns from the first go() until the
// last short task has finished (one burst). Without work stealing the
// short tasks wait for the busy one: ~100,000,000.
task<double> hol_latency() {
    constexpr int shorts = 200;
    auto first_go = std::make_shared<std::atomic<std::int64_t>>(0);
    auto last_done = std::make_shared<std::atomic<std::int64_t>>(0);
    auto left = std::make_shared<std::atomic<int>>(shorts);
    ringo::wait_group busy;
    busy.go([=]() -> task<void> {
        first_go->store(clk::now().time_since_epoch().count());
        for (int i = 0; i < shorts; ++i)
            ringo::go([=]() -> task<void> {
                compute_sink.fetch_add(compute(10'000), std::memory_order_relaxed);
                if (left->fetch_sub(1) == 1)
                    last_done->store(clk::now().time_since_epoch().count());
                co_return;
            });
        compute_sink.fetch_add(compute(100'000'000), std::memory_order_relaxed);
        co_return;
    });
    co_await busy.wait();
    while (left->load() != 0)
        co_await ringo::sleep_for(std::chrono::milliseconds(1));
    co_return double(last_done->load() - first_go->load());
}

struct workload {
    const char* name;
    const char* unit;
    std::function<task<double>()> body;
    unsigned threads = 1;
};

const std::vector<workload>& workloads() {
    static const std::vector<workload> all = {
        {"pingpong_roundtrip", "ns/roundtrip", pingpong},
        {"spsc_cap128", "ns/msg", spsc},
        {"mpmc_4x4_cap64", "ns/msg", mpmc},
        {"select4_recv", "ns/select", select4},
        {"spawn_join", "ns/task", spawn_join},
        {"spawn_join_10k", "ns/task", spawn_join_10k},
        {"idle_tasks_1m", "bytes/task", idle_tasks},
        {"select_with_after", "ns/op", select_with_after},
        {"cancel_tree", "ns/task", cancel_tree},
        {"pending_timers_1m", "bytes/timer", pending_timers},
        {"wait_group_spawn", "ns/task", wait_group_spawn},
        {"errgroup_go", "ns/task", errgroup_go},
        {"mutex_uncontended", "ns/lock", mutex_uncontended},
        {"mutex_contended_4", "ns/lock", mutex_contended},
        {"sleep_many_wall", "ns/task", sleep_many},
        {"timer_lateness_p50", "ns/late", [] { return lateness(0.50); }},
        {"timer_lateness_p99", "ns/late", [] { return lateness(0.99); }},
        {"cpu_fanout", "ns/task", cpu_fanout},
        {"pingpong_roundtrip_t2", "ns/roundtrip", pingpong_cross_thread, 2},
        {"pingpong_spawned_t2", "ns/roundtrip", pingpong, 2},
        {"mpmc_4x4_cap64_t2", "ns/msg", mpmc, 2},
        {"select4_recv_t2", "ns/select", select4, 2},
        {"spawn_join_t2", "ns/task", spawn_join, 2},
        {"cpu_fanout_t2", "ns/task", cpu_fanout, 2},
        {"hol_latency_t2", "ns/burst", hol_latency, 2},
        {"wake_latency_asleep_p50", "ns/wakeup", [] { return wake_latency(true, 0.50); }, 2},
        {"wake_latency_asleep_p99", "ns/wakeup", [] { return wake_latency(true, 0.99); }, 2},
        {"wake_latency_awake_p50", "ns/wakeup", [] { return wake_latency(false, 0.50); }, 2},
        {"wake_latency_awake_p99", "ns/wakeup", [] { return wake_latency(false, 0.99); }, 2},
    };
    return all;
}

// Forget the samples that the percentile workloads share (timer_lateness_*,
// wake_latency_*), so that each repetition measures afresh.
void forget_samples() {
    lateness_ns.clear();
    wake_asleep_ns.clear();
    wake_awake_ns.clear();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    std::size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

int usage(int status) {
    std::fprintf(stderr, "usage: ringo-bench [--repeat N] [WORKLOAD...]\nworkloads:");
    for (const auto& w : workloads())
        std::fprintf(stderr, " %s", w.name);
    std::fprintf(stderr, "\n");
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 1;
    std::vector<std::string_view> wanted;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h")
            return usage(0);
        if (arg == "--list") {  // the workload names, one a line (for bench/compare)
            for (const auto& w : workloads())
                std::printf("%s %s\n", w.name, w.unit);
            return 0;
        }
        if (arg == "--repeat" || arg.starts_with("--repeat=")) {
            std::string value;
            if (arg != "--repeat")
                value = arg.substr(9);
            else if (i + 1 < argc)
                value = argv[++i];
            char* end = nullptr;
            long n = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || n < 1 || n > 1000) {
                std::fprintf(stderr, "ringo-bench: --repeat wants a count from 1 to 1000, not '%s'\n", value.c_str());
                return 2;
            }
            repeat = int(n);
            continue;
        }
        if (arg.starts_with("-")) {
            std::fprintf(stderr, "ringo-bench: unknown option '%s'\n", argv[i]);
            return usage(2);
        }
        wanted.push_back(arg);
    }
    for (std::string_view name : wanted) {
        bool known = false;
        for (const auto& w : workloads())
            known = known || name == w.name;
        if (!known) {
            std::fprintf(stderr, "ringo-bench: unknown workload '%.*s' (--help lists them)\n", int(name.size()),
                         name.data());
            return 2;
        }
    }
    for (const auto& w : workloads()) {
        bool run_it = wanted.empty();
        for (std::string_view name : wanted)
            run_it = run_it || name == w.name;
        if (!run_it)
            continue;
        std::vector<double> values;
        for (int r = 0; r < repeat; ++r) {
            forget_samples();
            values.push_back(ringo::run(w.body(), ringo::runtime_options{.threads = w.threads}));
        }
        std::printf("%s %.1f %s\n", w.name, median(values), w.unit);
        std::fflush(stdout);
    }
    return 0;
}
