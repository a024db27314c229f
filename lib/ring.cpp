// One executor's io_uring (see ring.hpp).
#include "ring.hpp"

#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime_impl.hpp"

namespace ringo::detail {

namespace {

// user_data tags that are not io_op pointers.
constexpr std::uint64_t tag_ignore = 0;  // cancel requests: their CQE carries nothing
constexpr std::uint64_t tag_wake = 1;    // the read on the wake-up eventfd
constexpr std::uint64_t tag_msg = 2;     // a wake-up sent by another ring with IORING_OP_MSG_RING

// IORING_OP_MSG_RING into a DEFER_TASKRUN ring needs Linux 6.2.
bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (::uname(&u) != 0)
        return false;
    int ma = 0, mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

[[noreturn]] void ring_refused(int err) {
    std::string msg = "ringo: io_uring is not available: io_uring_setup failed: ";
    msg += std::strerror(err);
    if (err == EPERM || err == ENOSYS || err == EACCES)
        msg += " (the kernel or a seccomp filter refuses io_uring: in Docker, run with --security-opt seccomp="
               "PROFILE.json allowing io_uring_setup, io_uring_enter and io_uring_register; on the host, "
               "sysctl kernel.io_uring_disabled must be 0; ringo needs Linux >= 5.19)";
    throw backend_unavailable(err, std::move(msg));
}

}  // namespace

ring::ring(unsigned entries) {
    // Cheapest first; each flag the kernel rejects (EINVAL) is dropped.
    const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    unsigned used = 0;
    for (unsigned flags : flag_sets) {
        io_uring_params p{};
        p.flags = flags;
        rc = io_uring_queue_init_params(entries, &uring_, &p);
        used = flags;
        if (rc != -EINVAL)
            break;
    }
    if (rc < 0)
        ring_refused(-rc);
    if (io_uring_probe* probe = io_uring_get_probe_ring(&uring_)) {
        msg_ring_ = io_uring_opcode_supported(probe, IORING_OP_MSG_RING) &&
                    ((used & IORING_SETUP_DEFER_TASKRUN) == 0 || kernel_at_least(6, 2));
        io_uring_free_probe(probe);
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        int err = errno;
        io_uring_queue_exit(&uring_);
        throw std::system_error(err, std::system_category(), "ringo: eventfd");
    }
    // Timers have nanosecond resolution: do not let the kernel add its
    // default 50 us of slack to the ring's wait (restored at the end).
    creator_ = ::gettid();
    old_timer_slack_ = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    arm_wake();
}

ring::~ring() {
    io_uring_queue_exit(&uring_);
    ::close(wake_fd_);
    if (old_timer_slack_ > 0 && ::gettid() == creator_)
        ::prctl(PR_SET_TIMERSLACK, old_timer_slack_, 0, 0, 0);
}

io_uring_sqe* ring::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&uring_);
    while (s == nullptr) {  // queue full: hand what we have to the kernel
        io_uring_submit(&uring_);
        s = io_uring_get_sqe(&uring_);
    }
    return s;
}

void ring::arm_wake() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(s, tag_wake);
    wake_armed_ = true;
}

void ring::submit(io_op* op, const io_request& r) {
    io_uring_sqe* s = sqe();
    io_uring_prep_rw(r.opcode, s, r.fd, reinterpret_cast<const void*>(r.addr), r.len, r.off);
    s->rw_flags = static_cast<__kernel_rwf_t>(r.op_flags);
    io_uring_sqe_set_data(s, op);
    ++pending_;
}

void ring::cancel(io_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel(s, op, 0);
    io_uring_sqe_set_data64(s, tag_ignore);
}

void ring::cancel_fd(int fd) {
    if (tearing_down_)
        return;  // drained: nothing is in flight, and nobody reaps what a cancel would post
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, tag_ignore);
    io_uring_submit(&uring_);  // now: the caller closes fd right after
}

void ring::cancel_all() {
    tearing_down_ = true;
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(s, tag_ignore);
}

unsigned ring::reap() noexcept {
    unsigned head = 0, n = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&uring_, head, cqe) {
        ++n;
        std::uint64_t tag = cqe->user_data;
        int res = cqe->res;
        std::uint32_t flags = cqe->flags;
        if (tag == tag_ignore || tag == tag_msg)
            continue;  // a cancel's or a MSG_RING's completion: it woke us, nothing more
        if (tag == tag_wake) {
            wake_armed_ = false;
            if (!tearing_down_)
                arm_wake();
            continue;
        }
        if ((flags & IORING_CQE_F_MORE) == 0)
            --pending_;
        auto* op = reinterpret_cast<io_op*>(tag);
        op->complete(op, res, flags);
    }
    io_uring_cq_advance(&uring_, n);
    return n;
}

void ring::poll() noexcept {
    if (pending_ == 0 && io_uring_sq_ready(&uring_) == 0)
        return;
    io_uring_submit_and_get_events(&uring_);
    reap();
}

void ring::wait(const std::chrono::nanoseconds* timeout) noexcept {
    io_uring_cqe* cqe = nullptr;
    if (timeout == nullptr) {
        io_uring_submit_and_wait_timeout(&uring_, &cqe, 1, nullptr, nullptr);
    } else if (timeout->count() > 0) {
        auto ns = timeout->count();
        __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
        io_uring_submit_and_wait_timeout(&uring_, &cqe, 1, &ts, nullptr);
    }
}

void ring::wait_one() noexcept {
    io_uring_submit_and_wait(&uring_, 1);
    reap();
}

void ring::wake_by_eventfd() noexcept { (void)::eventfd_write(wake_fd_, 1); }

bool ring::send_wake(ring& target) noexcept {
    if (!msg_ring_ || !target.msg_ring_ || tearing_down_)
        return false;
    io_uring_sqe* s = sqe();
    io_uring_prep_msg_ring(s, target.uring_.ring_fd, 0, tag_msg, 0);
    io_uring_sqe_set_data64(s, tag_ignore);  // the sender's own completion
    io_uring_submit(&uring_);
    return true;
}

}  // namespace ringo::detail
