// ringo/detail/io_op.hpp - a ring operation that can race a context.
//
// io_slot is one submitted operation, living in the awaiting task's frame.
// Its fields (under `lock`) move through:
//   in flight              completed == false, nobody parked
//   in flight, awaited     g set and either waiting (io_wait) or sel set (as
//                          an io_case in a select with ctx.done())
//   completed              completed == true, res = the CQE's result
// on_complete, on the home executor's thread, makes it completed exactly
// once: it wakes a task parked in io_wait, or claims the select and wins it
// for the io_case (a select already won by ctx.done() is left alone). The
// frame is never freed before that (at shutdown the executor drains the
// ring first). If ctx won the select, the task asks the kernel to cancel
// (executor::cancel) and waits in io_wait for the completion all the same,
// whose real result wins if the operation completed anyway.
#pragma once

#include <coroutine>
#include <cstdint>
#include <mutex>
#include <source_location>
#include <variant>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/io_request.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/waiter.hpp>
#include <ringo/select.hpp>

namespace ringo::detail {

struct io_slot : io_op {
    spinlock lock;
    // Guarded by lock.
    bool completed = false;
    int res = 0;
    goroutine* g = nullptr;          // parked task, if any
    select_state* sel = nullptr;     // while a select case
    int case_index = 0;
    bool waiting = false;            // parked in io_wait

    io_slot() noexcept { complete = &on_complete; }

    static void on_complete(io_op* self, int result, std::uint32_t) noexcept {
        auto* s = static_cast<io_slot*>(self);
        goroutine* to_wake = nullptr;
        {
            std::lock_guard l(s->lock);
            s->completed = true;
            s->res = result;
            if (s->waiting) {
                s->waiting = false;
                to_wake = s->g;
            } else if (s->sel != nullptr && s->sel->claim()) {
                s->sel->winner = s->case_index;
                to_wake = s->g;
            }
            s->sel = nullptr;
        }
        if (to_wake != nullptr)
            wake_now(to_wake);
    }
};

// The operation as a select case (completes when its CQE arrives).
struct io_case {
    using result_type = std::monostate;
    io_slot* op;
};

template <>
struct case_node<io_case> {
    io_slot* op;
    explicit case_node(io_case c) noexcept : op(c.op) {}
    spinlock* lock() const noexcept { return &op->lock; }
    bool poll(goroutine*&) const noexcept { return op->completed; }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        op->g = g;
        op->sel = sel;
        op->case_index = index;
    }
    void unlink() noexcept { op->sel = nullptr; }
    std::monostate result() const noexcept { return {}; }
};

// co_await io_wait{op}: until the operation has completed.
struct [[nodiscard]] io_wait {
    io_slot& op;
    std::source_location site;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        std::lock_guard l(op.lock);
        if (op.completed)
            return false;
        op.g = park(h, task_state::io, site, "ringo I/O");
        op.waiting = true;
        return true;
    }
    int await_resume() const noexcept { return op.res; }
};

}  // namespace ringo::detail
