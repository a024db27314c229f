// lib/ring.hpp - one executor's io_uring (private to lib/).
//
// The ring owns everything io_uring: setup and probing, submission, the
// dispatch of completions to the io_op objects that live in the awaiting
// coroutine frames, the wake-up read on an eventfd and IORING_OP_MSG_RING
// wake-ups between rings. The executor above it knows nothing of SQEs.
//
// Thread-safety: every member is for the owning executor's thread, except
// wake_fd() and wake_by_eventfd() (any thread, async-signal-safe) and
// send_wake(), which the *sending* executor calls on its own thread.
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>

#include <ringo/detail/io_request.hpp>

namespace ringo::detail {

class ring {
public:
    // Sets the ring up with the cheapest flags the kernel accepts. Throws
    // backend_unavailable (runtime_impl.hpp) when the kernel refuses io_uring.
    explicit ring(unsigned entries);
    ~ring();
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    // Queues one operation; its completion calls op->complete on this thread.
    void submit(io_op* op, const io_request& r);
    // Asks the kernel to cancel op; op's own completion still follows.
    void cancel(io_op* op);
    // Cancels every operation on fd, submitted at once (fd may be closed next).
    void cancel_fd(int fd);
    // Teardown: cancels everything in flight, the wake-up read included, and
    // stops re-arming it. Then call wait_one() until idle().
    void cancel_all();
    bool idle() const noexcept { return pending_ == 0 && !wake_armed_; }
    // Operations submitted and not yet completed.
    std::uint32_t pending() const noexcept { return pending_; }

    // Submits what is queued and dispatches what has completed, without
    // blocking.
    void poll() noexcept;
    // Submits and sleeps until a completion, a wake-up, or `timeout` has
    // passed (no timeout: until a completion or wake-up). Call reap() next.
    void wait(const std::chrono::nanoseconds* timeout) noexcept;
    // Dispatches every completion the ring holds. Returns how many.
    unsigned reap() noexcept;
    // Teardown: waits for at least one completion and dispatches.
    void wait_one() noexcept;

    // Wake-ups. The eventfd: a write always wakes the ring's thread.
    int wake_fd() const noexcept { return wake_fd_; }
    void wake_by_eventfd() noexcept;
    // Wakes `target` with a message from this ring (IORING_OP_MSG_RING),
    // on this ring's thread; false if either ring cannot (the caller then
    // writes target's eventfd).
    bool send_wake(ring& target) noexcept;

private:
    io_uring_sqe* sqe();
    void arm_wake();

    io_uring uring_{};
    int wake_fd_ = -1;             // set once
    std::uint64_t wake_buf_ = 0;   // the wake-up read's buffer
    bool wake_armed_ = false;
    bool tearing_down_ = false;
    bool msg_ring_ = false;        // set once: can send and receive MSG_RING wake-ups
    std::uint32_t pending_ = 0;    // submitted operations not yet completed
    int old_timer_slack_ = -1;
    int creator_ = 0;              // the thread that set the timer slack
};

}  // namespace ringo::detail
