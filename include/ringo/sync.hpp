// ringo/sync.hpp - Go's sync package for tasks: wait_group (more to come).
//
// Every primitive is awaitable (a blocked task never blocks its thread),
// thread-safe, and allocation-free to wait on: the awaiter is the wait node.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <source_location>
#include <type_traits>
#include <utility>

#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/errors.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {

// A parked task in a primitive's FIFO (singly linked; guarded by its lock).
struct sync_waiter {
    sync_waiter* next = nullptr;
    goroutine* g = nullptr;
};

class sync_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    void push_back(sync_waiter* w) noexcept {
        w->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = w;
        tail_ = w;
    }
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = head_;
        if (w != nullptr && (head_ = w->next) == nullptr)
            tail_ = nullptr;
        return w;
    }
    // Takes the whole queue (to wake after unlocking).
    sync_waiter* take_all() noexcept {
        tail_ = nullptr;
        return std::exchange(head_, nullptr);
    }
    bool remove(sync_waiter* w) noexcept {
        sync_waiter* prev = nullptr;
        for (sync_waiter* it = head_; it != nullptr; prev = it, it = it->next)
            if (it == w) {
                (prev != nullptr ? prev->next : head_) = w->next;
                if (tail_ == w)
                    tail_ = prev;
                return true;
            }
        return false;
    }

private:
    sync_waiter* head_ = nullptr;
    sync_waiter* tail_ = nullptr;
};

// Wakes every waiter of a list taken with take_all().
void wake_list(sync_waiter* list) noexcept;

}  // namespace detail

// sync.WaitGroup: waits for a collection of tasks to finish.
//   ringo::wait_group wg;
//   for (...) wg.go(work);      // or wg.add(1); go(...); and done() in the task
//   co_await wg.wait();
// Thread-safe. done() touches nothing of the wait_group after it has released
// the waiters, so a waiter may destroy the wait_group as soon as wait() returns.
class wait_group {
public:
    wait_group() = default;
    wait_group(const wait_group&) = delete;
    wait_group& operator=(const wait_group&) = delete;

    // Adds n (may be negative) to the counter; at zero, releases every waiter.
    // Throws panic_error if the counter would go negative.
    void add(int n);
    void done() { add(-1); }

    // co_await wg.wait(): until the counter is zero.
    [[nodiscard]] auto wait(std::source_location site = std::source_location::current()) {
        struct [[nodiscard]] awaiter {
            wait_group& wg;
            std::source_location site;
            detail::sync_waiter node;
            bool queued = false;

            awaiter(wait_group& w, std::source_location at) : wg(w), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (queued) {  // destroyed while parked (runtime teardown)
                    std::lock_guard lock(wg.lock_);
                    wg.waiters_.remove(&node);
                }
            }
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                std::lock_guard lock(wg.lock_);
                if (wg.count_ == 0)
                    return false;
                node.g = detail::park(h, detail::task_state::wait_group, site, "wait_group::wait");
                wg.waiters_.push_back(&node);
                queued = true;
                return true;
            }
            void await_resume() noexcept { queued = false; }
        };
        return awaiter{*this, site};
    }

    // add(1), then starts f (moved into the new task's frame) as a task that
    // calls done() when it ends, even by an exception. f returns a task or not.
    template <class F>
    void go(F f, std::source_location site = std::source_location::current()) {
        add(1);
        detail::spawn(body(this, std::move(f)), site);
    }

private:
    template <class F>
    static detail::root body(wait_group* wg, F f) {
        struct done_on_exit {
            wait_group* wg;
            ~done_on_exit() { wg->done(); }
        } guard{wg};
        using R = std::invoke_result_t<F&>;
        if constexpr (detail::is_task_v<R>) {
            R t = std::invoke(f);
            co_await std::move(t);
        } else {
            std::invoke(f);
        }
    }

    detail::spinlock lock_;
    std::int64_t count_ = 0;           // guarded by lock_
    detail::sync_queue waiters_;       // guarded by lock_
};

}  // namespace ringo
