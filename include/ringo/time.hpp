// ringo/time.hpp - Go's time package for tasks: sleep, time.After, Timer,
// Ticker, AfterFunc.
//
//   co_await ringo::sleep_for(10ms);
//   auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(ringo::after(80ms)));
//   ringo::timer t(1s);  ...  t.stop();  t.reset(2s);  co_await t.c().recv();
//   ringo::ticker tick(100ms);  while (...) co_await tick.c().recv();
//   auto stop = ringo::after_func(5s, [] { ... });  bool stopped = stop();
//
// Each executor keeps its timers in one heap and sleeps until the earliest
// deadline (one kernel timeout; nanosecond resolution, no rounding to 1 ms).
// Timers follow Go 1.23: a timer or ticker stays armed while its owner or a
// handle to its channel lives (as Go's garbage collector keeps a referenced
// timer), and costs nothing once the last one is gone; its channel reports
// len() == 0 and cap() == 0; stop() and reset() may be called from any
// thread, and after they return no stale value is ever received (a fired
// value not yet received is discarded, and counts as "pending" for their
// return value). A duration so long that now + d overflows never fires (the
// deadline saturates, as Go's runtime does).
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <utility>

#include <ringo/chan.hpp>
#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/timer.hpp>
#include <ringo/errors.hpp>

namespace ringo {

// The clock of every deadline in ringo: monotonic, nanosecond resolution.
using clock = std::chrono::steady_clock;

namespace detail {

// t + d for d >= 0, saturated at time_point::max(), a deadline that never
// comes (Go's runtime caps an overflowing `when` at maxWhen the same way).
inline clock::time_point add_saturated(clock::time_point t, clock::duration d) noexcept {
    if (t.time_since_epoch() > clock::duration::max() - d)
        return clock::time_point::max();
    return t + d;
}

// The deadline of a timer due after d: now for d <= 0, never (max()) when
// now + d overflows. Every timer, sleep and timeout deadline comes from here.
inline clock::time_point deadline_after(clock::duration d) noexcept {
    return add_saturated(clock::now(), std::max(d, clock::duration::zero()));
}

// co_await sleep_until(t). The awaiter holds the timer; armed and released
// on the task's home thread (a parked task never changes executor), so it
// is never posted and its destruction frees it at once.
class [[nodiscard]] sleep_awaiter : timer {
public:
    sleep_awaiter(clock::time_point deadline, bool now_or_past, std::source_location site, const char* what) noexcept
        : timer(&on_fire), deadline_(deadline), at_once_(now_or_past), what_(what), site_(site) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (g_ != nullptr)  // it slept: out of the heap if destroyed asleep (runtime teardown)
            release();
    }

    bool await_ready() const noexcept { return at_once_; }
    void await_suspend(std::coroutine_handle<> h) {
        g_ = park(h, task_state::sleep, site_, what_);
        arm_unshared(deadline_, {}, what_);  // only this task arms it
    }
    void await_resume() const noexcept {}

private:
    static void on_fire(timer& self, clock::time_point, std::uint64_t) noexcept {
        // Behind the runnable tasks: sleepers due together resume in deadline order.
        wake_in_turn(static_cast<sleep_awaiter&>(self).g_);
    }

    clock::time_point deadline_;
    bool at_once_;
    const char* what_;  // the call, for misuse messages
    std::source_location site_;
    goroutine* g_ = nullptr;
};

// A timer or ticker: its channel (capacity 1, reporting len() == cap() == 0)
// and its timer, which shares the channel's lock, so that stop() and reset()
// disarm it and discard a fired value in one step. Freed when the last handle
// (timer, ticker or channel) is gone and no executor references the timer.
class timer_state final : public chan_state<clock::time_point>, public timer {
public:
    timer_state();

    static void on_fire(timer& self, clock::time_point now, std::uint64_t generation) noexcept;
    static void on_dispose(timer& self) noexcept;
    static void last_release(chan_state<clock::time_point>* self) noexcept;
};

timer_state* start_timer(clock::duration d, clock::duration period, const char* what);
bool stop_timer(timer_state* s);
bool reset_timer(timer_state* s, clock::duration d, clock::duration period, const char* what);

// What a stop_func stops.
struct stoppable {
    virtual ~stoppable() = default;
    virtual bool stop() = 0;
};

// time.AfterFunc's state: runs f as a new task when it fires. Shared by the
// stop_funcs and, while an executor references the timer, by itself.
class func_timer : public stoppable, timer {
public:
    func_timer() : timer(&on_fire, &on_dispose) {}
    bool stop() override { return timer::stop(); }
    void arm(clock::duration d, std::shared_ptr<func_timer> self);

protected:
    virtual void start_task() noexcept = 0;

private:
    static void on_fire(timer& self, clock::time_point now, std::uint64_t generation) noexcept;
    static void on_dispose(timer& self) noexcept;

    std::shared_ptr<func_timer> self_;  // while an executor references the timer
};

template <class F>
class func_timer_of final : public func_timer {
public:
    func_timer_of(F f, std::source_location site) : f_(std::move(f)), site_(site) {}

private:
    void start_task() noexcept override { spawn_from_callback(*current_executor(), std::move(f_), site_); }
    F f_;
    std::source_location site_;
};

}  // namespace detail

// co_await sleep_for(d): suspends the task for d (Go's time.Sleep). d <= 0
// returns at once.
[[nodiscard]] inline detail::sleep_awaiter sleep_for(clock::duration d,
                                                     std::source_location site = std::source_location::current()) {
    bool at_once = d <= clock::duration::zero();
    return {at_once ? clock::time_point{} : detail::deadline_after(d), at_once, site, "ringo::sleep_for"};
}

// co_await sleep_until(t): suspends the task until t; a past t returns at once.
[[nodiscard]] inline detail::sleep_awaiter sleep_until(clock::time_point t,
                                                       std::source_location site = std::source_location::current()) {
    return {t, t <= clock::now(), site, "ringo::sleep_until"};
}

// time.After: a channel that receives the time once, after d (never if now +
// d overflows). Dropping every handle to it before it fires releases the
// timer at once. Needs a runtime.
recv_chan<clock::time_point> after(clock::duration d);

// time.NewTimer, with Go 1.23 semantics. Move-only. c() may be called from
// any thread and outlive the timer: as in Go, a handle to the channel keeps
// the timer armed, so `co_await ringo::timer(10ms).c().recv()` returns after
// 10ms; once the timer and every handle to its channel are gone, it is
// stopped and freed.
class timer {
public:
    // Starts a timer that sends the time on c() after d (at once if d <= 0;
    // never if now + d overflows). Throws panic_error outside run().
    explicit timer(clock::duration d) : s_(detail::start_timer(d, {}, "ringo::timer")) {}
    timer(timer&& o) noexcept = default;
    timer& operator=(timer&& o) noexcept = default;
    ~timer() = default;

    recv_chan<clock::time_point> c() const { return recv_chan<clock::time_point>(s_); }

    // Prevents the timer from firing. True if it was pending - including a
    // fired value not yet received, which is discarded. Any thread.
    bool stop() { return s_.get() != nullptr && detail::stop_timer(state()); }
    // Re-arms the timer to fire after d; same return value as stop(); a
    // stale value is discarded. Any thread.
    bool reset(clock::duration d) { return detail::reset_timer(state(), d, {}, "ringo::timer::reset"); }

private:
    detail::timer_state* state() const noexcept { return static_cast<detail::timer_state*>(s_.get()); }
    detail::chan_ref<clock::time_point> s_;
};

// time.NewTicker: sends the time on c() every period; drops ticks for a slow
// receiver. A non-positive period is a panic_error. Move-only. As with timer,
// a handle to c() keeps it ticking (ringo::ticker(d).c() is Go's time.Tick);
// once the ticker and every handle to its channel are gone, it is stopped.
class ticker {
public:
    explicit ticker(clock::duration period) : s_(detail::start_timer(checked(period, "ringo::ticker"), period, "ringo::ticker")) {}
    ticker(ticker&& o) noexcept = default;
    ticker& operator=(ticker&& o) noexcept = default;
    ~ticker() = default;

    recv_chan<clock::time_point> c() const { return recv_chan<clock::time_point>(s_); }
    // Turns the ticker off; a tick not yet received is discarded. Any thread.
    void stop() {
        if (s_.get() != nullptr)
            detail::stop_timer(state());
    }
    // Restarts it with a new period. Any thread.
    void reset(clock::duration period) {
        checked(period, "ringo::ticker::reset");
        detail::reset_timer(state(), period, period, "ringo::ticker::reset");
    }

private:
    static clock::duration checked(clock::duration d, const char* what);
    detail::timer_state* state() const noexcept { return static_cast<detail::timer_state*>(s_.get()); }
    detail::chan_ref<clock::time_point> s_;
};

// Stops what after_func started: true if it prevented f from running (Go's
// Timer.Stop on an AfterFunc timer). Copyable; calling it again returns false.
class stop_func {
public:
    stop_func() = default;
    explicit stop_func(std::shared_ptr<detail::stoppable> s) noexcept : s_(std::move(s)) {}
    bool operator()() const { return s_ != nullptr && s_->stop(); }

private:
    std::shared_ptr<detail::stoppable> s_;
};

// time.AfterFunc: after d, runs f (moved into the new task's frame) as a new
// task, as go(f) would. Needs a runtime.
template <class F>
    requires detail::spawnable_v<F>
stop_func after_func(clock::duration d, F f, std::source_location site = std::source_location::current()) {
    auto t = std::make_shared<detail::func_timer_of<F>>(std::move(f), site);
    t->arm(d, t);
    return stop_func(std::move(t));
}

// Timers armed in the running runtime, on every executor (sleeps included):
// an introspection aid for tests and leak hunting, as num_tasks() is for
// tasks. 0 outside run().
std::size_t num_timers();

}  // namespace ringo
