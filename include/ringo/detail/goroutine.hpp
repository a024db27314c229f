// ringo/detail/goroutine.hpp - the per-task record (Go's `g`).
//
// Every task started by run() or go() owns one goroutine record, stored in
// the promise of its root coroutine frame, so a task costs one allocation and
// waiting allocates nothing. The record is the unit the executors schedule:
// a parked task is resumed by handing its record to ready().
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <source_location>

#include <ringo/detail/intrusive_list.hpp>

namespace ringo::detail {

class executor;

// What a task is doing, for dump_tasks() and deadlock reports.
enum class task_state : std::uint8_t {
    runnable,
    running,
    chan_send,
    chan_receive,
    select,
    sleep,
    io,
    mutex,
    rw_mutex_lock,
    rw_mutex_rlock,
    wait_group,
    semaphore,
    cond,
    once,
    singleflight,
    errgroup,
    blocking,
    signal,
};

const char* to_string(task_state s) noexcept;

// A field its task writes while dump_tasks() may read it from another
// thread: a relaxed atomic (plain loads and stores on x86 and arm64) that
// reads and assigns like a T. The dump is a snapshot: it needs no order.
template <class T>
class relaxed {
public:
    relaxed(T v = T{}) noexcept : v_(v) {}
    relaxed& operator=(T v) noexcept {
        v_.store(v, std::memory_order_relaxed);
        return *this;
    }
    operator T() const noexcept { return v_.load(std::memory_order_relaxed); }
    T get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<T> v_;
};

struct goroutine {
    // The executor the task runs on, whose registry lists it. Set at spawn;
    // changed only while the task is queued, runnable and unpinned (a thief
    // takes it and its registration: executor.hpp's invariant), so a parked
    // task's home is stable for whoever wakes it, and a task ends on the
    // thread whose registry lists it. Relaxed: the hand-over of the record
    // (queue lock, wake-up) orders it; the atomic only lets dump_tasks() read
    // it from anywhere.
    std::atomic<executor*> home{nullptr};
    std::uint64_t id = 0;          // 1 is main
    std::source_location spawn_site;
    std::coroutine_handle<> root_frame;  // the root coroutine (detail/root.hpp)

    // The registry's list of live tasks (under its registry lock).
    list_hook<goroutine> all_link;

    // Written by the task itself when it parks (a store of three words), read by
    // whoever resumes it. Ownership passes with the wake-up: the waker hands the
    // record to ready(), which queues it exactly once.
    list_hook<goroutine> run_link;         // run queue; run_link.next also links the remote queue
    std::coroutine_handle<> resume_point;  // innermost suspended frame of the task
    relaxed<std::source_location> await_site;  // where it parked
    relaxed<task_state> state = task_state::runnable;

    // Non-zero while the task must stay on its executor: a ring operation of
    // its own is in flight (pin_while_in_flight), or it was placed for life
    // (main, go_pinned). Written by the task itself while it runs (or by its
    // spawner before it is queued); read by thieves while it is queued, which
    // the queue's lock orders after the write.
    std::uint32_t pinned = 0;

    executor* where() const noexcept { return home.load(std::memory_order_relaxed); }
};

// The executor and task running on this thread (null outside run()). Out of
// line on purpose: a coroutine may resume on another thread than the one it
// suspended on, and a compiler may cache a thread_local's address across a
// suspension point when the access is inlined into a coroutine body. Every
// read of the current thread's state from code that may be inlined into a
// coroutine goes through these calls, never through a thread_local.
[[gnu::noinline]] executor* current_executor() noexcept;
[[gnu::noinline]] goroutine* current_goroutine() noexcept;

// Throws panic_error naming `what` when called outside a ringo task.
[[noreturn]] void outside_run(const char* what);

inline goroutine* current_task(const char* what) {
    goroutine* g = current_goroutine();
    if (g == nullptr) [[unlikely]]
        outside_run(what);
    return g;
}

// Records that the current task parks at `site` in `state`, to be resumed at
// `h`. Call from await_suspend before publishing the task to a waker.
inline goroutine* park(std::coroutine_handle<> h, task_state state, const std::source_location& site,
                       const char* what) {
    goroutine* g = current_task(what);
    g->resume_point = h;
    g->await_site = site;
    g->state = state;
    return g;
}

}  // namespace ringo::detail

namespace ringo::detail {

// Keeps task g on its executor for the guard's life: an I/O operation holds
// one from before its submission until after its completion, so that it is
// submitted, cancelled and completed on one ring (executor.hpp). The task's
// own thread.
class pin_while_in_flight {
public:
    explicit pin_while_in_flight(goroutine& g) noexcept : g_(g) { ++g_.pinned; }
    ~pin_while_in_flight() { --g_.pinned; }
    pin_while_in_flight(const pin_while_in_flight&) = delete;
    pin_while_in_flight& operator=(const pin_while_in_flight&) = delete;

private:
    goroutine& g_;
};

}  // namespace ringo::detail
