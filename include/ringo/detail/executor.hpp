// ringo/detail/executor.hpp - one thread's scheduler (Go's `p`), inline parts.
//
// An executor owns a FIFO run queue with a run-next slot, a remote queue that
// other threads push wake-ups onto, a timer heap, the task registry and a
// ring (lib/ring.hpp: the I/O backend, io_uring or epoll; primitives never
// see it).
// Its loop (lib/executor.cpp) runs tasks, polls the ring, takes what other
// threads posted, fires timers, steals work when it has none, and sleeps in
// the ring.
//
// Scheduling, as Go's: go() from a task puts the new task in the current
// executor's run-next slot; an executor with nothing to run steals
// the older half of a busy executor's queue, or the run-next task of one
// that has been running the same task for a while (lib/executor.cpp). A task
// woken from another thread goes to its home's remote queue: the thread that
// parked it may still be inside its await_suspend, so only the home, back in
// its loop, makes it runnable (Go can ready it anywhere because a g is parked
// only once its stack is switched out; a coroutine has no such point).
//
// The invariant that makes moving tasks safe: only runnable tasks move. A
// parked task's executor (goroutine::home) does not change until it is
// woken and queued by its home, so its waker, its timers and its ring
// operation all see one home.
// An I/O operation is submitted, cancelled and completed on the ring that
// holds it: its task is pinned (goroutine::pinned) from before submission
// until after completion, and never moves meanwhile. Main and go_pinned()
// tasks are pinned for life. A task is listed in its home's registry: a
// thief moves the registrations of the tasks it takes along with them, so a
// task ends, and leaves its registry, on the thread that lists it, without
// touching another executor's lock.
//
// Thread-safety, by member group:
//   executor thread only: the loop (lib/executor.cpp), the ring, the timer
//                         heap, runnext_streak_;
//   any thread:           ready() (it forwards to the remote queue when
//                         called from another thread), remote_, sleeping_,
//                         pending_blocking_, and the task registry (under
//                         its lock when there are several executors);
//   thieves too:          local_ (under queue_lock_ when shared_), queued_,
//                         runnext_, switches_.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <ringo/detail/backend_kind.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/intrusive_list.hpp>
#include <ringo/detail/posted_work.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/timer_heap.hpp>

namespace ringo::detail {

class runtime;

struct io_op;       // detail/io_request.hpp: only I/O code needs them
struct io_request;
class ring;         // lib/ring.hpp

// An executor's FIFO of runnable tasks.
using run_queue = intrusive_list<goroutine, &goroutine::run_link>;

// Signals caught by ringo's handler and not yet handled: bit signo - 1 is
// set by the handler (any thread, async-signal-safe), cleared by the
// executor that delivers them (lib/signals.cpp). Posted work for every
// executor: none sleeps while it is non-zero.
inline std::atomic<std::uint64_t> signals_pending{0};

// Runtimes that have ended (any thread): a timer's home executor is valid
// only while this count is what it was when the timer adopted it.
inline std::atomic<std::uint64_t> runtimes_ended{0};

class executor {
public:
    // Makes the executor's I/O backend: `backend` as make_ring (lib/ring.hpp)
    // takes it (the runtime passes executor 0's choice to the others).
    executor(runtime& rt, unsigned index, unsigned ring_entries, backend_kind backend);
    ~executor();
    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;

    // Makes parked task g runnable. Any thread. On its home thread, g goes to
    // the run-next slot (it runs as soon as the current task parks, as in Go's
    // goready), and the task it displaces to the back of the queue. From
    // any other thread it goes to the home's remote queue.
    void ready(goroutine* g) noexcept {
        g->state = task_state::runnable;
        executor* here = current_executor();
        if (this == here && !shared_) [[likely]] {
            goroutine* displaced = runnext_.load(std::memory_order_relaxed);
            runnext_.store(g, std::memory_order_relaxed);
            if (displaced != nullptr)
                local_.push_back(displaced);
        } else {
            ready_elsewhere(g, here, true);
        }
    }

    // Makes g runnable behind every task already queued (wait_group, timers).
    void ready_last(goroutine* g) noexcept {
        g->state = task_state::runnable;
        executor* here = current_executor();
        if (this == here && !shared_)
            local_.push_back(g);
        else
            ready_elsewhere(g, here, false);
    }

    // Makes the current task g runnable behind every runnable task (yield:
    // runtime.Gosched). The run-next slot keeps its place in front, as in Go,
    // and its starvation count starts again, so it is not demoted behind g.
    // Home thread.
    void ready_after_all(goroutine* g) noexcept {
        g->state = task_state::runnable;
        push_back_local(g);
        runnext_streak_ = 0;
    }

    runtime& rt() const noexcept { return rt_; }
    // A new task id, from a batch this executor takes from the runtime's
    // counter now and then (Go's per-P goidcache), so that threads spawning
    // at once do not share that counter's line. Executor thread.
    std::uint64_t new_task_id() noexcept;
    unsigned index() const noexcept { return index_; }
    std::uint64_t live_tasks() const noexcept { return live_.load(std::memory_order_relaxed); }

    // Registry of the live tasks whose home is here: add_task from the
    // thread that spawns the task (so num_tasks() counts it once go()
    // returns), remove_task from this executor's thread (a task ends at
    // home), adopt_tasks when a thief takes tasks; all under the registry's
    // lock whenever the runtime has several executors.
    void add_task(goroutine* g) noexcept;
    void remove_task(goroutine* g) noexcept;
    // Moves the registrations of `moved` (tasks that this executor, as a
    // thief, has taken from from's queues and not queued yet) from from's
    // registry to this one's, under both locks (taken in index order), so
    // that no reader sees a task twice or not at all. Executor thread.
    void adopt_tasks(executor& from, const run_queue& moved) noexcept;
    // Locks / unlocks the registry for a reader that needs several
    // registries at once (num_tasks, dump_tasks: every executor's, in index
    // order). Nothing when the runtime has one executor.
    void lock_registry() const noexcept {
        if (shared_)
            tasks_lock_.lock();
    }
    void unlock_registry() const noexcept {
        if (shared_)
            tasks_lock_.unlock();
    }
    // Calls f on every task listed here; the caller holds the lock.
    template <class F>
    void for_each_task_locked(F&& f) const {
        for (goroutine* g = all_.front(); g != nullptr; g = task_list::next(g))
            f(*g);
    }
    // Set before any task runs when the runtime has several executors: only
    // then can another thread read this executor's registry or steal from
    // its queue, and only then are they locked.
    void share() noexcept { shared_ = true; }
    bool shared() const noexcept { return shared_; }

    // Runnable tasks in the queue (not counting run-next), for thieves and
    // for the idle check. Any thread; a hint.
    std::uint32_t queued() const noexcept { return queued_.load(std::memory_order_seq_cst); }
    // True when this executor is asleep in its ring (any thread; a hint).
    bool asleep() const noexcept { return sleeping_.load(std::memory_order_seq_cst); }

    // Runs tasks until *main_done (executor 0) or the runtime stops. Returns
    // false if the runtime found that no task can ever run again (deadlock).
    // Executor thread.
    bool run_until(const bool* main_done);
    // Teardown, in three steps across all executors: drain_ring() on each
    // executor's own thread (cancels and drains every ring operation), then
    // destroy_tasks() for every executor, then detach_timers(). No task runs
    // anywhere during teardown.
    void drain_ring() noexcept;
    void destroy_tasks() noexcept;
    void detach_timers() noexcept;
    // Drops every queued wake-up (teardown: no task runs again).
    void forget_queues() noexcept;

    // io_uring access for I/O awaitables (executor thread only). submit()
    // queues one operation; its completion calls op->complete on this thread.
    // cancel() asks the kernel to cancel a submitted operation, whose own
    // completion still follows (with -ECANCELED or its real result).
    void submit(io_op* op, const io_request& r);
    void cancel(io_op* op);
    // Cancels every operation in flight on file descriptor fd (submitted at
    // once, so that fd may be closed right after).
    void cancel_fd(int fd);
    std::uint32_t pending_io() const noexcept;
    // The backend this executor's ring is: io_uring or epoll. Set once.
    backend_kind backend() const noexcept;

    // Timers armed here (sleeps included): num_timers(). Any thread.
    std::size_t timer_count() const noexcept { return armed_timers_.load(std::memory_order_relaxed); }

    // True if another thread has posted work (wake-ups, the mailbox, caught
    // signals) that this executor has not picked up yet. Any thread.
    bool has_posted() const noexcept {
        return remote_.load(std::memory_order_seq_cst) != nullptr ||
               mailbox_.load(std::memory_order_seq_cst) != nullptr ||
               signals_pending.load(std::memory_order_seq_cst) != 0;
    }
    // The mailbox: runs w->run(w) on this executor's thread. Any thread.
    void post(posted_work* w) noexcept;

    // Wakes the executor if it sleeps (any thread).
    void notify() noexcept;
    // The eventfd whose write always wakes the executor (a signal handler's
    // way in: write(2) is async-signal-safe). Set once.
    int wake_fd() const noexcept;

    // blocking() calls in flight whose task lives here (any thread).
    std::atomic<std::uint32_t> pending_blocking_{0};

private:
    friend class executor_loop;
    friend class timer;  // keeps the heap and the armed count (detail/timer.hpp)
    // Locks the registry only when other threads may read it.
    struct registry_guard {
        const executor& e;
        explicit registry_guard(const executor& ex) noexcept : e(ex) {
            if (e.shared_)
                e.tasks_lock_.lock();
        }
        ~registry_guard() {
            if (e.shared_)
                e.tasks_lock_.unlock();
        }
    };

    void ready_remote(goroutine* g) noexcept;
    // ready()/ready_last() when the queues are shared or the caller is not
    // this executor's thread (lib/executor.cpp).
    void ready_elsewhere(goroutine* g, executor* here, bool next) noexcept;
    // Queue operations, locked when shared_ (executor thread).
    void push_back_local(goroutine* g) noexcept;
    void ready_next_local(goroutine* g) noexcept;

    runtime& rt_;
    const unsigned index_;

    bool shared_ = false;                  // several executors: set once, before tasks run

    // The registry: any thread, under tasks_lock_ when shared_.
    mutable spinlock tasks_lock_;
    using task_list = intrusive_list<goroutine, &goroutine::all_link>;
    task_list all_;                        // live tasks whose home is here
    std::atomic<std::uint64_t> live_{0};   // tasks in all_; written under the lock, read by any thread

    // The run queue: the executor's thread and thieves, under queue_lock_
    // when shared_ (unlocked otherwise: nobody else can reach it).
    spinlock queue_lock_;
    run_queue local_;
    // local_'s length, written under queue_lock_, read by any thread without it.
    std::atomic<std::uint32_t> queued_{0};
    // The run-next task or null. The executor's thread stores and exchanges
    // it; a thief may take it with a compare-exchange (lib/executor.cpp).
    std::atomic<goroutine*> runnext_{nullptr};
    // Tasks this executor has resumed so far (its thread writes, thieves
    // read): unchanged over a while means it runs one task that long.
    std::atomic<std::uint64_t> switches_{0};

    // Executor thread only.
    unsigned runnext_streak_ = 0;   // run-next picks in a row (capped: see the loop)
    std::uint64_t next_id_ = 0;     // task ids of the batch taken last (new_task_id)
    std::uint64_t ids_end_ = 0;
    timer_heap timers_;
    ring* ring_;                    // owned; lib/ring.hpp

    // Any thread, under the lock of the timer that changes: timers armed
    // here (detail/timer.hpp).
    std::atomic<std::size_t> armed_timers_{0};

    // Any thread: Treiber stack of wake-ups from other threads.
    alignas(64) std::atomic<goroutine*> remote_{nullptr};
    std::atomic<posted_work*> mailbox_{nullptr};       // Treiber stack through next_posted
    std::atomic<bool> sleeping_{false};
};

// The two wake policies: every wake-up of a parked task goes through one of
// them, and never while a primitive's lock is held (collect the tasks under
// the lock, wake them after unlocking). Any thread.
//
// wake_now: g runs as soon as the waker parks (Go's goready into runnext):
// a hand-off the waker waits on - channel hand-offs, mutex grants, I/O
// completions.
inline void wake_now(goroutine* g) noexcept { g->where()->ready(g); }
// wake_in_turn: g runs after the tasks already runnable, in the order woken:
// many released at once or by the clock - wait_group, cond broadcast,
// semaphore grants, timers and sleeps.
inline void wake_in_turn(goroutine* g) noexcept { g->where()->ready_last(g); }

}  // namespace ringo::detail
