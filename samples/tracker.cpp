// tracker: the event tracker from Dave Cheney's "Never start a goroutine
// without knowing when it will stop", with contexts. Producers hand events to
// a bounded queue - event(ctx, data) gives up when its context is done; one
// task runs the queue; shutdown(ctx) closes the queue and waits for the drain
// or the deadline, whichever comes first. Nothing outlives main.
//
//   ./dev sample tracker                                 # drains in time
//   ./dev sample tracker --work 20ms --deadline 50ms     # the deadline hits
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "flags.hpp"
#include "settle.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

class tracker {
public:
    tracker(std::size_t queue, nanoseconds work) : queue_(queue), work_(work) {}

    // Queues one event; gives up (returning ctx.err()) when ctx is done first.
    ringo::task<std::error_code> event(ringo::context ctx, std::string data) {
        co_return co_await ringo::send(ctx, queue_, std::move(data));
    }

    // Handles events until the queue is closed and drained, or ctx is cancelled.
    ringo::task<void> run(ringo::context ctx) {
        for (;;) {
            auto [data, err] = co_await ringo::recv(ctx, queue_);
            if (err || !data)
                break;
            if (co_await ringo::sleep_for(ctx, work_))  // the work, cut short by a cancel
                break;
            ++handled_;
        }
        stopped_.close();
    }

    // Closes the queue and waits until run() has drained it, or ctx is done.
    ringo::task<std::error_code> shutdown(ringo::context ctx) {
        queue_.close();
        auto r = co_await ringo::select(ringo::recv(stopped_), ringo::recv(ctx.done()));
        co_return r.index() == 0 ? std::error_code() : ctx.err();
    }

    long handled() const { return handled_; }
    std::size_t queued() const { return queue_.len(); }

private:
    ringo::chan<std::string> queue_;
    ringo::signal_chan stopped_{0};
    nanoseconds work_;
    long handled_ = 0;
};

struct options {
    long events = 20, producers = 4, queue = 5;
    nanoseconds work = 2ms, event_timeout = 10ms, deadline = 100ms;
};

ringo::task<int> tracker_main(options o) {
    tracker t(static_cast<std::size_t>(o.queue), o.work);
    auto [run_ctx, stop_run] = ringo::with_cancel(ringo::background());
    ringo::wait_group running;
    running.go([&t, ctx = run_ctx]() -> ringo::task<void> { co_await t.run(ctx); });

    // Producers: each event gets --event-timeout to find room in the queue.
    long dropped = 0;
    ringo::wait_group producers;
    for (long p = 0; p < o.producers; ++p)
        producers.go([&, p]() -> ringo::task<void> {
            for (long i = p; i < o.events; i += o.producers) {
                auto [ctx, cancel] = ringo::with_timeout(ringo::background(), o.event_timeout);
                std::string data = "event " + std::to_string(i);
                std::error_code err = co_await t.event(ctx, std::move(data));
                cancel();
                if (err)
                    ++dropped;
            }
        });
    co_await producers.wait();
    long queued = o.events - dropped;

    auto start = ringo::clock::now();
    auto [ctx, cancel] = ringo::with_timeout(ringo::background(), o.deadline);
    std::error_code err = co_await t.shutdown(ctx);
    cancel();
    double took = flags::ms(ringo::clock::now() - start);
    long handled_by_deadline = t.handled();
    stop_run();  // the deadline hit: stop the runner too (a no-op after a drain)
    co_await running.wait();

    std::printf("events: %ld sent, %ld handled, %ld dropped (no room within %.0f ms), %ld abandoned at the deadline\n",
                o.events, handled_by_deadline, dropped, flags::ms(o.event_timeout), queued - handled_by_deadline);
    if (err)
        std::printf("shutdown: deadline of %.0f ms hit after %.1f ms (%s)\n", flags::ms(o.deadline), took,
                    err.message().c_str());
    else
        std::printf("shutdown: drained in time, %.1f ms (deadline %.0f ms)\n", took, flags::ms(o.deadline));
    std::size_t left = co_await settle::tasks_left(1);
    std::printf("tasks left: %zu (main)\n", left);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    flags::set fs("tracker: a bounded event queue with a bounded shutdown (Go's \"never start a goroutine without\n"
                  "knowing when it will stop\"). Try -work 20ms -deadline 50ms to see the deadline hit.");
    fs.int_var("events", o.events, "events to send");
    fs.int_var("producers", o.producers, "tasks sending events");
    fs.int_var("queue", o.queue, "queue capacity");
    fs.duration_var("work", o.work, "time to handle one event", flags::range::non_negative);
    fs.duration_var("event-timeout", o.event_timeout, "how long an event may wait for room", flags::range::non_negative);
    fs.duration_var("deadline", o.deadline, "shutdown deadline", flags::range::non_negative);
    fs.parse_or_exit(argc, argv);
    if (o.events < 0 || o.producers < 1 || o.queue < 0) {
        std::fprintf(stderr, "tracker: -events >= 0, -producers >= 1 and -queue >= 0 please\n");
        return 2;
    }
    return ringo::run_main(tracker_main(o));
}
