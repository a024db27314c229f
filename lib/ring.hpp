// lib/ring.hpp - one executor's I/O backend (private to lib/).
//
// `ring` is the interface the executor, net and signals speak: they submit
// io_requests (an IORING_OP_* opcode and its operands) and receive each
// operation's completion through io_op::complete(op, res, flags), on the
// owning executor's thread, from reap(), poll() or wait_one() - never inside
// submit() or cancel(). Two implementations:
//   uring_backend (lib/uring_backend.cpp)  io_uring: the kernel runs the
//                                          operations; the fast path.
//   epoll_backend (lib/epoll_backend.cpp)  readiness: tries each operation
//                                          at once, non-blocking, and again
//                                          when epoll says its fd is ready.
// make_ring() picks one (runtime_options::backend, RINGO_BACKEND); all the
// executors of a runtime use the backend the first one got.
//
// Thread-safety: every member is for the owning executor's thread, except
// wake_fd() and wake_by_eventfd() (any thread, async-signal-safe) and
// send_wake(), which the *sending* executor calls on its own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <ringo/detail/io_request.hpp>
#include <ringo/detail/backend_kind.hpp>

namespace ringo::detail {

class ring {
public:
    virtual ~ring();
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    backend_kind kind() const noexcept { return kind_; }

    // Queues one operation; its completion calls op->complete on this thread.
    virtual void submit(io_op* op, const io_request& r) = 0;
    // Cancels op: its own completion still follows, with -ECANCELED, or its
    // real result if it completed first.
    virtual void cancel(io_op* op) = 0;
    // Cancels every operation on fd, at once (fd may be closed next).
    virtual void cancel_fd(int fd) = 0;
    // Teardown: cancels everything in flight and takes no new operation.
    // Then call wait_one() until idle().
    virtual void cancel_all() = 0;
    bool idle() const noexcept { return pending_ == 0 && !wake_armed_; }
    // Operations submitted and not yet completed.
    std::uint32_t pending() const noexcept { return pending_; }

    // Submits what is queued and dispatches what has completed, without
    // blocking.
    virtual void poll() noexcept = 0;
    // Submits and sleeps until a completion, a wake-up, or `timeout` has
    // passed (no timeout: until a completion or wake-up); never returns
    // before `timeout` unless woken. Call reap() next.
    virtual void wait(const std::chrono::nanoseconds* timeout) noexcept = 0;
    // Dispatches every completion the backend holds. Returns how many.
    virtual unsigned reap() noexcept = 0;
    // Teardown: waits for at least one completion and dispatches.
    virtual void wait_one() noexcept = 0;

    // Wake-ups. The eventfd: a write always wakes the executor's thread.
    int wake_fd() const noexcept { return wake_fd_; }
    void wake_by_eventfd() noexcept;
    // Wakes `target` with a message from this backend, on this backend's
    // thread; false if either cannot (the caller then writes target's
    // eventfd). Only io_uring can (IORING_OP_MSG_RING).
    virtual bool send_wake(ring& target) noexcept = 0;

protected:
    // Makes the wake-up eventfd and sets this thread's timer slack to 1 ns
    // (timers have nanosecond resolution; restored by the destructor).
    explicit ring(backend_kind kind);

    std::uint32_t pending_ = 0;  // submitted operations not yet completed
    bool wake_armed_ = false;    // io_uring: the wake-up read is in flight
    bool tearing_down_ = false;  // cancel_all() was called

private:
    backend_kind kind_;
    int wake_fd_ = -1;  // set once
    int old_timer_slack_ = -1;
    int creator_ = 0;   // the thread that set the timer slack
};

// Makes the backend `kind` asks for: automatic tries io_uring and falls back
// to epoll when the kernel refuses io_uring (EPERM: seccomp or sysctl
// kernel.io_uring_disabled; ENOSYS; EACCES). Throws backend_unavailable
// (runtime_impl.hpp) when io_uring is forced and refused.
std::unique_ptr<ring> make_ring(backend_kind kind, unsigned entries);

}  // namespace ringo::detail
