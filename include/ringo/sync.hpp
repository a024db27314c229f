// ringo/sync.hpp - Go's sync package for tasks: wait_group, mutex, rw_mutex,
// cond, once; and, from x/sync, semaphore (ringo/semaphore.hpp) and
// singleflight (ringo/singleflight.hpp), included here.
//
// Every primitive is awaitable (a blocked task never blocks its thread) and
// thread-safe. Waiting on wait_group, mutex, rw_mutex and cond allocates
// nothing: the awaiter is the wait node. once::call, semaphore::acquire and
// singleflight::run are tasks (one frame each, from ringo's frame pool), and
// singleflight allocates a shared record per key in flight.
// Misuse (unlocking an unlocked mutex, a negative counter, ...) is a
// panic_error with Go's message.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <source_location>
#include <utility>

#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/invoke.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/sync_waiter.hpp>
#include <ringo/errors.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/singleflight.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {

// Owns a lock taken on M: calls (m.*Unlock)() when destroyed, unless
// released. Move-only. The guard type of mutex and rw_mutex.
template <class M, void (M::*Unlock)()>
class [[nodiscard]] unlock_guard {
public:
    explicit unlock_guard(M& m) noexcept : m_(&m) {}
    unlock_guard(unlock_guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    unlock_guard& operator=(unlock_guard&& o) noexcept {
        if (this != &o) {
            unlock();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    ~unlock_guard() { unlock(); }
    // Unlocks now (once).
    void unlock() {
        if (m_ != nullptr)
            (std::exchange(m_, nullptr)->*Unlock)();
    }
    // Keeps the lock held; the caller unlocks it by hand.
    M* release() noexcept { return std::exchange(m_, nullptr); }

private:
    M* m_;
};

// An awaitable that was never awaited where that silently does nothing
// (e.g. mutex::lock() handed to std::lock_guard): print and terminate.
[[noreturn]] void never_awaited(const char* what) noexcept;

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
            detail::sync_waiter node;  // unlinks itself if destroyed while queued

            awaiter(wait_group& w, std::source_location at) : wg(w), site(at) {}
            awaiter(const awaiter&) = delete;
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                std::lock_guard lock(wg.lock_);
                if (wg.count_ == 0)
                    return false;
                node.park_in(h, detail::task_state::wait_group, site, "ringo::wait_group::wait", wg.lock_, wg.waiters_);
                return true;
            }
            void await_resume() noexcept { node.dequeued(); }
        };
        return awaiter{*this, site};
    }

    // add(1), then starts f (moved into the new task's frame) as a task that
    // calls done() when it ends, even by an exception. f returns a task or not.
    // Throws panic_error outside run() (and then adds nothing).
    template <class F>
    void go(F f, std::source_location site = std::source_location::current()) {
        (void)detail::current_executor("ringo::wait_group::go");
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
        (void)co_await detail::invoke_awaited(f);
    }

    detail::spinlock lock_;
    std::int64_t count_ = 0;           // guarded by lock_
    detail::sync_queue waiters_;       // guarded by lock_
};


// sync.Mutex, fair: unlock hands the lock straight to the longest waiter
// (Go's starvation mode, always on), so a waiter is never overtaken by tasks
// that arrive later - in particular one blocked over 1 ms always gets it.
//   auto guard = co_await mu.lock();   // unlocked when guard goes out of scope
// Thread-safe. lock() must be awaited: passing it to std::lock_guard (which
// would lock nothing) terminates with a message naming the call.
class mutex {
public:
    mutex() = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    // co_await mu.lock(): the lock, as a guard.
    [[nodiscard]] auto lock(std::source_location site = std::source_location::current()) {
        struct [[nodiscard]] awaiter {
            mutex& m;
            std::source_location site;
            detail::sync_waiter node;  // unlinks itself if destroyed while queued
            bool awaited = false;

            awaiter(mutex& mu, std::source_location at) : m(mu), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (!awaited)
                    detail::never_awaited("ringo::mutex::lock() (write: auto guard = co_await mu.lock();)");
            }
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                awaited = true;
                std::lock_guard lock(m.lock_);
                if (!m.locked_) {
                    m.locked_ = true;
                    return false;
                }
                node.park_in(h, detail::task_state::mutex, site, "ringo::mutex::lock", m.lock_, m.waiters_);
                return true;
            }
            guard await_resume() noexcept {
                node.dequeued();  // the unlocker handed us the lock (or we never queued)
                return guard(m);
            }
        };
        return awaiter{*this, site};
    }

    // Takes the lock if it is free. Any thread.
    bool try_lock() noexcept {
        std::lock_guard lock(lock_);
        if (locked_)
            return false;
        locked_ = true;
        return true;
    }

    // Releases the lock, handing it to the first waiter if there is one.
    // Throws panic_error if the mutex is not locked. Any thread.
    void unlock();

    // Owns the locked mutex; unlocks it when destroyed (release() keeps it locked).
    using guard = detail::unlock_guard<mutex, &mutex::unlock>;

private:
    friend class cond;
    // Makes w the owner now if the mutex is free (true), else queues it.
    bool acquire_or_queue(detail::sync_waiter* w) noexcept;

    detail::spinlock lock_;
    bool locked_ = false;          // guarded by lock_
    detail::sync_queue waiters_;   // guarded by lock_
};

// sync.RWMutex with writer preference: once a writer waits, new readers
// queue behind it; when a writer unlocks, the readers that queued meanwhile
// all get in before the next writer, so neither side starves.
class rw_mutex {
public:
    rw_mutex() = default;
    rw_mutex(const rw_mutex&) = delete;
    rw_mutex& operator=(const rw_mutex&) = delete;

    // co_await rw.lock(): exclusive; co_await rw.lock_shared(): shared.
    [[nodiscard]] auto lock(std::source_location site = std::source_location::current()) {
        return awaiter<guard, true>(*this, site);
    }
    [[nodiscard]] auto lock_shared(std::source_location site = std::source_location::current()) {
        return awaiter<shared_guard, false>(*this, site);
    }
    bool try_lock() noexcept;
    bool try_lock_shared() noexcept;
    void unlock();         // panic_error if not write-locked
    void unlock_shared();  // panic_error if not read-locked

    using guard = detail::unlock_guard<rw_mutex, &rw_mutex::unlock>;
    using shared_guard = detail::unlock_guard<rw_mutex, &rw_mutex::unlock_shared>;

private:
    template <class Guard, bool Exclusive>
    struct [[nodiscard]] awaiter {
        rw_mutex& m;
        std::source_location site;
        detail::sync_waiter node;  // unlinks itself if destroyed while queued
        bool awaited = false;

        awaiter(rw_mutex& mu, std::source_location at) : m(mu), site(at) {}
        awaiter(const awaiter&) = delete;
        ~awaiter() {
            if (!awaited)
                detail::never_awaited("ringo::rw_mutex::lock()/lock_shared() (write: auto guard = co_await rw.lock();)");
        }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            awaited = true;
            std::lock_guard lock(m.lock_);
            if (Exclusive ? m.free_for_writer() : m.free_for_reader()) {
                Exclusive ? void(m.writer_ = true) : void(++m.readers_);
                return false;
            }
            if constexpr (Exclusive)
                node.park_in(h, detail::task_state::rw_mutex_lock, site, "ringo::rw_mutex::lock", m.lock_,
                             m.writers_q_);
            else
                node.park_in(h, detail::task_state::rw_mutex_rlock, site, "ringo::rw_mutex::lock_shared", m.lock_,
                             m.readers_q_);
            return true;
        }
        Guard await_resume() noexcept {
            node.dequeued();
            return Guard(m);
        }
    };

    // Guarded by lock_.
    bool free_for_writer() const noexcept { return !writer_ && readers_ == 0; }
    bool free_for_reader() const noexcept { return !writer_ && writers_q_.empty(); }

    detail::spinlock lock_;
    int readers_ = 0;              // guarded by lock_
    bool writer_ = false;          // guarded by lock_
    detail::sync_queue readers_q_;  // guarded by lock_
    detail::sync_queue writers_q_;  // guarded by lock_
};

// sync.Cond on a ringo::mutex. wait() must be called with the mutex locked:
// it unlocks it, waits for signal()/broadcast(), and returns with the mutex
// locked again (the waiter is moved straight into the mutex's queue, so it
// never wakes up only to block again).
class cond {
public:
    explicit cond(mutex& m) noexcept : m_(m) {}
    cond(const cond&) = delete;
    cond& operator=(const cond&) = delete;

    [[nodiscard]] auto wait(std::source_location site = std::source_location::current()) {
        struct [[nodiscard]] awaiter {
            cond& c;
            std::source_location site;
            // In the cond's queue, then maybe the mutex's (signal moves it):
            // unlinks itself from either if destroyed while queued.
            detail::sync_waiter node;
            bool awaited = false;

            awaiter(cond& cv, std::source_location at) : c(cv), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (!awaited)
                    detail::never_awaited("ringo::cond::wait()");
            }
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) {
                awaited = true;
                {
                    std::lock_guard lock(c.lock_);
                    node.park_in(h, detail::task_state::cond, site, "ringo::cond::wait", c.lock_, c.waiters_);
                }
                c.m_.unlock();
            }
            void await_resume() noexcept { node.dequeued(); }  // the mutex is ours again
        };
        return awaiter{*this, site};
    }
    void signal();     // wakes one waiter (it resumes holding the mutex)
    void broadcast();  // wakes all

private:
    mutex& m_;
    detail::spinlock lock_;
    detail::sync_queue waiters_;  // guarded by lock_
};

// sync.Once with std::call_once's failure rule: co_await once.call(f) runs f
// (moved into the task's frame) the first time; concurrent callers wait for
// it. If f throws, that caller gets the exception and the next caller (a
// waiting one first) tries again. f may return a task or not.
class once {
public:
    once() = default;
    once(const once&) = delete;
    once& operator=(const once&) = delete;

private:
    // co_await enter(): true if the caller must run f now.
    auto enter(std::source_location site) {
        struct [[nodiscard]] awaiter {
            once& o;
            std::source_location site;
            detail::sync_waiter node;  // unlinks itself if destroyed while queued
            bool mine = false;
            bool queued = false;

            awaiter(once& on, std::source_location at) : o(on), site(at) {}
            awaiter(const awaiter&) = delete;
            bool await_ready() const noexcept { return o.done(); }
            bool await_suspend(std::coroutine_handle<> h) {
                std::lock_guard lock(o.lock_);
                if (o.state_ == state::done)
                    return false;
                if (o.state_ == state::idle) {
                    o.state_ = state::running;
                    mine = true;
                    return false;
                }
                node.park_in(h, detail::task_state::once, site, "ringo::once::call", o.lock_, o.waiters_);
                queued = true;
                return true;
            }
            bool await_resume() noexcept {
                if (queued) {
                    node.dequeued();
                    mine = node.flag;
                }
                return mine;
            }
        };
        return awaiter{*this, site};
    }

public:

    template <class F>
    [[nodiscard]] task<void> call(F f, std::source_location site = std::source_location::current()) {
        bool mine = co_await enter(site);
        if (!mine)
            co_return;
        try {
            (void)co_await detail::invoke_awaited(f);
        } catch (...) {
            finish(false);
            throw;
        }
        finish(true);
    }

    // True once a call has completed.
    bool done() const noexcept { return done_.load(std::memory_order_acquire); }

private:
    void finish(bool ok) noexcept;

    enum class state { idle, running, done };
    std::atomic<bool> done_{false};
    detail::spinlock lock_;
    state state_ = state::idle;    // guarded by lock_
    detail::sync_queue waiters_;   // guarded by lock_
};

}  // namespace ringo
