// asio-bench: the Boost.Asio version of the workloads of bench/WORKLOADS.md.
//
//   asio-bench [--repeat N] [WORKLOAD...]   (no workload: all it implements)
//   asio-bench --list                       (NAME UNIT of each)
//
// Prints "NAME VALUE UNIT" lines as ringo-bench and go-bench do, VALUE the
// median of N runs (default 1, as go-bench), and nothing else on stdout.
// An unknown option or workload is reported on stderr, exit status 2.
//
// Boost 1.81 (Debian libboost1.81-dev, header-only Asio), C++20 coroutines
// (awaitable, co_spawn, use_awaitable) and experimental::channel. Every run
// gets a new io_context, run on the calling thread only: one runtime
// thread, like GOMAXPROCS=1. Build (from the repository root):
//
//   mkdir -p build/peers/asio
//   c++ -std=c++20 -O3 -DNDEBUG -o build/peers/asio/asio-bench bench/peers/asio/main.cpp -pthread
//
// (warning-free with -Wall -Wextra on g++ 12; Boost's headers are system
// headers there.)
//
// Left out:
// - select4_recv (and _t2): Asio has no select. `a || b || c || d` of
//   awaitable_operators starts all four receives; each one whose channel
//   holds a value dequeues it at once, and the operator keeps the first
//   result and drops the others. With four buffered values per channel,
//   four such "selects" return 4 values and lose 12 (checked with Boost
//   1.81), so it is not a select and measuring it would be unfair to both.
// - cancel_tree: Asio has no context tree (a cancellation_signal cancels
//   one operation, not a tree of them).
// - errgroup_go: no error group in Asio; spawn_join and wait_group_spawn
//   measure the same spawning.
// - mutex_uncontended, mutex_contended_4: no coroutine mutex in Asio.
// - every *_t2 workload and hol_latency_t2: this program keeps one thread
//   per io_context; experimental::channel is not thread-safe.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <malloc.h>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
using int_channel = asio::experimental::channel<void(error_code, int)>;
using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start, std::int64_t ops) {
  auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
      clock_type::now() - start);
  return static_cast<double>(elapsed.count()) / static_cast<double>(ops);
}

// Completion handler for co_spawn: rethrows the coroutine's exception out
// of io_context::run().
void rethrow(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

// Runs body(ctx, &result, args...) on a new io_context, run on this thread
// until all its work is done; returns what the body stored in result.
template <typename Body, typename... Args>
double run_on_new_context(Body body, Args... args) {
  asio::io_context ctx(1);
  double result = 0;
  asio::co_spawn(ctx, body(ctx, &result, args...), rethrow);
  ctx.run();
  return result;
}

// join_counter: the count of tasks still running (a sync.WaitGroup for one
// thread); wait() resumes once it is zero.
class join_counter {
 public:
  explicit join_counter(asio::io_context& ctx) : wake_(ctx, 1) {}

  void add(std::int64_t n) { left_ += n; }

  void done() {
    if (--left_ == 0 && waiting_) {
      waiting_ = false;
      wake_.try_send(error_code{});
    }
  }

  asio::awaitable<void> wait() {
    if (left_ == 0) co_return;
    waiting_ = true;
    co_await wake_.async_receive(asio::use_awaitable);
  }

 private:
  std::int64_t left_ = 0;
  bool waiting_ = false;
  asio::experimental::channel<void(error_code)> wake_;
};

// ---- pingpong_roundtrip ----

asio::awaitable<void> echo(int_channel& ping, int_channel& pong) {
  for (;;) {
    auto [ec, v] = co_await ping.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    co_await pong.async_send(error_code{}, v, asio::use_awaitable);
  }
}

asio::awaitable<void> pingpong_main(asio::io_context& ctx, double* result) {
  constexpr int n = 1'000'000;
  int_channel ping(ctx, 0);
  int_channel pong(ctx, 0);
  asio::co_spawn(ctx, echo(ping, pong), rethrow);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    co_await ping.async_send(error_code{}, i, asio::use_awaitable);
    co_await pong.async_receive(asio::use_awaitable);
  }
  *result = ns_since(start, n);
  ping.close();
}

// pingpong_roundtrip: two coroutines, two unbuffered channels a->b->a.
double pingpong() { return run_on_new_context(pingpong_main); }

// ---- spsc_cap128 ----

asio::awaitable<void> produce_then_close(int_channel& ch, int n) {
  for (int i = 0; i < n; ++i) co_await ch.async_send(error_code{}, i, asio::use_awaitable);
  ch.close();
}

asio::awaitable<void> spsc_main(asio::io_context& ctx, double* result) {
  constexpr int n = 5'000'000;
  int_channel ch(ctx, 128);
  auto start = clock_type::now();
  asio::co_spawn(ctx, produce_then_close(ch, n), rethrow);
  std::int64_t sum = 0;
  for (;;) {
    auto [ec, v] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    sum += v;
  }
  *result = ns_since(start, n);
  if (sum != std::int64_t{n} * (n - 1) / 2) std::fputs("spsc: wrong sum\n", stderr);
}

// spsc_cap128: 5,000,000 ints through a capacity-128 channel.
double spsc() { return run_on_new_context(spsc_main); }

// ---- mpmc_4x4_cap64 ----

asio::awaitable<void> produce(int_channel& ch, int n, join_counter& producers) {
  for (int i = 0; i < n; ++i) co_await ch.async_send(error_code{}, i, asio::use_awaitable);
  producers.done();
}

asio::awaitable<void> drain(int_channel& ch, join_counter& consumers) {
  for (;;) {
    auto [ec, v] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
  consumers.done();
}

asio::awaitable<void> mpmc_main(asio::io_context& ctx, double* result) {
  constexpr int per = 1'000'000, producer_count = 4, consumer_count = 4;
  int_channel ch(ctx, 64);
  join_counter producers(ctx), consumers(ctx);
  auto start = clock_type::now();
  for (int p = 0; p < producer_count; ++p) {
    producers.add(1);
    asio::co_spawn(ctx, produce(ch, per, producers), rethrow);
  }
  for (int c = 0; c < consumer_count; ++c) {
    consumers.add(1);
    asio::co_spawn(ctx, drain(ch, consumers), rethrow);
  }
  co_await producers.wait();
  ch.close();
  co_await consumers.wait();
  *result = ns_since(start, std::int64_t{per} * producer_count);
}

// mpmc_4x4_cap64: 4 producers x 1,000,000 ints, 4 consumers, capacity 64.
double mpmc() { return run_on_new_context(mpmc_main); }

// ---- spawn_join, wait_group_spawn ----

asio::awaitable<void> empty_task(join_counter& tasks) {
  tasks.done();
  co_return;
}

template <int n, int rounds>
asio::awaitable<void> spawn_join_main(asio::io_context& ctx, double* result) {
  auto start = clock_type::now();
  for (int r = 0; r < rounds; ++r) {
    join_counter tasks(ctx);
    tasks.add(n);
    for (int i = 0; i < n; ++i) asio::co_spawn(ctx, empty_task(tasks), asio::detached);
    co_await tasks.wait();
  }
  *result = ns_since(start, std::int64_t{n} * rounds);
}

// spawn_join: co_spawn 1,000,000 empty coroutines, wait for all (counter
// set to n once, decremented in each).
double spawn_join() { return run_on_new_context(spawn_join_main<1'000'000, 1>); }
// spawn_join_10k: 100 rounds of 10,000 (the cost without fresh memory).
double spawn_join_10k() { return run_on_new_context(spawn_join_main<10'000, 100>); }

asio::awaitable<void> wait_group_spawn_main(asio::io_context& ctx, double* result) {
  constexpr int n = 1'000'000;
  join_counter tasks(ctx);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    tasks.add(1);
    asio::co_spawn(ctx, empty_task(tasks), asio::detached);
  }
  co_await tasks.wait();
  *result = ns_since(start, n);
}

// wait_group_spawn: the same with the counter incremented before each co_spawn.
double wait_group_spawn() { return run_on_new_context(wait_group_spawn_main); }

// ---- idle_tasks_1m, pending_timers_1m ----

// Bytes malloc has handed out and not had back (heap and mmapped chunks).
double bytes_in_use() {
  struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

asio::awaitable<void> idle_task(int_channel& ch, std::int64_t& started, join_counter& tasks) {
  ++started;
  (void)co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
  tasks.done();
}

asio::awaitable<void> idle_tasks_main(asio::io_context& ctx, double* result) {
  constexpr int n = 1'000'000;
  double before = bytes_in_use();
  std::vector<std::unique_ptr<int_channel>> chans;
  chans.reserve(n);
  join_counter tasks(ctx);
  std::int64_t started = 0;
  for (int i = 0; i < n; ++i) {
    chans.push_back(std::make_unique<int_channel>(ctx, 0));
    tasks.add(1);
    asio::co_spawn(ctx, idle_task(*chans.back(), started, tasks), rethrow);
  }
  while (started != n) co_await asio::post(ctx, asio::use_awaitable);
  double during = bytes_in_use();
  for (auto& ch : chans) ch->close();
  co_await tasks.wait();
  *result = (during - before) / n;
}

// idle_tasks_1m: 1,000,000 coroutines each blocked on its own unbuffered
// channel receive, then all released; bytes per blocked coroutine.
double idle_tasks() { return run_on_new_context(idle_tasks_main); }

// pending_timers_1m: 1,000,000 steady_timers waiting at once; bytes per timer.
double pending_timers() {
  constexpr int n = 1'000'000;
  asio::io_context ctx(1);
  double before = bytes_in_use();
  std::vector<asio::steady_timer> timers;
  timers.reserve(n);
  for (int i = 0; i < n; ++i) {
    timers.emplace_back(ctx, std::chrono::hours(1) + std::chrono::microseconds(i));
    timers.back().async_wait([](error_code) {});
  }
  double during = bytes_in_use();
  for (auto& timer : timers) timer.cancel();
  ctx.run();
  return (during - before) / n;
}

// ---- select_with_after ----

asio::awaitable<void> select_with_after_main(asio::io_context& ctx, double* result) {
  constexpr int n = 1'000'000;
  int_channel ch(ctx, 1);
  int received = 0;
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    ch.try_send(error_code{}, i);
    asio::steady_timer after(ctx, std::chrono::hours(1));
    auto recv = ch.async_receive(asio::use_awaitable);
    auto timeout = after.async_wait(asio::use_awaitable);
    auto first = std::move(recv) || std::move(timeout);
    auto which = co_await std::move(first);
    if (which.index() == 0) ++received;
  }
  *result = ns_since(start, n);
  if (received != n) std::fputs("select_with_after: the timer won\n", stderr);
}

// select_with_after: send one value on a capacity-1 channel, then
// `receive || 1h steady_timer`; the timer is created and cancelled per op.
double select_with_after() { return run_on_new_context(select_with_after_main); }

// ---- sleep_many_wall, timer_lateness ----

asio::awaitable<void> sleeper(asio::io_context& ctx, int ms, join_counter& tasks) {
  asio::steady_timer timer(ctx, std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
  tasks.done();
}

asio::awaitable<void> sleep_many_main(asio::io_context& ctx, double* result) {
  constexpr int n = 100'000;
  join_counter tasks(ctx);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    tasks.add(1);
    asio::co_spawn(ctx, sleeper(ctx, 1 + i % 10, tasks), rethrow);
  }
  co_await tasks.wait();
  *result = ns_since(start, n);
}

// sleep_many_wall: 100,000 coroutines each sleep 1 + (i % 10) ms; wall / n.
double sleep_many() { return run_on_new_context(sleep_many_main); }

// Sleeps until its start + 1-10 ms and stores how late it woke up. It
// yields first: co_spawn runs a coroutine inline up to its first wait, and
// no timer can fire until the spawning loop suspends, so without the yield
// the loop's own duration would count as lateness (a goroutine under
// GOMAXPROCS=1 likewise starts only once its spawner blocks).
asio::awaitable<void> late_sleeper(asio::io_context& ctx, int i, double& late, join_counter& tasks) {
  co_await asio::post(ctx, asio::use_awaitable);
  auto want = clock_type::now() + std::chrono::microseconds(1000 + (i * 7919) % 9000);
  asio::steady_timer timer(ctx, want);
  co_await timer.async_wait(asio::use_awaitable);
  late = static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - want).count());
  tasks.done();
}

// Stores in *result the `quantile` of the lateness of 10,000 sleeps.
asio::awaitable<void> lateness_main(asio::io_context& ctx, double* result, double quantile) {
  constexpr int n = 10'000;
  std::vector<double> late(n);
  join_counter tasks(ctx);
  for (int i = 0; i < n; ++i) {
    tasks.add(1);
    asio::co_spawn(ctx, late_sleeper(ctx, i, late[static_cast<std::size_t>(i)], tasks), rethrow);
  }
  co_await tasks.wait();
  std::sort(late.begin(), late.end());
  *result = late[static_cast<std::size_t>(quantile * (n - 1))];
}

// timer_lateness_p50 / _p99: how late 10,000 sleeps of 1-10 ms wake up.
double lateness_p50() { return run_on_new_context(lateness_main, 0.50); }
double lateness_p99() { return run_on_new_context(lateness_main, 0.99); }

// ---- cpu_fanout ----

std::uint64_t compute_sink = 0;

// `rounds` xorshift steps the compiler cannot remove.
std::uint64_t compute(std::uint64_t rounds) {
  std::uint64_t x = 88172645463325252u;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

asio::awaitable<void> cruncher(join_counter& tasks) {
  compute_sink += compute(1'000'000);
  tasks.done();
  co_return;
}

asio::awaitable<void> cpu_fanout_main(asio::io_context& ctx, double* result) {
  constexpr int n = 64;
  join_counter tasks(ctx);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    tasks.add(1);
    asio::co_spawn(ctx, cruncher(tasks), rethrow);
  }
  co_await tasks.wait();
  *result = ns_since(start, n);
}

// cpu_fanout: 64 coroutines each computing 1,000,000 rounds; wall / 64.
double cpu_fanout() { return run_on_new_context(cpu_fanout_main); }

// ---- driver ----

struct workload {
  std::string_view name, unit;
  double (*body)();
};

constexpr workload workloads[] = {
    {"pingpong_roundtrip", "ns/roundtrip", pingpong},
    {"spsc_cap128", "ns/msg", spsc},
    {"mpmc_4x4_cap64", "ns/msg", mpmc},
    {"spawn_join", "ns/task", spawn_join},
    {"spawn_join_10k", "ns/task", spawn_join_10k},
    {"idle_tasks_1m", "bytes/task", idle_tasks},
    {"select_with_after", "ns/op", select_with_after},
    {"pending_timers_1m", "bytes/timer", pending_timers},
    {"wait_group_spawn", "ns/task", wait_group_spawn},
    {"sleep_many_wall", "ns/task", sleep_many},
    {"timer_lateness_p50", "ns/late", lateness_p50},
    {"timer_lateness_p99", "ns/late", lateness_p99},
    {"cpu_fanout", "ns/task", cpu_fanout},
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "asio-bench: %s\n", message.c_str());
  std::exit(2);
}

int parse_repeat(std::string_view value) {
  int n = 0;
  bool ok = !value.empty() && value.size() <= 4;
  for (char c : value) {
    if (c < '0' || c > '9') ok = false;
    else n = n * 10 + (c - '0');
  }
  if (!ok || n < 1 || n > 1000)
    fail("--repeat wants a count from 1 to 1000, not \"" + std::string(value) + "\"");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 1;
  std::vector<const workload*> chosen;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--list") {
      for (const auto& w : workloads)
        std::printf("%.*s %.*s\n", static_cast<int>(w.name.size()), w.name.data(),
                    static_cast<int>(w.unit.size()), w.unit.data());
      return 0;
    } else if (arg == "--repeat") {
      if (i + 1 >= argc) fail("--repeat needs a count");
      repeat = parse_repeat(argv[++i]);
    } else if (arg.starts_with("--repeat=")) {
      repeat = parse_repeat(arg.substr(9));
    } else if (arg.starts_with("-")) {
      fail("unknown option \"" + std::string(arg) +
           "\" (usage: asio-bench [--repeat N] [WORKLOAD...] | --list)");
    } else {
      auto found = std::find_if(std::begin(workloads), std::end(workloads),
                                [arg](const workload& w) { return w.name == arg; });
      if (found == std::end(workloads))
        fail("unknown workload \"" + std::string(arg) + "\" (--list lists them)");
      chosen.push_back(found);
    }
  }
  if (chosen.empty())
    for (const auto& w : workloads) chosen.push_back(&w);
  for (const workload* w : chosen) {
    std::vector<double> values;
    for (int r = 0; r < repeat; ++r) values.push_back(w->body());
    std::printf("%.*s %.1f %.*s\n", static_cast<int>(w->name.size()), w->name.data(),
                median(values), static_cast<int>(w->unit.size()), w->unit.data());
    std::fflush(stdout);
  }
  return 0;
}
