// The one timer protocol (see detail/timer.hpp).
#include <ringo/detail/timer.hpp>

#include <mutex>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>

namespace ringo::detail {

namespace {
steady_clock::time_point add_saturated(steady_clock::time_point t, steady_clock::duration d) noexcept {
    if (t.time_since_epoch() > steady_clock::duration::max() - d)
        return steady_clock::time_point::max();
    return t + d;
}
}  // namespace

bool timer::arm_locked(steady_clock::time_point when, steady_clock::duration period, const char* what,
                       change& c) {
    if ((state_ & referenced) == 0 && (home_ == nullptr || home_era_ != runtimes_ended.load(std::memory_order_acquire))) {
        // Its executor let go of it and has ended (or it never had one): adopt the caller's.
        if (current_executor() == nullptr)
            outside_run(what);
        home_ = current_executor();
        home_era_ = runtimes_ended.load(std::memory_order_acquire);
    }
    bool was = (state_ & armed) != 0;
    if (!was)
        home_->armed_timers_.fetch_add(1, std::memory_order_relaxed);
    state_ = (state_ | armed) + one_generation;
    when_ = when;
    period_ = period;
    after_change_locked(c);
    return was;
}

void timer::disarm_locked() noexcept {
    if ((state_ & armed) != 0)
        home_->armed_timers_.fetch_sub(1, std::memory_order_relaxed);
    state_ &= ~armed;
}

bool timer::stop_locked(change& c) noexcept {
    bool was = (state_ & armed) != 0;
    disarm_locked();
    state_ += one_generation;
    after_change_locked(c);
    return was;
}

void timer::after_change_locked(change& c) noexcept {
    if ((state_ & referenced) == 0) {
        return;  // no executor references it: nothing to bring in line
    } else if (home_ == current_executor()) {
        if ((state_ & firing) == 0)  // else on_due reconciles once fire_ returns
            c.dispose = reconcile_locked();
    } else if ((state_ & posted) == 0) {
        state_ |= posted;
        c.post_to = home_;
    }
}

bool timer::reconcile_locked() noexcept {
    executor& home = *home_;
    if ((state_ & armed) != 0) {
        if ((state_ & in_heap) == 0 || home.timers_.when_of(this) != when_) {
            home.timers_.update(this, when_);
            state_ |= in_heap;
        }
        return false;
    }
    if ((state_ & in_heap) != 0) {
        home.timers_.remove(this);
        state_ &= ~in_heap;
    }
    // Unreferenced now: home_ stays, for the next arm() from a thread that
    // is not an executor's (valid while its runtime lives: home_era_).
    return (state_ & (referenced | released)) == released;
}

void timer::settle(const change& c) noexcept {
    if (c.post_to != nullptr)
        c.post_to->post(&sync_);  // `posted` keeps us alive until it has run
    else if (c.dispose && dispose_ != nullptr)
        dispose_(*this);
}

bool timer::arm(steady_clock::time_point when, steady_clock::duration period, const char* what) {
    change c;
    bool was;
    {
        std::lock_guard lock(lock_);
        was = arm_locked(when, period, what, c);
    }
    settle(c);
    return was;
}

void timer::arm_unshared(steady_clock::time_point when, steady_clock::duration period, const char* what) {
    change c;
    (void)arm_locked(when, period, what, c);  // nobody else can hold or wait for the lock
    settle(c);
}

bool timer::stop() noexcept {
    change c;
    bool was;
    {
        std::lock_guard lock(lock_);
        was = stop_locked(c);
    }
    settle(c);
    return was;
}

void timer::release(bool keep_armed) noexcept {
    change c;
    {
        std::lock_guard lock(lock_);
        state_ |= released;
        if (!keep_armed) {
            disarm_locked();
            state_ += one_generation;
        }
        if ((state_ & referenced) == 0)
            c.dispose = true;
        else
            after_change_locked(c);
    }
    settle(c);
}

void timer::on_posted(posted_work* w) noexcept {
    timer* t = static_cast<mailbox_entry*>(w)->self;
    bool dispose;
    {
        std::lock_guard lock(t->lock_);
        t->state_ &= ~posted;
        dispose = (t->state_ & firing) == 0 && t->reconcile_locked();
    }
    if (dispose && t->dispose_ != nullptr)
        t->dispose_(*t);
}

void timer::on_due(steady_clock::time_point now) noexcept {
    std::uint64_t generation = 0;
    bool fire = false, dispose = false, last_access = false;
    {
        std::lock_guard lock(lock_);
        state_ &= ~in_heap;
        if ((state_ & armed) != 0 && when_ <= now) {
            fire = true;
            generation = generation_locked();
            if (period_ > steady_clock::duration::zero()) {
                auto behind = (now - when_) / period_;  // whole periods missed: a slow receiver drops ticks
                when_ = add_saturated(when_, period_ * (behind + 1));
                home_->timers_.update(this, when_);
                state_ |= in_heap;
            } else {
                disarm_locked();
            }
            // A timer without dispose belongs to one task, which frees it once
            // fire_ has woken it (perhaps on another thread): fire_ is then our
            // last access. Others stay referenced until fire_ returns.
            last_access = dispose_ == nullptr && (state_ & referenced) == 0;
            if (!last_access)
                state_ |= firing;
        } else {  // stopped, or reset to later, from another thread
            dispose = reconcile_locked();
        }
    }
    if (last_access) {
        fire_(*this, now, generation);
        return;
    }
    if (fire) {
        fire_(*this, now, generation);
        std::lock_guard lock(lock_);
        state_ &= ~firing;
        dispose = reconcile_locked();
    }
    if (dispose && dispose_ != nullptr)
        dispose_(*this);
}

void timer::detach() noexcept {
    bool dispose;
    {
        std::lock_guard lock(lock_);
        disarm_locked();
        state_ &= ~(in_heap | posted);
        heap_index_ = not_in_heap;
        dispose = (state_ & released) != 0;  // its home_ goes stale as the runtime ends
    }
    if (dispose && dispose_ != nullptr)
        dispose_(*this);
}

}  // namespace ringo::detail
