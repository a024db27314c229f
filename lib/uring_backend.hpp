// lib/uring_backend.hpp - the io_uring backend (private to lib/; see ring.hpp).
//
// Owns everything io_uring: setup and probing, submission, the dispatch of
// completions to the io_op objects that live in the awaiting coroutine
// frames, the wake-up read on the eventfd and IORING_OP_MSG_RING wake-ups
// between rings. Thread-safety as ring.hpp says.
#pragma once

#include <liburing.h>

#include "ring.hpp"

namespace ringo::detail {

class uring_backend final : public ring {
public:
    // Sets the ring up with the cheapest flags the kernel accepts. Throws
    // backend_unavailable (runtime_impl.hpp) when the kernel refuses io_uring.
    explicit uring_backend(unsigned entries);
    ~uring_backend() override;

    void submit(io_op* op, const io_request& r) override;
    void cancel(io_op* op) override;
    void cancel_fd(int fd) override;
    void cancel_all() override;
    void poll() noexcept override;
    void wait(const std::chrono::nanoseconds* timeout) noexcept override;
    unsigned reap() noexcept override;
    void wait_one() noexcept override;
    bool send_wake(ring& target) noexcept override;

private:
    io_uring_sqe* sqe();
    void arm_wake();

    io_uring uring_{};
    std::uint64_t wake_buf_ = 0;  // the wake-up read's buffer
    bool msg_ring_ = false;       // set once: can send and receive MSG_RING wake-ups
};

}  // namespace ringo::detail
