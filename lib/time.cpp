// Timers, tickers, time.After and AfterFunc (see time.hpp).
#include <ringo/time.hpp>

#include <mutex>
#include <new>
#include <utility>

#include <ringo/detail/frame_alloc.hpp>
#include <ringo/runtime.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define RINGO_TIMER_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_TIMER_CACHE 0
#endif
#endif
#ifndef RINGO_TIMER_CACHE
#define RINGO_TIMER_CACHE 1
#endif

namespace ringo::detail {

namespace {

// The memory of timer_states (an after(), timer or ticker): a per-thread
// free list of up to max_cached nodes, inline here, so that an after()
// dropped in a select costs no malloc and no call. Beyond it, nodes come
// from and go to the frame allocator (frame_alloc.hpp): no malloc per node
// either when a million timers are pending. A node goes back to the list
// of the thread that frees it (a timer released elsewhere is freed there,
// or by its home once it lets go of it). Under AddressSanitizer it is
// bypassed, so that a use after free is still caught.
class timer_node_cache {
public:
    timer_node_cache() = default;
    timer_node_cache(const timer_node_cache&) = delete;
    timer_node_cache& operator=(const timer_node_cache&) = delete;
    ~timer_node_cache() {
        while (head_ != nullptr)
            frame_free(std::exchange(head_, head_->next), sizeof(timer_state));
        count_ = max_cached;  // a node freed later in this thread's exit goes to the frame allocator
    }

    void* take() {
        if (head_ == nullptr)
            return frame_alloc(sizeof(timer_state));
        --count_;
        return std::exchange(head_, head_->next);
    }

    void give(void* p) noexcept {
        if (count_ == max_cached) {
            frame_free(p, sizeof(timer_state));
            return;
        }
        head_ = new (p) free_node{head_};
        ++count_;
    }

private:
    static constexpr std::size_t max_cached = 1024;
    struct free_node {
        free_node* next;
    };
    free_node* head_ = nullptr;
    std::size_t count_ = 0;
};

thread_local timer_node_cache node_cache;

void* allocate_timer_state() {
    if constexpr (RINGO_TIMER_CACHE)
        return node_cache.take();
    return ::operator new(sizeof(timer_state));
}

void free_timer_state(void* p) noexcept {
    if constexpr (RINGO_TIMER_CACHE)
        node_cache.give(p);
    else
        ::operator delete(p);
}

}  // namespace

timer_state::timer_state() : chan_state<clock::time_point>(1), timer(lock, &on_fire, &on_dispose) {
    on_last_release_ = &last_release;
    reports_empty_ = true;
}

timer_state* start_timer(clock::duration d, clock::duration period, const char* what) {
    if (current_executor() == nullptr)
        outside_run(what);
    void* node = allocate_timer_state();
    timer_state* s;
    try {
        s = ::new (node) timer_state();
    } catch (...) {
        free_timer_state(node);
        throw;
    }
    s->arm_unshared(deadline_after(d), period, what);
    return s;
}

void timer_state::on_fire(timer& t, clock::time_point now, std::uint64_t generation) noexcept {
    auto& s = static_cast<timer_state&>(t);
    goroutine* to_wake = nullptr;
    {
        std::lock_guard guard(s.lock);
        if (s.generation_locked() != generation)
            return;  // stopped or reset since it fired: no stale value
        clock::time_point value = now;
        // A full buffer keeps its value: a ticker drops ticks the receiver has not taken.
        (void)s.send_now(value, to_wake);
    }
    if (to_wake != nullptr)
        wake_in_turn(to_wake);  // FIFO, in deadline order
}

void timer_state::on_dispose(timer& t) noexcept {
    auto* s = &static_cast<timer_state&>(t);
    s->~timer_state();
    free_timer_state(s);
}

// The last handle is gone: stopped, and freed once no executor references it.
void timer_state::last_release(chan_state<clock::time_point>* base) noexcept {
    static_cast<timer_state*>(base)->timer::release();
}

// Under s->lock: discards a fired value nobody received. True if there was
// one. (Nobody sends on a timer's channel, and it is never closed.)
static bool drain(timer_state* s) {
    std::optional<clock::time_point> stale;
    goroutine* none = nullptr;
    return s->recv_now(stale, none) && stale.has_value();
}

bool stop_timer(timer_state* s) {
    timer::change c;
    bool was_pending;
    {
        std::lock_guard lock(s->lock);
        was_pending = s->stop_locked(c);
        was_pending = drain(s) || was_pending;
    }
    s->settle(c);
    return was_pending;
}

bool reset_timer(timer_state* s, clock::duration d, clock::duration period, const char* what) {
    timer::change c;
    bool was_pending;
    {
        std::lock_guard lock(s->lock);
        was_pending = s->arm_locked(deadline_after(d), period, what, c);
        was_pending = drain(s) || was_pending;
    }
    s->settle(c);
    return was_pending;
}

void func_timer::arm(clock::duration d, std::shared_ptr<func_timer> self) {
    if (current_executor() == nullptr)
        outside_run("ringo::after_func");
    self_ = std::move(self);  // dropped by on_dispose, once no executor references the timer
    arm_unshared(deadline_after(d), {}, "ringo::after_func");
    release(/*keep_armed=*/true);  // the stop_funcs keep the object; stop() stays callable
}

void func_timer::on_fire(timer& t, clock::time_point, std::uint64_t) noexcept {
    static_cast<func_timer&>(t).start_task();
}

void func_timer::on_dispose(timer& t) noexcept {
    auto keep = std::move(static_cast<func_timer&>(t).self_);  // may free it, at the end of this scope
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
    detail::executor* ex = detail::current_executor();
    if (ex == nullptr)
        return 0;
    unsigned n = detail::executor_count();
    std::size_t armed = 0;
    for (unsigned i = 0; i < n; ++i)
        armed += detail::executor_at(i).timer_count();
    return armed;
}

}  // namespace ringo
