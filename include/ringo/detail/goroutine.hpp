// ringo/detail/goroutine.hpp - the per-task record (Go's `g`).
//
// Every task started by run() or go() owns one goroutine record, stored in
// the promise of its root coroutine frame, so a task costs one allocation and
// waiting allocates nothing. The record is the unit the executors schedule:
// a parked task is resumed by handing its record to ready().
#pragma once

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

struct goroutine {
    // Set once, at spawn.
    executor* home = nullptr;      // the executor this task lives on, for life
    std::uint64_t id = 0;          // 1 is main
    std::source_location spawn_site;
    std::coroutine_handle<> root_frame;  // the root coroutine (detail/root.hpp)

    // The home executor's list of live tasks (under its registry lock).
    list_hook<goroutine> all_link;

    // Written by the task itself when it parks (a store of three words), read by
    // whoever resumes it. Ownership passes with the wake-up: the waker hands the
    // record to ready(), which queues it exactly once.
    list_hook<goroutine> run_link;         // run queue; run_link.next also links the remote queue
    std::coroutine_handle<> resume_point;  // innermost suspended frame of the task
    std::source_location await_site;       // where it parked
    task_state state = task_state::runnable;
};

// The executor and task running on this thread (null outside run()).
extern thread_local constinit executor* this_executor;
extern thread_local constinit goroutine* this_goroutine;

// Throws panic_error naming `what` when called outside a ringo task.
[[noreturn]] void outside_run(const char* what);

inline goroutine* current_task(const char* what) {
    goroutine* g = this_goroutine;
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
