// pipeline: Go's "pipelines and cancellation" pattern, with a context. A
// generator feeds numbers to a fan-out of workers (each squares its input,
// slowly); their outputs are merged (fan-in) into one channel; main takes
// what it needs and then cancels the context. Every stage returns: no leak.
//
//   ./dev sample pipeline [--numbers 1000] [--workers 4] [--take 100] [--work 50us]
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>

#include "flags.hpp"
#include "settle.hpp"

namespace {

using namespace std::chrono_literals;

// Stage 1: emits 1..n, until ctx is cancelled.
ringo::task<void> generate(ringo::context ctx, long n, ringo::send_chan<long> out) {
    for (long i = 1; i <= n; ++i)
        if (co_await ringo::send(ctx, out, i))
            break;  // cancelled
    out.close();
}

// Stage 2 (fanned out): squares what it receives, taking `work` for each.
ringo::task<void> square(ringo::context ctx, ringo::recv_chan<long> in, ringo::send_chan<long> out,
                         std::chrono::nanoseconds work, ringo::wait_group& wg) {
    for (;;) {
        auto [v, err] = co_await ringo::recv(ctx, in);
        if (err || !v)
            break;  // cancelled, or the generator is done
        if (co_await ringo::sleep_for(ctx, work))
            break;
        if (co_await ringo::send(ctx, out, *v * *v))
            break;
    }
    wg.done();
}

ringo::task<int> pipeline_main(long numbers, long workers, long take, std::chrono::nanoseconds work) {
    auto [ctx, cancel] = ringo::with_cancel(ringo::background());
    ringo::chan<long> source(0), merged(0);
    ringo::wait_group wg;

    ringo::go(generate, ctx, numbers, ringo::send_chan<long>(source));
    wg.add(static_cast<int>(workers));
    for (long w = 0; w < workers; ++w)  // fan-out: all workers read one channel; fan-in: all write one
        ringo::go(square, ctx, ringo::recv_chan<long>(source), ringo::send_chan<long>(merged), work, std::ref(wg));
    ringo::go([&wg, merged]() -> ringo::task<void> {  // closes the merged channel once every worker is gone
        co_await wg.wait();
        merged.close();
    });

    auto start = std::chrono::steady_clock::now();
    long received = 0, sum = 0;
    while (received < take) {
        auto v = co_await merged.recv();
        if (!v)
            break;  // the generator ran out first
        ++received;
        sum += *v;
    }
    auto took = std::chrono::steady_clock::now() - start;
    std::printf("took %ld squares (sum %ld) from %ld workers in %.1f ms\n", received, sum, workers, flags::ms(took));

    std::printf("tasks before cancelling: %zu\n", ringo::num_tasks());
    cancel();  // every stage sees ctx.done() and returns
    while (co_await merged.recv()) {
    }
    std::size_t left = co_await settle::tasks_left(1);  // the closer may still be returning
    std::printf("tasks after cancelling:  %zu (main only: nothing leaked)\n", left);
    co_return left == 1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    long numbers = 1000, workers = 4, take = 100;
    std::chrono::nanoseconds work = 50us;
    flags::set fs("pipeline: generator -> fan-out -> fan-in, cancelled early through a context");
    fs.int_var("numbers", numbers, "numbers the generator can produce");
    fs.int_var("workers", workers, "squaring workers");
    fs.int_var("take", take, "results main takes before cancelling");
    fs.duration_var("work", work, "time each square takes", flags::range::non_negative);
    fs.parse_or_exit(argc, argv);
    if (numbers < 1 || workers < 1 || take < 1) {
        std::fprintf(stderr, "pipeline: -numbers, -workers and -take must be positive\n");
        return 2;
    }
    return ringo::run_main(pipeline_main(numbers, workers, take, work));
}
