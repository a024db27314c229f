// lib/runtime_impl.hpp - the runtime object behind run() (private to lib/).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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

class runtime {
public:
    explicit runtime(const runtime_options& opts);
    ~runtime();

    executor& main_executor() noexcept { return *executors_.front(); }
    blocking_pool& pool() noexcept { return pool_; }
    std::uint64_t new_task_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    template <class F>
    void for_each_executor(F&& f) const {
        for (const auto& e : executors_)
            f(*e);
    }

    std::shared_ptr<signal_hub> signals;  // made by the first signals::notify

private:
    blocking_pool pool_;  // declared first: outlives the executors
    std::atomic<std::uint64_t> next_id_{1};
    std::vector<std::unique_ptr<executor>> executors_;
};

}  // namespace ringo::detail
