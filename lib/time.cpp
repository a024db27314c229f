// Timers, tickers, time.After and AfterFunc (see time.hpp).
#include <ringo/time.hpp>

#include <ringo/runtime.hpp>

namespace ringo::detail {

timer_state::timer_state(executor* h, clock::time_point d, clock::duration p)
    : chan_state<clock::time_point>(1), home(h), deadline(d), period(p) {
    on_event = &on_timer;
    on_last_release_ = &last_release;
    reports_empty_ = true;
}

timer_state* start_timer(clock::duration d, clock::duration period, const char* what) {
    executor* ex = this_executor;
    if (ex == nullptr)
        outside_run(what);
    auto* s = new timer_state(ex, deadline_after(d), period);
    ex->add_timer(s, s->deadline);
    return s;
}

// Brings the heap in line with s's state: call on s->home's thread, unlocked.
static void sync_heap(timer_state* s, executor* home) noexcept {
    bool armed;
    clock::time_point when;
    {
        std::lock_guard lock(s->lock);
        armed = s->pending;
        when = s->deadline;
    }
    if (armed)
        home->add_timer(s, when);
    else
        home->remove_timer(s);
}

void timer_state::on_timer(timer_node* node, timer_event e, clock::time_point now) noexcept {
    auto* s = static_cast<timer_state*>(node);
    switch (e) {
    case timer_event::fire: {
        goroutine* to_wake = nullptr;
        bool rearm = false;
        {
            std::lock_guard lock(s->lock);
            if (!s->pending)
                return;
            if (s->deadline > now) {  // reset to later from another thread
                rearm = true;
            } else {
                if (s->period > clock::duration::zero()) {
                    auto behind = (now - s->deadline) / s->period;  // whole periods missed
                    s->deadline = add_saturated(s->deadline + s->period * behind, s->period);
                    rearm = true;
                } else {
                    s->pending = false;
                }
                clock::time_point value = now;
                // A full buffer keeps its value: a ticker drops ticks the receiver has not taken.
                (void)s->send_now(value, to_wake);
            }
        }
        if (rearm)
            s->home->add_timer(s, s->deadline);
        if (to_wake != nullptr)
            to_wake->home->ready_last(to_wake);  // FIFO, in deadline order
        return;
    }
    case timer_event::sync: {
        bool disposed;
        {
            std::lock_guard lock(s->lock);
            disposed = s->disposed;
        }
        if (disposed) {
            s->home->remove_timer(s);
            delete s;
            return;
        }
        sync_heap(s, s->home);
        return;
    }
    case timer_event::detach: {
        std::lock_guard lock(s->lock);
        s->pending = false;
        s->home = nullptr;
        return;
    }
    }
}

void timer_state::last_release(chan_state<clock::time_point>* base) noexcept {
    auto* s = static_cast<timer_state*>(base);
    executor* home;
    {
        std::lock_guard lock(s->lock);
        home = s->home;
        if (home != nullptr)
            s->disposed = true;
    }
    if (home == nullptr) {  // its runtime has ended: in no heap
        delete s;
    } else if (home == this_executor && !s->sync_posted.load(std::memory_order_acquire)) {
        home->remove_timer(s);
        delete s;
    } else {
        home->post_timer_sync(s);  // home removes and frees it
    }
}

// Under s->lock: discards a fired value nobody received. True if there was
// one. (Nobody sends on a timer's channel, and it is never closed.)
static bool drain(timer_state* s) {
    std::optional<clock::time_point> stale;
    goroutine* none = nullptr;
    return s->recv_now(stale, none) && stale.has_value();
}

static void after_change(timer_state* s, executor* home) noexcept {
    if (home == nullptr)
        return;
    if (home == this_executor)
        sync_heap(s, home);
    else
        home->post_timer_sync(s);
}

bool stop_timer(timer_state* s) {
    bool was_pending;
    executor* home;
    {
        std::lock_guard lock(s->lock);
        was_pending = s->pending;
        s->pending = false;
        was_pending = drain(s) || was_pending;
        home = s->home;
    }
    after_change(s, home);
    return was_pending;
}

bool reset_timer(timer_state* s, clock::duration d, clock::duration period, const char* what) {
    bool was_pending;
    executor* home;
    {
        std::lock_guard lock(s->lock);
        if (s->home == nullptr) {  // its runtime ended: adopt the current one
            if (this_executor == nullptr)
                outside_run(what);
            s->home = this_executor;
        }
        was_pending = s->pending;
        was_pending = drain(s) || was_pending;
        s->pending = true;
        s->deadline = deadline_after(d);
        s->period = period;
        home = s->home;
    }
    after_change(s, home);
    return was_pending;
}

void func_timer::arm(clock::duration d, std::shared_ptr<func_timer> self) {
    executor* ex = this_executor;
    if (ex == nullptr)
        outside_run("ringo::after_func");
    {
        std::lock_guard lock(lock_);
        home_ = ex;
        pending_ = true;
    }
    self_ = std::move(self);
    ex->add_timer(this, deadline_after(d));
}

bool func_timer::stop() {
    bool was_pending;
    executor* home;
    {
        std::lock_guard lock(lock_);
        was_pending = pending_;
        pending_ = false;
        home = home_;
    }
    // On another thread the node stays in its heap until its deadline, when
    // it finds itself stopped (lazy deletion, as Go does).
    if (was_pending && home == this_executor) {
        home->remove_timer(this);
        self_.reset();  // the caller's stop_func still holds it
    }
    return was_pending;
}

void func_timer::on_timer(timer_node* node, timer_event e, clock::time_point) noexcept {
    auto* t = static_cast<func_timer*>(node);
    bool run = false;
    {
        std::lock_guard lock(t->lock_);
        run = e == timer_event::fire && t->pending_;
        t->pending_ = false;
        if (e == timer_event::detach)
            t->home_ = nullptr;
    }
    if (run)
        t->start_task();
    auto keep = std::move(t->self_);  // frees t at the end of this scope if nobody else holds it
}

}  // namespace ringo::detail

namespace ringo {

recv_chan<clock::time_point> after(clock::duration d) {
    detail::timer_state* s = detail::start_timer(d, {}, "ringo::after");
    return recv_chan<clock::time_point>(detail::chan_ref<clock::time_point>(s));
}

clock::duration ticker::checked(clock::duration d, const char* what) {
    if (d <= clock::duration::zero())
        throw panic_error(std::string("non-positive interval for ") + what);
    return d;
}

std::size_t num_timers() {
    detail::executor* ex = detail::this_executor;
    return ex == nullptr ? 0 : ex->timer_count();
}

}  // namespace ringo
