// lib/runtime_impl.hpp - the runtime object behind run() (private to lib/).
#pragma once

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <ringo/detail/executor.hpp>
#include <ringo/runtime.hpp>

namespace ringo::detail {

// Helper threads for blocking(): started on demand, one per concurrent call
// (as Go starts an M per blocking syscall), kept while idle, stopped with the
// runtime. Threads still busy with an abandoned call then are detached.
class blocking_pool {
public:
    blocking_pool() = default;
    ~blocking_pool();
    void submit(std::function<void()> work);

private:
    struct worker {
        std::thread thread;
        bool busy = false;  // guarded by state::mu
    };
    struct state {
        std::mutex mu;
        std::condition_variable cv;
        std::deque<std::function<void()>> queue;
        std::vector<std::shared_ptr<worker>> workers;
        unsigned idle = 0;
        bool stop = false;
    };
    static void work_loop(std::shared_ptr<state> st, std::shared_ptr<worker> self);
    std::shared_ptr<state> st_ = std::make_shared<state>();
};

class signal_hub;

// The first line of a deadlock_error's what().
inline constexpr const char* deadlock_header = "all tasks are asleep - deadlock!";

// Thrown when no executor can start (io_uring forced and refused, or a bad
// RINGO_BACKEND); what() is
// one line saying why and what to do.
class backend_unavailable : public std::system_error {
public:
    backend_unavailable(int err, std::string msg)
        : std::system_error(err, std::system_category()), msg_(std::move(msg)) {}
    const char* what() const noexcept override { return msg_.c_str(); }

private:
    std::string msg_;
};

// The executors of one run(): executor 0 runs on the thread that called
// run(), the others on threads of their own (runtime_options::threads).
class runtime {
public:
    explicit runtime(const runtime_options& opts);
    ~runtime();

    executor& main_executor() noexcept { return *executors_.front(); }
    blocking_pool& pool() noexcept { return pool_; }
    // Task ids: unique, never reused, 1 for main. An executor takes them in
    // batches of task_id_batch (executor::new_task_id); other threads one
    // at a time. Any thread.
    static constexpr std::uint64_t task_id_batch = 16;
    std::uint64_t take_task_ids(std::uint64_t n) noexcept { return next_id_.fetch_add(n, std::memory_order_relaxed); }

    template <class F>
    void for_each_executor(F&& f) const {
        for (const auto& e : executors_)
            f(*e);
    }

    // Executor i (0 <= i < executors()). Any thread while the runtime runs.
    executor& executor_at_index(unsigned i) const noexcept { return *executors_[i]; }

    // Wakes an idle executor, if one sleeps, to take the work `from` has just
    // queued (Go's wakep). Call after the push. Any executor thread.
    void offer_work(executor& from) noexcept;

    // Stops every executor's loop (main returned, or deadlock). Any thread.
    void stop() noexcept;
    bool stopping() const noexcept { return stopping_.load(std::memory_order_seq_cst); }
    bool deadlocked() const noexcept { return deadlocked_.load(std::memory_order_seq_cst); }
    // Set once no task will run again and the tasks are being destroyed:
    // wake-ups are dropped from then on. Any thread.
    bool tearing_down() const noexcept { return tearing_down_.load(std::memory_order_relaxed); }

    // Deadlock detection across executors. An executor with nothing to run
    // and no wake-up source of its own (I/O, timers, blocking calls) calls
    // enter_quiescent() before it sleeps, and leave_quiescent() when it wakes,
    // before it takes anything posted to it. When every executor is quiescent
    // and nothing is posted to any of them (no wake-up in flight), nothing
    // can ever run again: enter_quiescent() declares the deadlock and
    // returns true. Two phases: the count says every executor is quiescent;
    // then the queues are scanned, and the scan counts only if no executor
    // left quiescence meanwhile. Leaving decrements the count and then bumps
    // the activity counter, which the checker read before its own increment:
    // a leave that the count did not show yet always shows in the activity
    // counter. A wake-up is posted before its sender can go quiescent, so the
    // scan sees every wake-up that nobody has taken.
    bool enter_quiescent() noexcept;
    void leave_quiescent() noexcept {
        quiescent_.fetch_sub(1, std::memory_order_seq_cst);
        activity_.fetch_add(1, std::memory_order_seq_cst);  // after the count: see enter_quiescent
    }
    unsigned executors() const noexcept { return static_cast<unsigned>(executors_.size()); }
    // The backend every executor runs on (io_uring or epoll). Set once, by
    // the first executor, before the others start.
    backend_kind backend() const noexcept { return backend_; }

    // Runs main to completion (or deadlock) and tears everything down;
    // returns false on deadlock, with the task dump in `report`.
    bool run(root main, const bool& main_done, const std::source_location& site, std::string& report);

    // Executor 0's signal mask when run() started. Set once.
    const sigset_t& caller_mask() const noexcept { return caller_mask_; }

    // The signal hub, made by the first signals::notify (any thread).
    std::shared_ptr<signal_hub> signal_hub_or_null() {
        std::lock_guard lock(signals_mu_);
        return signals_;
    }
    template <class Make>
    signal_hub& signal_hub_or_make(Make make) {
        std::lock_guard lock(signals_mu_);
        if (!signals_)
            signals_ = make();
        return *signals_;
    }

private:
    void thread_main(unsigned index, unsigned ring_entries);

    blocking_pool pool_;  // declared first: outlives the executors
    // Alone on its cache line (with the alignas below): the executor loops
    // read executors_ and stopping_ all the time.
    alignas(64) std::atomic<std::uint64_t> next_id_{1};
    alignas(64) std::vector<std::unique_ptr<executor>> executors_;  // fixed once run() starts
    std::vector<std::thread> threads_;
    backend_kind backend_ = backend_kind::automatic;  // set once: executor 0's
    std::atomic<bool> stopping_{false};
    std::atomic<bool> tearing_down_{false};
    std::atomic<bool> deadlocked_{false};
    std::atomic<int> quiescent_{0};
    std::atomic<std::uint64_t> activity_{0};  // bumped by every leave_quiescent()

    // Start-up and teardown rendezvous with the executor threads.
    std::mutex phase_mu_;
    std::condition_variable phase_cv_;
    int phase_ = 0;            // 1: go; 2: tasks destroyed, threads may exit
    unsigned ready_ = 0;       // threads whose executor exists
    unsigned drained_ = 0;     // threads whose ring is drained
    std::exception_ptr start_error_;

    sigset_t caller_mask_;
    std::mutex signals_mu_;
    std::shared_ptr<signal_hub> signals_;  // guarded by signals_mu_
};

// Signal forwarding. While a runtime runs, a handler catches SIGQUIT (when
// its action was the default one: Go's dump and exit 2) and every watched
// signal, on whatever thread it lands: it sets the signal's bit in
// signals_pending (bit signo - 1) and wakes executor 0, whose loop calls
// handle_pending_signals. Executor 0 blocks the watched signals, which then
// reach the hub's signalfd instead; the other runtime threads block them all.
// (signals_pending itself is in detail/executor.hpp: it counts as posted work.)
void install_signal_forwarding(runtime& rt) noexcept;
void uninstall_signal_forwarding(const runtime& rt) noexcept;
bool forwarding_owned_by(const runtime& rt) noexcept;
// Installs the forwarding handler for signo, saving the previous action.
bool forward_signal(int signo, struct sigaction* previous) noexcept;
// Delivers each pending signal to the program's watch; an unwatched SIGQUIT
// prints the task dump and exits 2.
void handle_pending_signals(runtime& rt) noexcept;

}  // namespace ringo::detail
