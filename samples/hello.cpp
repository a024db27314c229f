// hello: the first ringo program. Spawns a few tasks, collects their results
// over a channel, and prints the task dump while they wait to report.
//
//   ./dev sample hello [--tasks N]
#include <ringo/ringo.hpp>

#include <cstdio>
#include <string>

#include "flags.hpp"
#include "settle.hpp"

namespace {

struct result {
    int id;
    long value;
};

ringo::task<long> fib(int n) {
    if (n < 2)
        co_return n;
    long a = co_await fib(n - 1);
    long b = co_await fib(n - 2);
    co_return a + b;
}

// go worker(id, out): computes, then reports on `out`.
ringo::task<void> worker(int id, ringo::send_chan<result> out) {
    long v = co_await fib(10 + id);
    co_await out.send(result{id, v});
}

ringo::task<int> hello_main(int tasks) {
    ringo::chan<result> results(0);  // unbuffered: each worker waits for main to take its result
    for (int id = 0; id < tasks; ++id)
        ringo::go(worker, id, ringo::send_chan<result>(results));

    co_await ringo::yield();  // let the workers run until they block on the send
    std::printf("%zu tasks are alive; where each one is:\n%s\n", ringo::num_tasks(), ringo::dump_tasks().c_str());

    for (int i = 0; i < tasks; ++i) {
        auto r = co_await results.recv();
        std::printf("worker %d: fib(%d) = %ld\n", r->id, 10 + r->id, r->value);
    }
    std::size_t left = co_await settle::tasks_left(1);  // the workers return from their sends and end
    std::printf("all %d results received; %zu task left (main)\n", tasks, left);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 5;
    flags::set fs("hello: the first ringo program: tasks, a channel and the task dump");
    fs.int_var("tasks", tasks, "workers to spawn, 1 to 30");
    fs.parse_or_exit(argc, argv);
    if (tasks < 1 || tasks > 30) {
        std::fprintf(stderr, "hello: -tasks must be between 1 and 30\n");
        return 2;
    }
    return ringo::run_main(hello_main(tasks));
}
