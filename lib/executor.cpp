// The executor loop (see detail/executor.hpp); the ring is lib/ring.cpp.
#include <ringo/detail/executor.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include <ringo/detail/fastrand.hpp>

#include "ring.hpp"
#include "runtime_impl.hpp"
#include "this_thread.hpp"

namespace ringo::detail {

thread_local constinit executor* this_executor = nullptr;
thread_local constinit goroutine* this_goroutine = nullptr;

executor* current_executor() noexcept { return this_executor; }
goroutine* current_goroutine() noexcept { return this_goroutine; }

namespace {

// How many tasks run between two looks at the ring and the remote queue.
constexpr unsigned poll_interval = 64;
// How many times in a row the run-next slot may jump the queue.
constexpr unsigned runnext_limit = 64;
// How long an idle executor polls for work from other threads before it
// sleeps (iterations of a pause instruction: tens of microseconds).
constexpr int spin_limit = 4000;
// How many pauses of that spin between two looks at the other executors.
constexpr int spin_check_others = 64;
// How long a run-next task waits in an executor that keeps running one
// task before a thief takes it (Go: a few microseconds, with preemption to
// back it; ringo has no preemption, so a little longer).
constexpr auto runnext_patience = std::chrono::microseconds(100);
// How long an idle executor sleeps at most while a run-next task waits
// elsewhere (it looks again then): runnext_patience while it times a task it
// has seen waiting (so that task is taken about runnext_patience after it was
// first seen, not a millisecond later), runnext_recheck otherwise (the task
// was pinned and given back, or not seen yet).
constexpr auto runnext_recheck = std::chrono::milliseconds(1);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace

executor::executor(runtime& rt, unsigned index, unsigned ring_entries, backend_kind backend)
    : rt_(rt), index_(index), ring_(make_ring(backend, ring_entries).release()) {}

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

std::uint64_t executor::new_task_id() noexcept {
    if (next_id_ == ids_end_) {
        next_id_ = rt_.take_task_ids(runtime::task_id_batch);
        ids_end_ = next_id_ + runtime::task_id_batch;
    }
    return next_id_++;
}

void executor::adopt_tasks(executor& from, const run_queue& moved) noexcept {
    // Index order, as every reader of several registries locks them.
    spinlock& first = from.index_ < index_ ? from.tasks_lock_ : tasks_lock_;
    spinlock& second = from.index_ < index_ ? tasks_lock_ : from.tasks_lock_;
    std::lock_guard l1(first);
    std::lock_guard l2(second);
    std::uint64_t count = 0;
    for (goroutine* g = moved.front(); g != nullptr; g = run_queue::next(g)) {
        from.all_.remove(g);
        all_.push_front(g);
        ++count;
    }
    from.live_.store(from.live_.load(std::memory_order_relaxed) - count, std::memory_order_relaxed);
    live_.store(live_.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
}

void executor::push_back_local(goroutine* g) noexcept {
    if (!shared_) {
        local_.push_back(g);
        return;
    }
    {
        std::lock_guard lock(queue_lock_);
        local_.push_back(g);
        queued_.store(queued_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    rt_.offer_work(*this);
}

void executor::ready_next_local(goroutine* g) noexcept {
    goroutine* displaced = runnext_.exchange(g, std::memory_order_acq_rel);
    if (displaced != nullptr)
        push_back_local(displaced);  // offers the displaced task to idle executors
}

void executor::ready_elsewhere(goroutine* g, executor* here, bool next) noexcept {
    if (rt_.tearing_down())
        return;  // dropped with the queues (destroy_tasks)
    if (this != here) {
        // From another thread: the home's remote queue. Not readied where
        // the waker runs (as Go does): the parking thread may still be inside
        // the task's await_suspend, past publishing it; only its home, once
        // back in its loop, may run it (and then thieves may take it).
        ready_remote(g);
        return;
    }
    next ? ready_next_local(g) : push_back_local(g);
}

void executor::ready_remote(goroutine* g) noexcept {
    if (rt_.tearing_down())
        return;  // dropped with the queues (destroy_tasks)
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
backend_kind executor::backend() const noexcept { return ring_->kind(); }

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
        if (e_.runnext_.load(std::memory_order_relaxed) != nullptr) {
            if (++e_.runnext_streak_ <= runnext_limit || queue_empty()) {
                if (goroutine* g = take_runnext())
                    return g;
            } else if (goroutine* g = take_runnext()) {
                e_.push_back_local(g);  // it jumped the queue long enough
            }
        }
        e_.runnext_streak_ = 0;
        if (!e_.shared_)
            return e_.local_.pop_front();
        std::lock_guard lock(e_.queue_lock_);
        goroutine* g = e_.local_.pop_front();
        if (g != nullptr)
            e_.queued_.store(e_.queued_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        return g;
    }

    bool has_runnable() const noexcept {
        return e_.runnext_.load(std::memory_order_relaxed) != nullptr || !queue_empty();
    }

    // Moves wake-ups pushed by other threads to the local queue, in push
    // order, under one lock. Idle executors are offered the work only when
    // this one now has more than it can run at once: a lone wake-up is run
    // here, and waking another executor for it would only make it look.
    bool take_remote() noexcept {
        auto link = [](goroutine* g) -> goroutine*& { return g->run_link.next; };
        goroutine* reversed = oldest_first(e_.remote_.exchange(nullptr, std::memory_order_acquire), link);
        if (reversed == nullptr)
            return false;
        if (!e_.shared_) {
            while (goroutine* g = reversed) {
                reversed = link(g);
                e_.local_.push_back(g);
            }
            return true;
        }
        std::uint32_t queued;
        {
            std::lock_guard lock(e_.queue_lock_);
            queued = e_.queued_.load(std::memory_order_relaxed);
            while (goroutine* g = reversed) {
                reversed = link(g);
                e_.local_.push_back(g);
                ++queued;
            }
            e_.queued_.store(queued, std::memory_order_relaxed);
        }
        if (queued > 1 || e_.runnext_.load(std::memory_order_relaxed) != nullptr)
            e_.rt_.offer_work(e_);
        return true;
    }

    // Work stealing, when this executor has nothing to run: takes the older
    // half of another executor's queue (its unpinned tasks), or else the
    // run-next task of one that has not switched tasks for
    // runnext_patience. Victims are visited from a random one on. Returns
    // true if it took something. Executor thread.
    bool steal() noexcept {
        if (!e_.shared_)
            return false;
        unsigned n = e_.rt_.executors();
        unsigned first = fastrand_n(n);
        for (unsigned i = 0; i < n; ++i) {
            executor& victim = e_.rt_.executor_at_index((first + i) % n);
            if (&victim != &e_ && victim.queued() != 0 && steal_queue(victim))
                return true;
        }
        for (unsigned i = 0; i < n; ++i) {
            executor& victim = e_.rt_.executor_at_index((first + i) % n);
            if (&victim != &e_ && steal_runnext(victim))
                return true;
        }
        return false;
    }

    // True if another executor has queued tasks, or a run-next task a thief
    // may take later (then the idle executor must look again soon).
    bool work_elsewhere(bool* runnext_waiting) const noexcept {
        unsigned n = e_.rt_.executors();
        for (unsigned i = 0; i < n; ++i) {
            executor& other = e_.rt_.executor_at_index(i);
            if (&other == &e_)
                continue;
            if (other.queued() != 0)
                return true;
            if (runnext_waiting != nullptr && other.runnext_.load(std::memory_order_seq_cst) != nullptr)
                *runnext_waiting = true;
        }
        return false;
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
        while (timer* t = e_.timers_.pop_due(now))
            t->on_due(now);
    }

    // Submits queued operations and dispatches finished ones without blocking.
    void poll() noexcept { r_.poll(); }

    // Nothing is runnable: sleeps until a completion, a wake-up from another
    // thread or the nearest timer. Returns false when nothing can ever wake
    // this executor again (deadlock).
    bool wait() noexcept {
        // With other executors about, spin a moment first: a wake-up from
        // one of them often follows within microseconds, and sleeping costs
        // a system call on both sides. Work to steal ends the wait too. The
        // spin writes nothing shared and reads the other executors' queues
        // only now and then (each look pulls in lines their owners write).
        bool shared = e_.shared_;
        if (shared && spin_found_work())
            return !e_.rt_.deadlocked();
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
        // The sleep handshake with offer_work(): sleeping_ is set before the
        // last look at the other queues, and offer_work() looks at sleeping_
        // after its push, so one of the two sees the other.
        e_.sleeping_.store(true, std::memory_order_seq_cst);
        bool runnext_waiting = false;
        if (nothing_posted() && !e_.rt_.stopping() && !(shared && work_elsewhere(&runnext_waiting))) {
            std::chrono::nanoseconds limit = std::chrono::nanoseconds::max();
            if (runnext_waiting)
                limit = timing_runnext() ? std::chrono::nanoseconds(runnext_patience) : runnext_recheck;
            if (!e_.timers_.empty())
                limit = std::min(limit, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            e_.timers_.earliest() - steady_clock::now()));
            if (limit == std::chrono::nanoseconds::max())
                r_.wait(nullptr);
            else if (limit > std::chrono::nanoseconds::zero())
                r_.wait(&limit);
        }
        e_.sleeping_.store(false, std::memory_order_relaxed);
        if (quiescent)
            e_.rt_.leave_quiescent();  // before anything posted is taken
        r_.reap();
        return !e_.rt_.deadlocked();
    }

private:
    bool nothing_posted() const noexcept { return !e_.has_posted(); }

    // Spins up to spin_limit pauses; true as soon as something is posted
    // here, the runtime stops or another executor has tasks to steal. (It
    // does not look at this executor's ring or timers: the spin is short.)
    bool spin_found_work() noexcept {
        for (int spin = 1; spin <= spin_limit; ++spin) {
            if (!nothing_posted() || e_.rt_.stopping())
                return true;
            if (spin % spin_check_others == 0 && work_elsewhere(nullptr))
                return true;
            cpu_relax();
        }
        return false;
    }

    bool queue_empty() const noexcept {
        return e_.shared_ ? e_.queued_.load(std::memory_order_relaxed) == 0 : e_.local_.empty();
    }

    goroutine* take_runnext() noexcept {
        if (!e_.shared_) {
            goroutine* g = e_.runnext_.load(std::memory_order_relaxed);
            e_.runnext_.store(nullptr, std::memory_order_relaxed);
            return g;
        }
        return e_.runnext_.exchange(nullptr, std::memory_order_acq_rel);
    }

    // Moves the older half of victim's unpinned queued tasks here.
    bool steal_queue(executor& victim) noexcept {
        run_queue taken;
        std::uint32_t count = 0;
        {
            std::lock_guard lock(victim.queue_lock_);
            std::uint32_t want = (victim.queued_.load(std::memory_order_relaxed) + 1) / 2;
            for (goroutine* g = victim.local_.front(); g != nullptr && count < want;) {
                goroutine* next = run_queue::next(g);
                if (g->pinned == 0) {
                    victim.local_.remove(g);
                    taken.push_back(g);
                    ++count;
                }
                g = next;
            }
            victim.queued_.store(victim.queued_.load(std::memory_order_relaxed) - count, std::memory_order_relaxed);
        }
        if (count == 0)
            return false;
        e_.adopt_tasks(victim, taken);
        std::lock_guard lock(e_.queue_lock_);
        while (goroutine* g = taken.pop_front()) {
            g->home.store(&e_, std::memory_order_relaxed);
            e_.local_.push_back(g);
        }
        e_.queued_.store(e_.queued_.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
        return true;
    }

    // Takes victim's run-next task once victim has been running one task
    // (no switch) for runnext_patience with that task waiting all along.
    bool steal_runnext(executor& victim) noexcept {
        goroutine* g = victim.runnext_.load(std::memory_order_acquire);
        runnext_seen& seen = seen_[victim.index()];
        if (g == nullptr) {  // the common case, without the clock or the victim's switch count
            seen = {};
            return false;
        }
        std::uint64_t switches = victim.switches_.load(std::memory_order_acquire);
        auto now = steady_clock::now();
        if (seen.task != g || seen.switches != switches) {
            seen = {g, switches, now};
            return false;
        }
        if (now - seen.since < runnext_patience)
            return false;
        seen = {};
        if (!victim.runnext_.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel))
            return false;  // it ran, or was replaced, meanwhile
        if (g->pinned != 0) {  // it must stay: give it back, and look again only at runnext_recheck
            seen = {g, switches, now, /*given_back=*/true};
            goroutine* expected = nullptr;
            if (!victim.runnext_.compare_exchange_strong(expected, g, std::memory_order_acq_rel))
                victim.ready_remote(g);
            return false;
        }
        run_queue taken;
        taken.push_back(g);
        e_.adopt_tasks(victim, taken);
        taken.pop_front();
        g->home.store(&e_, std::memory_order_relaxed);
        e_.ready_next_local(g);
        return true;
    }

    // What this thief saw of each victim's run-next slot last time.
    struct runnext_seen {
        goroutine* task = nullptr;
        std::uint64_t switches = 0;
        steady_clock::time_point since{};
        bool given_back = false;  // taken once, but pinned: not worth a prompt look
    };

    // True if this thief is timing a run-next task it saw waiting.
    bool timing_runnext() const noexcept {
        for (const runnext_seen& seen : seen_)
            if (seen.task != nullptr && !seen.given_back)
                return true;
        return false;
    }

    executor& e_;
    ring& r_;
    std::vector<runnext_seen> seen_ = std::vector<runnext_seen>(e_.rt_.executors());
};

bool executor::run_until(const bool* main_done) {
    executor_loop loop(*this);
    unsigned ticks = 0;
    for (;;) {
        if ((main_done != nullptr && *main_done) || rt_.stopping())
            return !rt_.deadlocked();
        if (goroutine* g = loop.next_runnable()) {
            switches_.store(switches_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
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
        if (loop.has_runnable() || loop.steal())
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
    // wake-ups are dropped (runtime::tearing_down) or cleared with the queues.
    // This thread acts as each task's executor meanwhile (it may be another
    // one's): timers and channels treat it as the task's own thread.
    goroutine* saved = std::exchange(this_goroutine, nullptr);
    executor* saved_executor = this_executor;
    for (;;) {
        forget_queues();
        goroutine* g;
        {
            registry_guard lock(*this);
            g = all_.front();
        }
        if (g == nullptr)
            break;
        this_executor = g->where();
        g->root_frame.destroy();
    }
    this_goroutine = saved;
    this_executor = saved_executor;
}

void executor::forget_queues() noexcept {
    local_.clear();
    queued_.store(0, std::memory_order_relaxed);
    runnext_.store(nullptr, std::memory_order_relaxed);
    remote_.store(nullptr, std::memory_order_relaxed);
}

void executor::detach_timers() noexcept {
    // Work posted meanwhile runs first (timers released by other executors'
    // tasks as those were destroyed are freed here), acting as this
    // executor; then the timers still armed (their owners are handles that
    // may outlive the runtime) leave the heap for good.
    executor_loop loop(*this);
    executor* saved = std::exchange(this_executor, this);
    loop.take_mailbox();
    while (timer* t = timers_.pop_any())
        t->detach();
    this_executor = saved;
    forget_queues();
}

}  // namespace ringo::detail
