// leak: the forgotten sender. A function starts a task to fetch a result and
// waits for it with a timeout; when the timeout wins, nobody ever receives
// from the unbuffered channel, and the task blocks forever on its send - a
// goroutine leak. ringo's task dump shows every leaked task and the line it
// is stuck on. The fix (a buffered channel of capacity 1) leaks nothing.
//
//   ./dev sample leak [--requests 10] [--timeout 1ms] [--work 5ms]
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>

#include "flags.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// The bug: an unbuffered result channel. If fetch() times out first, the
// sender has nobody to hand its result to, ever.
ringo::task<bool> fetch(nanoseconds timeout, nanoseconds work, std::size_t capacity) {
    ringo::chan<int> result(capacity);
    ringo::go([result, work]() -> ringo::task<void> {
        co_await ringo::sleep_for(work);
        co_await result.send(42);  // leaks here when nobody receives
    });
    auto r = co_await ringo::select(ringo::recv(result), ringo::recv(ringo::after(timeout)));
    co_return r.index() == 0;
}

ringo::task<int> leak_main(long requests, nanoseconds timeout, nanoseconds work) {
    for (std::size_t capacity : {std::size_t(0), std::size_t(1)}) {
        std::size_t before = ringo::num_tasks();
        long ok = 0;
        for (long i = 0; i < requests; ++i)
            ok += (co_await fetch(timeout, work, capacity)) ? 1 : 0;
        co_await ringo::sleep_for(work + 2ms);  // every sender has had time to finish
        std::printf("result channel of capacity %zu: %ld of %ld requests answered in time, %zu tasks leaked\n",
                    capacity, ok, requests, ringo::num_tasks() - before);
        if (capacity == 0) {
            std::printf("the leaked tasks, from ringo::dump_tasks():\n%s\n", ringo::dump_tasks().c_str());
            std::printf("(each [chan send] task is blocked on its send forever: nobody will ever receive)\n\n");
        }
    }
    co_return 0;  // the leaked tasks are destroyed when main returns, as a Go program's are at exit
}

}  // namespace

int main(int argc, char** argv) {
    long requests = 10;
    nanoseconds timeout = 1ms, work = 5ms;
    flags::set fs("leak: the forgotten-sender goroutine leak, shown by the task dump, and its fix");
    fs.int_var("requests", requests, "requests to make");
    fs.duration_var("timeout", timeout, "how long a request waits for its result", flags::range::non_negative);
    fs.duration_var("work", work, "how long a result takes", flags::range::non_negative);
    fs.parse_or_exit(argc, argv);
    if (requests < 1) {
        std::fprintf(stderr, "leak: -requests must be positive\n");
        return 2;
    }
    return ringo::run_main(leak_main(requests, timeout, work));
}
