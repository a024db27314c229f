// ringo/sync.hpp - Go's sync package (and x/sync's semaphore and
// singleflight) for tasks: wait_group, mutex, rw_mutex, cond, once,
// semaphore, singleflight.
//
// Every primitive is awaitable (a blocked task never blocks its thread),
// thread-safe, and allocation-free to wait on: the awaiter is the wait node.
// Misuse (unlocking an unlocked mutex, a negative counter, ...) is a
// panic_error with Go's message.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <source_location>
#include <type_traits>
#include <utility>

#include <ringo/context.hpp>
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
    bool flag = false;  // a primitive-specific verdict set by the waker (once: "your turn to run")
};

class sync_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    void push_back(sync_waiter* w) noexcept {
        w->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = w;
        tail_ = w;
    }
    void push_front(sync_waiter* w) noexcept {
        w->next = head_;
        head_ = w;
        if (tail_ == nullptr)
            tail_ = w;
    }
    // Inserts w after every waiter not greater than it (stable, O(1) when w is last).
    template <class Less>
    void insert_sorted(sync_waiter* w, Less less) noexcept {
        if (tail_ == nullptr || !less(w, tail_)) {
            push_back(w);
            return;
        }
        sync_waiter** link = &head_;
        while (*link != nullptr && !less(w, *link))
            link = &(*link)->next;
        w->next = *link;
        *link = w;
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
                node.g = detail::park(h, detail::task_state::wait_group, site, "ringo::wait_group::wait");
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
            detail::sync_waiter node;
            bool awaited = false;
            bool queued = false;

            awaiter(mutex& mu, std::source_location at) : m(mu), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (!awaited)
                    detail::never_awaited("ringo::mutex::lock() (write: auto guard = co_await mu.lock();)");
                if (queued)
                    m.forget(&node);
            }
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                awaited = true;
                std::lock_guard lock(m.lock_);
                if (!m.locked_) {
                    m.locked_ = true;
                    return false;
                }
                node.g = detail::park(h, detail::task_state::mutex, site, "ringo::mutex::lock");
                m.waiters_.push_back(&node);
                queued = true;
                return true;
            }
            guard await_resume() noexcept {
                queued = false;  // the unlocker handed us the lock
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
    void forget(detail::sync_waiter* w) noexcept;

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
        detail::sync_waiter node;
        bool awaited = false;
        bool queued = false;

        awaiter(rw_mutex& mu, std::source_location at) : m(mu), site(at) {}
        awaiter(const awaiter&) = delete;
        ~awaiter() {
            if (!awaited)
                detail::never_awaited("ringo::rw_mutex::lock()/lock_shared() (write: auto guard = co_await rw.lock();)");
            if (queued)
                m.forget(&node, Exclusive);
        }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            awaited = true;
            std::lock_guard lock(m.lock_);
            if (Exclusive ? m.free_for_writer() : m.free_for_reader()) {
                Exclusive ? void(m.writer_ = true) : void(++m.readers_);
                return false;
            }
            node.g = detail::park(h, detail::task_state::mutex, site,
                                  Exclusive ? "ringo::rw_mutex::lock" : "ringo::rw_mutex::lock_shared");
            (Exclusive ? m.writers_q_ : m.readers_q_).push_back(&node);
            queued = true;
            return true;
        }
        Guard await_resume() noexcept {
            queued = false;
            return Guard(m);
        }
    };

    // Guarded by lock_.
    bool free_for_writer() const noexcept { return !writer_ && readers_ == 0; }
    bool free_for_reader() const noexcept { return !writer_ && writers_q_.empty(); }
    void forget(detail::sync_waiter* w, bool exclusive) noexcept;

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
            detail::sync_waiter node;
            bool awaited = false;

            awaiter(cond& cv, std::source_location at) : c(cv), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (!awaited)
                    detail::never_awaited("ringo::cond::wait()");
                c.forget(&node);
            }
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) {
                awaited = true;
                node.g = detail::park(h, detail::task_state::cond, site, "ringo::cond::wait");
                {
                    std::lock_guard lock(c.lock_);
                    c.waiters_.push_back(&node);
                }
                c.m_.unlock();
            }
            void await_resume() const noexcept {}  // the mutex is ours again
        };
        return awaiter{*this, site};
    }
    void signal();     // wakes one waiter (it resumes holding the mutex)
    void broadcast();  // wakes all

private:
    void forget(detail::sync_waiter* w) noexcept;

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
            detail::sync_waiter node;
            bool mine = false;
            bool queued = false;

            awaiter(once& on, std::source_location at) : o(on), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (queued)
                    o.forget(&node);
            }
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
                node.g = detail::park(h, detail::task_state::once, site, "ringo::once::call");
                o.waiters_.push_back(&node);
                queued = true;
                return true;
            }
            bool await_resume() noexcept {
                if (queued) {
                    queued = false;
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
            using R = std::invoke_result_t<F&>;
            if constexpr (detail::is_task_v<R>) {
                R t = std::invoke(f);
                co_await std::move(t);
            } else {
                std::invoke(f);
            }
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
    void forget(detail::sync_waiter* w) noexcept;

    enum class state { idle, running, done };
    std::atomic<bool> done_{false};
    detail::spinlock lock_;
    state state_ = state::idle;    // guarded by lock_
    detail::sync_queue waiters_;   // guarded by lock_
};

namespace detail {
struct sem_waiter {
    sem_waiter* prev = nullptr;
    sem_waiter* next = nullptr;
    bool queued = false;
    std::int64_t n = 0;
    goroutine* g = nullptr;
    select_state* sel = nullptr;
    int case_index = 0;
};
struct sem_acquire_case;
}  // namespace detail

// x/sync/semaphore.Weighted: FIFO, so a large request is not starved by
// small ones. Thread-safe.
class semaphore {
public:
    explicit semaphore(std::int64_t n) : size_(n) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // co_await sem.acquire(ctx, n): {} once n permits are held, or ctx.err()
    // if ctx is done first - then no permit is taken. n > size can never
    // succeed: it waits only for ctx (forever for one that is never done)
    // and does not make any other acquire wait behind it.
    [[nodiscard]] task<std::error_code> acquire(context ctx, std::int64_t n = 1,
                                                std::source_location site = std::source_location::current());
    // Takes n permits without waiting; false (nothing taken) if it would wait.
    bool try_acquire(std::int64_t n = 1) noexcept;
    // Returns n permits; panic_error if more are released than are held.
    void release(std::int64_t n = 1);

private:
    friend struct detail::case_node<detail::sem_acquire_case>;
    // Guarded by lock_.
    bool try_take(std::int64_t n) noexcept;
    void push(detail::sem_waiter* w) noexcept;
    void unlink(detail::sem_waiter* w) noexcept;
    // Grants waiters from the front while they fit; returns them to wake.
    detail::sem_waiter* grant_locked() noexcept;

    detail::spinlock lock_;
    const std::int64_t size_;
    std::int64_t cur_ = 0;                  // guarded by lock_
    detail::sem_waiter* head_ = nullptr;    // guarded by lock_
    detail::sem_waiter* tail_ = nullptr;    // guarded by lock_
};

namespace detail {

// A semaphore acquisition as a select case, so that it can race ctx.done().
struct sem_acquire_case {
    using result_type = std::monostate;
    semaphore* s;
    std::int64_t n;
};

template <>
struct case_node<sem_acquire_case> {
    static constexpr bool is_recv = false;
    semaphore* s;
    sem_waiter w;

    explicit case_node(sem_acquire_case c) noexcept : s(c.s) { w.n = c.n; }
    spinlock* lock() const noexcept { return &s->lock_; }
    bool poll(goroutine*&) noexcept { return s->try_take(w.n); }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        w.g = g;
        w.sel = sel;
        w.case_index = index;
        s->push(&w);
    }
    void unlink() noexcept { s->unlink(&w); }
    void check() const noexcept {}
};

}  // namespace detail

// x/sync/singleflight: co_await sf.run(key, fn) runs fn (moved into the
// task's frame) once per key at a time; callers that arrive while it runs
// wait and share its result (a copy each) or its exception. forget(key) lets
// the next call run fn again even if one is in flight.
//   int v = co_await sf.run("k", fetch);
//   auto [v, shared] = co_await sf.run_shared("k", fetch);   // Go's v, err, shared := g.Do(...)
// As for every awaited callable, bind a capturing lambda to a named local
// first (g++ 12 destroys one written inside the co_await twice).
template <class T>
class singleflight {
public:
    // What run_shared() gives: the value, and Go's `shared` - true if the
    // result was given to more than one caller (the one that ran fn
    // included, when others joined it).
    struct result {
        T value;
        bool shared;
    };

private:
    struct call {
        bool done = false;                 // guarded by the singleflight's lock
        int dups = 0;                      // callers that joined; guarded by the singleflight's lock
        detail::sync_queue waiters;        // guarded by the singleflight's lock
        std::optional<T> value;            // written by the leader before done
        std::exception_ptr error;
    };

    auto wait_for(call& c, std::source_location site) {
        struct [[nodiscard]] awaiter {
            singleflight& sf;
            call& c;
            std::source_location site;
            detail::sync_waiter node;
            bool queued = false;

            awaiter(singleflight& s, call& cl, std::source_location at) : sf(s), c(cl), site(at) {}
            awaiter(const awaiter&) = delete;
            ~awaiter() {
                if (queued) {
                    std::lock_guard lock(sf.lock_);
                    c.waiters.remove(&node);
                }
            }
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                std::lock_guard lock(sf.lock_);
                if (c.done)
                    return false;
                node.g = detail::park(h, detail::task_state::once, site, "ringo::singleflight::run");
                c.waiters.push_back(&node);
                queued = true;
                return true;
            }
            void await_resume() noexcept { queued = false; }
        };
        return awaiter{*this, c, site};
    }


public:
    // co_await sf.run(key, fn): fn's result (or exception), from this call
    // or from the one in flight for key.
    template <class F>
    [[nodiscard]] task<T> run(std::string key, F fn, std::source_location site = std::source_location::current()) {
        return do_call<T>(std::move(key), std::move(fn), site);
    }

    // As run(), and also says whether the result was shared (Go's Do).
    template <class F>
    [[nodiscard]] task<result> run_shared(std::string key, F fn,
                                          std::source_location site = std::source_location::current()) {
        return do_call<result>(std::move(key), std::move(fn), site);
    }

    // The next run(key) starts a new call instead of joining the one in flight.
    void forget(const std::string& key) {
        std::lock_guard lock(lock_);
        calls_.erase(key);
    }

private:
    // Out is T (run) or result (run_shared).
    template <class R>
    static R make(const T& value, bool shared) {
        if constexpr (std::is_same_v<R, result>)
            return result{value, shared};
        else
            return value;
    }

    template <class Out, class F>
    task<Out> do_call(std::string key, F fn, std::source_location site) {
        std::shared_ptr<call> c;
        bool leader = false;
        {
            std::lock_guard lock(lock_);
            auto [it, inserted] = calls_.try_emplace(key);
            if (inserted)
                it->second = std::make_shared<call>();
            else
                ++it->second->dups;
            c = it->second;
            leader = inserted;
        }
        if (!leader) {
            co_await wait_for(*c, site);
            if (c->error)
                std::rethrow_exception(c->error);
            co_return make<Out>(*c->value, true);
        }
        try {
            using R = std::invoke_result_t<F&>;
            if constexpr (detail::is_task_v<R>) {
                R t = std::invoke(fn);
                c->value.emplace(co_await std::move(t));
            } else {
                c->value.emplace(std::invoke(fn));
            }
        } catch (...) {
            c->error = std::current_exception();
        }
        detail::sync_waiter* waiters;
        bool shared;
        {
            std::lock_guard lock(lock_);
            if (auto it = calls_.find(key); it != calls_.end() && it->second == c)
                calls_.erase(it);
            c->done = true;
            shared = c->dups > 0;  // final: nobody joins a done call
            waiters = c->waiters.take_all();
        }
        detail::wake_list(waiters);
        if (c->error)
            std::rethrow_exception(c->error);
        co_return make<Out>(*c->value, shared);
    }

    detail::spinlock lock_;
    std::unordered_map<std::string, std::shared_ptr<call>> calls_;  // guarded by lock_
};

}  // namespace ringo
