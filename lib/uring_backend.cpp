// One executor's io_uring (see uring_backend.hpp).
#include "uring_backend.hpp"

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
               "sysctl kernel.io_uring_disabled must be 0; ringo needs Linux >= 5.19 for io_uring; the automatic "
               "backend runs on epoll instead)";
    throw backend_unavailable(err, std::move(msg));
}

}  // namespace

uring_backend::uring_backend(unsigned entries) : ring(backend_kind::io_uring) {
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
    arm_wake();
}

uring_backend::~uring_backend() { io_uring_queue_exit(&uring_); }

io_uring_sqe* uring_backend::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&uring_);
    while (s == nullptr) {  // queue full: hand what we have to the kernel
        io_uring_submit(&uring_);
        s = io_uring_get_sqe(&uring_);
    }
    return s;
}

void uring_backend::arm_wake() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd(), &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(s, tag_wake);
    wake_armed_ = true;
}

void uring_backend::submit(io_op* op, const io_request& r) {
    io_uring_sqe* s = sqe();
    io_uring_prep_rw(r.opcode, s, r.fd, reinterpret_cast<const void*>(r.addr), r.len, r.off);
    s->rw_flags = static_cast<__kernel_rwf_t>(r.op_flags);
    io_uring_sqe_set_data(s, op);
    ++pending_;
}

void uring_backend::cancel(io_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel(s, op, 0);
    io_uring_sqe_set_data64(s, tag_ignore);
}

void uring_backend::cancel_fd(int fd) {
    if (tearing_down_)
        return;  // drained: nothing is in flight, and nobody reaps what a cancel would post
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, tag_ignore);
    io_uring_submit(&uring_);  // now: the caller closes fd right after
}

void uring_backend::cancel_all() {
    tearing_down_ = true;
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(s, tag_ignore);
}

unsigned uring_backend::reap() noexcept {
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

void uring_backend::poll() noexcept {
    if (pending_ == 0 && io_uring_sq_ready(&uring_) == 0)
        return;
    io_uring_submit_and_get_events(&uring_);
    reap();
}

void uring_backend::wait(const std::chrono::nanoseconds* timeout) noexcept {
    io_uring_cqe* cqe = nullptr;
    if (timeout == nullptr) {
        io_uring_submit_and_wait_timeout(&uring_, &cqe, 1, nullptr, nullptr);
    } else if (timeout->count() > 0) {
        auto ns = timeout->count();
        __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
        io_uring_submit_and_wait_timeout(&uring_, &cqe, 1, &ts, nullptr);
    }
}

void uring_backend::wait_one() noexcept {
    io_uring_submit_and_wait(&uring_, 1);
    reap();
}

bool uring_backend::send_wake(ring& target_ring) noexcept {
    // Every executor of a runtime has the same backend (make_ring's caller).
    if (target_ring.kind() != backend_kind::io_uring)
        return false;
    auto& target = static_cast<uring_backend&>(target_ring);
    if (!msg_ring_ || !target.msg_ring_ || tearing_down_)
        return false;
    io_uring_sqe* s = sqe();
    io_uring_prep_msg_ring(s, target.uring_.ring_fd, 0, tag_msg, 0);
    io_uring_sqe_set_data64(s, tag_ignore);  // the sender's own completion
    io_uring_submit(&uring_);
    return true;
}

}  // namespace ringo::detail
