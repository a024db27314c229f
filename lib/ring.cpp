// What both backends share, and the choice between them (see ring.hpp).
#include "ring.hpp"

#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "epoll_backend.hpp"
#include "runtime_impl.hpp"
#include "uring_backend.hpp"

namespace ringo::detail {

ring::ring(backend_kind kind) : kind_(kind) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0)
        throw std::system_error(errno, std::system_category(), "ringo: eventfd");
    // Timers have nanosecond resolution: do not let the kernel add its
    // default 50 us of slack to the executor's sleep (restored at the end).
    creator_ = ::gettid();
    old_timer_slack_ = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
}

ring::~ring() {
    ::close(wake_fd_);
    if (old_timer_slack_ > 0 && ::gettid() == creator_)
        ::prctl(PR_SET_TIMERSLACK, old_timer_slack_, 0, 0, 0);
}

void ring::wake_by_eventfd() noexcept { (void)::eventfd_write(wake_fd_, 1); }

std::unique_ptr<ring> make_ring(backend_kind kind, unsigned entries) {
    if (kind == backend_kind::epoll)
        return std::make_unique<epoll_backend>();
    try {
        return std::make_unique<uring_backend>(entries);
    } catch (const backend_unavailable& e) {
        int err = e.code().value();
        bool refused = err == EPERM || err == ENOSYS || err == EACCES;
        if (kind == backend_kind::io_uring || !refused)
            throw;
    }
    return std::make_unique<epoll_backend>();  // automatic, io_uring refused: silently, as Go and tokio do
}

}  // namespace ringo::detail
