// The executor loop (see detail/executor.hpp); the ring is lib/ring.cpp.
#include <ringo/detail/executor.hpp>

#include <chrono>

#include "ring.hpp"
#include "runtime_impl.hpp"

namespace ringo::detail {

thread_local constinit executor* this_executor = nullptr;
thread_local constinit goroutine* this_goroutine = nullptr;

namespace {

// How many tasks run between two looks at the ring and the remote queue.
constexpr unsigned poll_interval = 64;
// How many times in a row the run-next slot may jump the queue.
constexpr unsigned runnext_limit = 64;
// How long an idle executor polls for work from other threads before it
// sleeps (iterations of a pause instruction: tens of microseconds).
constexpr int spin_limit = 4000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace

executor::executor(runtime& rt, unsigned index, unsigned ring_entries)
    : rt_(rt), index_(index), ring_(new ring(ring_entries)) {}

executor::~executor() { delete ring_; }

void executor::add_task(goroutine* g) noexcept {
    registry_guard lock(*this);
    all_.push_front(g);
    live_.store(live_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // under the lock
}

void executor::remove_task(goroutine* g) noexcept {
    registry_guard lock(*this);
    all_.remove(g);
    live_.store(live_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void executor::ready_remote(goroutine* g) noexcept {
    goroutine* head = remote_.load(std::memory_order_relaxed);
    do {
        g->run_link.next = head;
    } while (!remote_.compare_exchange_weak(head, g, std::memory_order_seq_cst, std::memory_order_relaxed));
    notify();
}

void executor::notify() noexcept {
    // Pairs with the sleep handshake in wait(): either the executor sees our
    // push before it sleeps, or we see it asleep and wake it: from another
    // executor with a message on the ring (IORING_OP_MSG_RING), from any
    // other thread through the eventfd.
    if (!sleeping_.exchange(false, std::memory_order_seq_cst))
        return;
    // Once the runtime stops, rings take no new operation (teardown drains them).
    executor* from = this_executor;
    if (from != nullptr && from != this && !rt_.stopping() && from->ring_->send_wake(*ring_))
        return;
    ring_->wake_by_eventfd();
}

int executor::wake_fd() const noexcept { return ring_->wake_fd(); }

void executor::post(posted_work* w) noexcept {
    if (w->queued.exchange(true, std::memory_order_acq_rel))
        return;  // already queued: it runs once, with the latest state
    posted_work* head = mailbox_.load(std::memory_order_relaxed);
    do {
        w->next_posted = head;
    } while (!mailbox_.compare_exchange_weak(head, w, std::memory_order_seq_cst, std::memory_order_relaxed));
    notify();
}

void executor::submit(io_op* op, const io_request& r) { ring_->submit(op, r); }
void executor::cancel(io_op* op) { ring_->cancel(op); }
void executor::cancel_fd(int fd) { ring_->cancel_fd(fd); }
std::uint32_t executor::pending_io() const noexcept { return ring_->pending(); }

// Reverses a Treiber stack (newest first) taken whole from an atomic head
// into push order, through the link link(node).
template <class Node, class Link>
Node* oldest_first(Node* list, Link link) noexcept {
    Node* reversed = nullptr;
    while (list != nullptr) {
        Node* rest = link(list);
        link(list) = reversed;
        reversed = list;
        list = rest;
    }
    return reversed;
}

// The loop's private helpers, kept out of the public header.
class executor_loop {
public:
    explicit executor_loop(executor& e) : e_(e), r_(*e.ring_) {}

    goroutine* next_runnable() noexcept {
        if (e_.runnext_ != nullptr) {
            if (++e_.runnext_streak_ <= runnext_limit || e_.local_.empty())
                return std::exchange(e_.runnext_, nullptr);
            e_.local_.push_back(std::exchange(e_.runnext_, nullptr));
        }
        e_.runnext_streak_ = 0;
        return e_.local_.pop_front();
    }

    // Moves wake-ups pushed by other threads to the local queue, in push order.
    bool take_remote() noexcept {
        auto link = [](goroutine* g) -> goroutine*& { return g->run_link.next; };
        goroutine* reversed = oldest_first(e_.remote_.exchange(nullptr, std::memory_order_acquire), link);
        if (reversed == nullptr)
            return false;
        while (reversed != nullptr) {
            goroutine* next = link(reversed);
            e_.local_.push_back(reversed);
            reversed = next;
        }
        return true;
    }

    // Runs the work posted to the mailbox, oldest first, and delivers the
    // signals ringo's handler caught (lib/signals.cpp).
    bool take_mailbox() noexcept {
        if (signals_pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
            handle_pending_signals(e_.rt_);
        posted_work* reversed =
            oldest_first(e_.mailbox_.exchange(nullptr, std::memory_order_acquire),
                         [](posted_work* w) -> posted_work*& { return w->next_posted; });
        if (reversed == nullptr)
            return false;
        while (reversed != nullptr) {
            posted_work* next = reversed->next_posted;  // before run(): w may be posted again
            reversed->queued.store(false, std::memory_order_release);
            reversed->run(reversed);
            reversed = next;
        }
        return true;
    }

    // Fires every timer whose deadline has passed.
    void run_timers() noexcept {
        if (e_.timers_.empty())
            return;
        auto now = steady_clock::now();
        while (!e_.timers_.empty() && e_.timers_.top_when() <= now)
            e_.timers_.pop()->on_due(now);
    }

    // Submits queued operations and dispatches finished ones without blocking.
    void poll() noexcept { r_.poll(); }

    // Nothing is runnable: sleeps until a completion, a wake-up from another
    // thread or the nearest timer. Returns false when nothing can ever wake
    // this executor again (deadlock).
    bool wait() noexcept {
        // pending_blocking_ is read before remote_: a helper thread pushes its
        // wake-up before it stops counting, so one of the two shows it.
        bool may_wake = r_.pending() != 0 || !e_.timers_.empty() ||
                        e_.pending_blocking_.load(std::memory_order_seq_cst) != 0;
        bool quiescent = false;
        if (!may_wake && nothing_posted()) {
            // Only another executor can still wake this one. Deadlock is
            // declared when every executor is in this state and nothing is
            // posted to any of them (runtime::enter_quiescent).
            if (e_.rt_.enter_quiescent())
                return false;
            quiescent = true;
        }
        // With other executors about, spin a moment first: a wake-up from
        // one of them often follows within microseconds, and sleeping costs
        // a system call on both sides.
        if (e_.rt_.executors() > 1)
            for (int spin = 0; spin < spin_limit && nothing_posted() && !e_.rt_.stopping(); ++spin)
                cpu_relax();
        e_.sleeping_.store(true, std::memory_order_seq_cst);
        if (nothing_posted() && !e_.rt_.stopping()) {
            if (e_.timers_.empty()) {
                r_.wait(nullptr);
            } else {
                auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(e_.timers_.top_when() - steady_clock::now());
                if (left > std::chrono::nanoseconds::zero())
                    r_.wait(&left);
            }
        }
        e_.sleeping_.store(false, std::memory_order_relaxed);
        if (quiescent)
            e_.rt_.leave_quiescent();  // before anything posted is taken
        r_.reap();
        return !e_.rt_.deadlocked();
    }

private:
    bool nothing_posted() const noexcept { return !e_.has_posted(); }

    executor& e_;
    ring& r_;
};

bool executor::run_until(const bool* main_done) {
    executor_loop loop(*this);
    unsigned ticks = 0;
    for (;;) {
        if ((main_done != nullptr && *main_done) || rt_.stopping())
            return !rt_.deadlocked();
        if (goroutine* g = loop.next_runnable()) {
            this_goroutine = g;
            g->state = task_state::running;
            g->resume_point.resume();
            this_goroutine = nullptr;
            if (++ticks % poll_interval == 0) {
                loop.poll();
                loop.take_remote();
                loop.take_mailbox();
                loop.run_timers();
            }
            continue;
        }
        loop.poll();
        loop.take_remote();
        loop.take_mailbox();
        loop.run_timers();
        if (!local_.empty() || runnext_ != nullptr)
            continue;
        if (!loop.wait())
            return false;
        loop.take_remote();
        loop.take_mailbox();
    }
}

void executor::drain_ring() noexcept {
    // Cancel everything in flight (the wake-up read included), then wait for
    // each operation's own completion: only then may frames be freed.
    ring_->cancel_all();
    while (!ring_->idle())
        ring_->wait_one();
}

void executor::destroy_tasks() noexcept {
    // Destroy the tasks still alive. Their destructors may wake others; those
    // wake-ups are dropped with the queues.
    // This thread acts as the executor meanwhile (it may be another one's):
    // timers and channels treat it as the tasks' home thread.
    executor_loop loop(*this);
    goroutine* saved = std::exchange(this_goroutine, nullptr);
    executor* saved_executor = std::exchange(this_executor, this);
    for (;;) {
        loop.take_remote();
        local_.clear();
        runnext_ = nullptr;
        goroutine* g;
        {
            registry_guard lock(*this);
            g = all_.front();
        }
        if (g == nullptr)
            break;
        g->root_frame.destroy();
    }
    this_goroutine = saved;
    this_executor = saved_executor;
}

void executor::detach_timers() noexcept {
    // Work posted meanwhile runs first (timers released by other executors'
    // tasks as those were destroyed are freed here), acting as this
    // executor; then the timers still armed (their owners are handles that
    // may outlive the runtime) leave the heap for good.
    executor_loop loop(*this);
    executor* saved = std::exchange(this_executor, this);
    loop.take_mailbox();
    while (!timers_.empty())
        timers_.pop()->detach();
    this_executor = saved;
    local_.clear();
    runnext_ = nullptr;
    remote_.store(nullptr, std::memory_order_relaxed);
}

}  // namespace ringo::detail
