// The epoll backend (see epoll_backend.hpp).
#include "epoll_backend.hpp"

#include <liburing.h>  // the IORING_OP_* opcodes of io_request
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <system_error>

namespace ringo::detail {

namespace {

// Which list an operation waits on: 0 (EPOLLIN) or 1 (EPOLLOUT).
int side_of(const io_request& r) noexcept {
    return r.opcode == IORING_OP_SEND || r.opcode == IORING_OP_WRITE || r.opcode == IORING_OP_CONNECT ? 1 : 0;
}

int result_of(long rc) noexcept { return rc >= 0 ? static_cast<int>(rc) : -errno; }

// READ and WRITE take any descriptor, which may be blocking (a pipe): they
// go ahead only once poll() says fd is ready, so they never block the
// executor (unless another process drains fd between the two calls).
bool ready_now(int fd, short events) noexcept {
    pollfd p{fd, events, 0};
    int n;
    while ((n = ::poll(&p, 1, 0)) < 0 && errno == EINTR) {
    }
    return n != 0;  // ready, or an error the operation itself reports
}

// Performs r once, without blocking: its result (-errno on failure), or
// -EAGAIN to wait for readiness. `again`: a retry after readiness (a connect
// then reads its outcome instead of connecting anew).
int attempt(const io_request& r, bool again) noexcept {
    void* addr = reinterpret_cast<void*>(r.addr);
    for (;;) {
        int res = -EOPNOTSUPP;
        switch (r.opcode) {
        case IORING_OP_RECV:
            res = result_of(::recv(r.fd, addr, r.len, static_cast<int>(r.op_flags) | MSG_DONTWAIT));
            break;
        case IORING_OP_SEND:
            res = result_of(::send(r.fd, addr, r.len, static_cast<int>(r.op_flags) | MSG_DONTWAIT));
            break;
        case IORING_OP_READ:
            if (!ready_now(r.fd, POLLIN))
                return -EAGAIN;
            res = result_of(::read(r.fd, addr, r.len));
            break;
        case IORING_OP_WRITE:
            if (!ready_now(r.fd, POLLOUT))
                return -EAGAIN;
            res = result_of(::write(r.fd, addr, r.len));
            break;
        case IORING_OP_ACCEPT:
            res = result_of(::accept4(r.fd, static_cast<sockaddr*>(addr), reinterpret_cast<socklen_t*>(r.off),
                                      static_cast<int>(r.op_flags)));
            break;
        case IORING_OP_CONNECT:
            if (again) {
                int err = 0;
                socklen_t len = sizeof err;
                if (::getsockopt(r.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    return -errno;
                return -err;
            }
            res = result_of(::connect(r.fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(r.off)));
            if (res == -EINPROGRESS)
                return -EAGAIN;
            break;
        default:
            break;
        }
        if (res == -EWOULDBLOCK)
            return -EAGAIN;
        if (res != -EINTR)
            return res;
    }
}

}  // namespace

epoll_backend::epoll_backend() : ring(backend_kind::epoll) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0)
        throw std::system_error(errno, std::system_category(), "ringo: epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd();
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd(), &ev) != 0) {
        int err = errno;
        ::close(epfd_);
        throw std::system_error(err, std::system_category(), "ringo: epoll_ctl");
    }
}

epoll_backend::~epoll_backend() { ::close(epfd_); }

void epoll_backend::submit(io_op* op, const io_request& r) {
    ++pending_;
    int res = tearing_down_ ? -ECANCELED : attempt(r, false);
    if (res != -EAGAIN) {
        done_.push_back({op, res});
        return;
    }
    park(op, r);
}

void epoll_backend::park(io_op* op, const io_request& r) {
    if (r.fd < 0) {
        done_.push_back({op, -EBADF});
        return;
    }
    auto index = static_cast<std::size_t>(r.fd);
    if (index >= fds_.size())
        fds_.resize(index + 1 + index / 2);
    fd_entry& e = fds_[index];
    e.side[side_of(r)].push_back({op, r});
    parked_.emplace(op, r.fd);
    update(r.fd, e);
}

void epoll_backend::update(int fd, fd_entry& e) noexcept {
    std::uint32_t want = (e.side[0].empty() ? 0u : std::uint32_t(EPOLLIN)) |
                         (e.side[1].empty() ? 0u : std::uint32_t(EPOLLOUT));
    if (want == e.events)
        return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    int how = e.events == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (::epoll_ctl(epfd_, how, fd, &ev) != 0 && how != EPOLL_CTL_DEL) {
        // Not pollable (or out of memory): its operations fail with the reason.
        int err = errno;
        if (how == EPOLL_CTL_MOD)
            (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
        e.events = 0;
        fail_all(e, -err);
        return;
    }
    e.events = want;
}

void epoll_backend::fail_all(fd_entry& e, int res) noexcept {
    for (auto& side : e.side) {
        for (const waiter& w : side) {
            parked_.erase(w.op);
            done_.push_back({w.op, res});
        }
        side.clear();
    }
}

void epoll_backend::retry(fd_entry& e, int side) noexcept {
    std::vector<waiter>& list = e.side[side];
    std::size_t kept = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
        int res = attempt(list[i].req, true);
        if (res == -EAGAIN) {
            list[kept++] = list[i];
            continue;
        }
        parked_.erase(list[i].op);
        done_.push_back({list[i].op, res});
    }
    list.resize(kept);
}

void epoll_backend::on_ready(int fd, std::uint32_t events) noexcept {
    fd_entry* e = entry(fd);
    if (e == nullptr || e->events == 0)
        return;  // stale: it left the set earlier in this batch
    bool error = (events & (EPOLLERR | EPOLLHUP)) != 0;
    if (error || (events & EPOLLIN) != 0)
        retry(*e, 0);
    if (error || (events & EPOLLOUT) != 0)
        retry(*e, 1);
    update(fd, *e);
}

void epoll_backend::cancel(io_op* op) {
    auto it = parked_.find(op);
    if (it == parked_.end())
        return;  // its result is queued already: that result wins
    int fd = it->second;
    parked_.erase(it);
    fd_entry& e = *entry(fd);
    for (auto& side : e.side)
        for (std::size_t i = 0; i < side.size(); ++i)
            if (side[i].op == op) {
                side.erase(side.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
    done_.push_back({op, -ECANCELED});
    update(fd, e);
}

void epoll_backend::cancel_fd(int fd) {
    fd_entry* e = entry(fd);
    if (e == nullptr || e->events == 0)
        return;
    fail_all(*e, -ECANCELED);
    update(fd, *e);  // out of the set now: the caller may close fd next
}

void epoll_backend::cancel_all() {
    tearing_down_ = true;
    for (std::size_t fd = 0; fd < fds_.size(); ++fd)
        if (fds_[fd].events != 0) {
            fail_all(fds_[fd], -ECANCELED);
            update(static_cast<int>(fd), fds_[fd]);
        }
}

unsigned epoll_backend::reap() noexcept {
    if (done_.empty())
        return 0;
    // This batch only: a completion may submit again (the signal read
    // re-arms), and what that queues waits for the next reap.
    delivering_.swap(done_);
    for (const result& r : delivering_) {
        --pending_;
        r.op->complete(r.op, r.res, 0);
    }
    auto n = static_cast<unsigned>(delivering_.size());
    delivering_.clear();
    return n;
}

void epoll_backend::gather(const std::chrono::nanoseconds* timeout) noexcept {
    int n = -1;
#ifdef SYS_epoll_pwait2
    if (pwait2_) {
        timespec ts{};
        if (timeout != nullptr)
            ts = {static_cast<time_t>(timeout->count() / 1'000'000'000), static_cast<long>(timeout->count() % 1'000'000'000)};
        n = static_cast<int>(::syscall(SYS_epoll_pwait2, epfd_, events_, static_cast<int>(std::size(events_)),
                                       timeout != nullptr ? &ts : nullptr, nullptr, 0));
        if (n < 0 && errno != EINTR)
            pwait2_ = false;  // ENOSYS (before Linux 5.11) or refused by a filter: epoll_wait from now on
    }
#else
    pwait2_ = false;
#endif
    if (!pwait2_) {
        int ms = -1;
        if (timeout != nullptr) {
            auto rounded_up = (timeout->count() + 999'999) / 1'000'000;  // late by under 1 ms, never early
            ms = rounded_up > INT_MAX ? INT_MAX : static_cast<int>(rounded_up);
        }
        n = ::epoll_wait(epfd_, events_, static_cast<int>(std::size(events_)), ms);
    }
    for (int i = 0; i < n; ++i) {
        int fd = events_[i].data.fd;
        if (fd == wake_fd()) {
            std::uint64_t count = 0;
            (void)::read(fd, &count, sizeof count);  // level-triggered: reset it
            continue;
        }
        on_ready(fd, events_[i].events);
    }
}

void epoll_backend::poll() noexcept {
    if (pending_ == 0)
        return;
    if (!parked_.empty()) {
        std::chrono::nanoseconds zero{0};
        gather(&zero);
    }
    reap();
}

void epoll_backend::wait(const std::chrono::nanoseconds* timeout) noexcept {
    std::chrono::nanoseconds zero{0};
    if (!done_.empty())
        timeout = &zero;  // results are waiting: look, but do not sleep
    else if (timeout != nullptr && timeout->count() <= 0)
        return;
    gather(timeout);
}

void epoll_backend::wait_one() noexcept {
    if (done_.empty() && !parked_.empty())
        gather(nullptr);
    reap();
}

}  // namespace ringo::detail
