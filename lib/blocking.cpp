// Helper threads for ringo::blocking().
#include <pthread.h>
#include <signal.h>

#include "runtime_impl.hpp"

namespace ringo::detail {

void submit_blocking(executor& home, std::function<void()> work) { home.rt().pool().submit(std::move(work)); }

void blocking_pool::submit(std::function<void()> work) {
    std::lock_guard lock(st_->mu);
    st_->queue.push_back(std::move(work));
    if (st_->idle == 0) {
        auto w = std::make_shared<worker>();
        w->thread = std::thread(work_loop, st_, w);
        st_->workers.push_back(std::move(w));
    } else {
        st_->cv.notify_one();
    }
}

void blocking_pool::work_loop(std::shared_ptr<state> st, std::shared_ptr<worker> self) {
    sigset_t all;  // signals are for the executors (signals::notify), never for helpers
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock lock(st->mu);
    for (;;) {
        if (!st->queue.empty()) {
            auto work = std::move(st->queue.front());
            st->queue.pop_front();
            self->busy = true;
            lock.unlock();
            work();
            work = nullptr;
            lock.lock();
            self->busy = false;
            continue;
        }
        if (st->stop)
            return;
        ++st->idle;
        st->cv.wait(lock);
        --st->idle;
    }
}

blocking_pool::~blocking_pool() {
    std::vector<std::shared_ptr<worker>> workers;
    bool work_left = false;
    {
        std::lock_guard lock(st_->mu);
        st_->stop = true;
        workers.swap(st_->workers);
        for (auto& w : workers)
            work_left = work_left || w->busy;
        work_left = work_left || !st_->queue.empty();
        st_->cv.notify_all();
    }
    // Calls already submitted still run to completion (their tasks are gone;
    // their results are dropped). They may block for long, so the threads
    // then finish on their own, sharing the pool's state; idle ones exit now.
    for (auto& w : workers) {
        if (work_left)
            w->thread.detach();
        else
            w->thread.join();
    }
}

}  // namespace ringo::detail
