// lib/epoll_backend.hpp - the epoll backend (private to lib/; see ring.hpp),
// for kernels and sandboxes that refuse io_uring.
//
// It emulates completions: submit() performs the operation at once,
// non-blocking (recv/send with MSG_DONTWAIT; accept4 and connect on sockets
// that are O_NONBLOCK: net makes them so on this backend; read and write
// once poll() says the descriptor is ready). A result is queued; -EAGAIN (connect: EINPROGRESS) parks the
// operation on its descriptor's waiter list, in FIFO order per direction
// (in: recv, accept, read; out: send, connect), and the descriptor is in the
// epoll set, level-triggered, for the directions that have waiters. When
// epoll reports it ready the waiters of that direction are tried again (a
// connect reads SO_ERROR). Queued results are delivered from reap(), poll()
// and wait_one(), as CQEs are, never inside submit() or cancel().
//
// cancel(op): a parked operation leaves its list and completes with
// -ECANCELED; one whose result is queued keeps it (the real result wins: no
// byte read, no accepted connection is lost).
//
// Registration lifetime, safe with descriptor reuse: a descriptor is in the
// epoll set exactly while it has a parked operation here, and leaves it
// (EPOLL_CTL_DEL) as soon as its last one is resumed or cancelled - before
// that operation's completion is delivered. The owner of a descriptor closes
// it only after its operations' completions (net's socket_state, signals'
// hub) or right after cancel_fd(), which removes it at once; so the set
// never holds a closed or reused number, and an event always names a live
// descriptor we wait on. (A stale event from the same epoll_wait batch only
// causes a retry, which returns -EAGAIN and parks again.) Each executor has
// its own set: operations on one socket may wait on several executors.
//
// Timers: epoll_pwait2 (nanoseconds) where the kernel has it, else
// epoll_wait with the timeout rounded up to the next millisecond (late by
// under 1 ms, never early). Wake-ups: the eventfd is in the set for good;
// send_wake() always returns false.
//
// Thread-safety as ring.hpp: the executor's thread only, except wake_fd()
// and wake_by_eventfd().
#pragma once

#include <sys/epoll.h>

#include <unordered_map>
#include <vector>

#include "ring.hpp"

namespace ringo::detail {

class epoll_backend final : public ring {
public:
    epoll_backend();
    ~epoll_backend() override;

    void submit(io_op* op, const io_request& r) override;
    void cancel(io_op* op) override;
    void cancel_fd(int fd) override;
    void cancel_all() override;
    void poll() noexcept override;
    void wait(const std::chrono::nanoseconds* timeout) noexcept override;
    unsigned reap() noexcept override;
    void wait_one() noexcept override;
    bool send_wake(ring&) noexcept override { return false; }

private:
    struct waiter {
        io_op* op;
        io_request req;
    };
    // A descriptor's parked operations: side[0] wants EPOLLIN, side[1]
    // EPOLLOUT. `events` is what the epoll set holds for it (0: not in it).
    struct fd_entry {
        std::vector<waiter> side[2];
        std::uint32_t events = 0;
    };
    struct result {
        io_op* op;
        int res;
    };

    void park(io_op* op, const io_request& r);
    // Brings fd's epoll registration in line with its waiters (ADD, MOD or
    // DEL); a descriptor epoll refuses fails its waiters with that error.
    void update(int fd, fd_entry& e) noexcept;
    // Tries the waiters of one direction again; queues the finished ones.
    void retry(fd_entry& e, int side) noexcept;
    void on_ready(int fd, std::uint32_t events) noexcept;
    void fail_all(fd_entry& e, int res) noexcept;
    // One epoll wait (timeout: null = forever) and the retries it calls for.
    void gather(const std::chrono::nanoseconds* timeout) noexcept;
    fd_entry* entry(int fd) noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < fds_.size() ? &fds_[static_cast<std::size_t>(fd)] : nullptr;
    }

    int epfd_ = -1;
    bool pwait2_ = true;                       // epoll_pwait2 works (until the kernel says ENOSYS)
    std::vector<fd_entry> fds_;                // by descriptor number; grown on demand
    std::unordered_map<io_op*, int> parked_;   // parked operation -> its descriptor
    std::vector<result> done_;                 // results not yet delivered, oldest first
    std::vector<result> delivering_;           // reap()'s batch (kept to reuse its storage)
    epoll_event events_[128];
};

}  // namespace ringo::detail
