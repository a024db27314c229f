// TCP on the ring (see net.hpp).
#include <ringo/net.hpp>

#include <arpa/inet.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <ringo/detail/io_op.hpp>
#include <ringo/detail/parked_as.hpp>
#include <ringo/runtime.hpp>

namespace ringo::net::detail {

using ringo::detail::executor;
using ringo::detail::io_case;
using ringo::detail::io_request;
using ringo::detail::io_slot;
using ringo::detail::io_wait;

struct socket_state {
    explicit socket_state(int f) noexcept : fd(f) {}
    ~socket_state() { close(); }

    void close() noexcept {
        if (closed.exchange(true))
            return;
        // Operations in flight end: cancelled through the ring when they were
        // submitted on this thread's executor, else woken by a shutdown.
        executor* here = ringo::detail::current_executor();
        executor* used = owner.load(std::memory_order_acquire);
        if (here != nullptr && (used == nullptr || used == here))
            here->cancel_fd(fd);
        else
            ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
    }

    const int fd;
    std::atomic<bool> closed{false};
    std::atomic<executor*> owner{nullptr};  // the executor whose ring last took an operation
};

namespace {

// Submits r and waits for its completion, or for ctx to be done - then asks
// the kernel to cancel and still waits for the completion. Returns the CQE
// result.
task<int> run_io(context ctx, io_request r, socket_state* sock, std::source_location site) {
    if (ctx.err())
        co_return -ECANCELED;
    executor& ex = ringo::detail::current_executor("ringo::net");
    // Submitted, cancelled and completed on ex's ring: the task stays on ex
    // until the completion (detail/executor.hpp's invariant).
    ringo::detail::pin_while_in_flight pin(*ringo::detail::current_task("ringo::net"));
    if (sock != nullptr)
        sock->owner.store(&ex, std::memory_order_release);
    io_slot op;
    ex.submit(&op, r);
    recv_chan<std::monostate> done = ctx.done();
    if (done) {
        using io_wait_case = ringo::detail::parked_as<io_case, ringo::detail::task_state::io>;  // [IO wait], not [select]
        ringo::detail::select_awaiter<false, io_wait_case, ringo::detail::recv_case<std::monostate>> s(
            site, io_wait_case{io_case{&op}}, ringo::detail::recv_case<std::monostate>{ringo::detail::state_of(done)});
        auto w = co_await s;
        if (w.index() == 0)
            co_return op.res;
        ex.cancel(&op);  // ctx won: cancel, then wait for the operation's own end
    }
    io_wait wait{op, site};
    co_return co_await wait;
}

// Maps a CQE result: a cancelled operation reports why it was cancelled.
std::error_code to_error(int res, const context& ctx, bool closed) {
    if (res >= 0)
        return {};
    if (closed)
        return make_error_code(errc::closed);
    if (res == -ECANCELED)
        return ctx.err() ? ctx.err() : make_error_code(errc::canceled);
    return {-res, std::system_category()};
}

struct endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

struct host_port {
    std::string host;
    std::string port;
};

bool split(std::string_view a, host_port& out) {
    std::size_t colon;
    if (!a.empty() && a.front() == '[') {
        std::size_t close = a.find(']');
        if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':')
            return false;
        out.host = a.substr(1, close - 1);
        colon = close + 1;
    } else {
        colon = a.rfind(':');
        if (colon == std::string_view::npos)
            return false;
        out.host = a.substr(0, colon);
        if (out.host.find(':') != std::string::npos)
            return false;  // IPv6 needs brackets
    }
    out.port = a.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
    return ec == std::errc() && end == out.port.data() + out.port.size() && !out.port.empty() && port <= 65535;
}

bool numeric(const host_port& hp, bool passive, endpoint& out) {
    auto port = static_cast<std::uint16_t>(std::stoul(hp.port));
    if (hp.host.empty()) {  // ":port": every IPv4 interface (or loopback to dial)
        auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        v4->sin_addr.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
        out.len = sizeof(sockaddr_in);
        return true;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
    if (::inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.len = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    if (::inet_pton(AF_INET6, hp.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

// The endpoints for address: numeric at once, names through getaddrinfo on a
// helper thread.
task<std::pair<std::vector<endpoint>, std::error_code>> resolve(std::string address, bool passive) {
    host_port hp;
    if (!split(address, hp))
        co_return std::pair{std::vector<endpoint>{}, make_error_code(errc::bad_address)};
    endpoint ep;
    if (numeric(hp, passive, ep))
        co_return std::pair{std::vector<endpoint>{ep}, std::error_code()};
    auto lookup = [hp, passive]() -> std::pair<std::vector<endpoint>, std::error_code> {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = passive ? AI_PASSIVE : 0;
        addrinfo* res = nullptr;
        int rc = ::getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &res);
        if (rc != 0)
            return {{}, make_error_code(rc == EAI_SYSTEM ? std::errc(errno) : std::errc::host_unreachable)};
        std::vector<endpoint> out;
        for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
            endpoint e;
            std::memcpy(&e.addr, ai->ai_addr, ai->ai_addrlen);
            e.len = ai->ai_addrlen;
            out.push_back(e);
        }
        ::freeaddrinfo(res);
        return {std::move(out), {}};
    };
    co_return co_await ringo::blocking(lookup);
}

std::string format(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
    }
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

std::string name_of(int fd, bool peer) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                  : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return rc == 0 ? format(ss) : std::string();
}

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace
}  // namespace ringo::net::detail

namespace ringo::net {

using detail::socket_state;

detail::socket_owner::socket_owner(int fd) : s_(std::make_shared<socket_state>(fd)) {}
detail::socket_owner& detail::socket_owner::operator=(socket_owner&& o) noexcept {
    if (this != &o) {
        close();
        s_ = std::move(o.s_);
    }
    return *this;
}
detail::socket_owner::~socket_owner() { close(); }
void detail::socket_owner::close() noexcept {
    if (s_ != nullptr)
        s_->close();
}
int detail::socket_owner::native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

void conn::shutdown_write() noexcept {
    if (s_ != nullptr)
        ::shutdown(s_->fd, SHUT_WR);
}

std::string conn::local_addr() const { return s_ != nullptr ? detail::name_of(s_->fd, false) : std::string(); }
std::string conn::remote_addr() const { return s_ != nullptr ? detail::name_of(s_->fd, true) : std::string(); }

task<std::pair<std::size_t, std::error_code>> conn::read(context ctx, std::span<std::byte> buf,
                                                         std::source_location site) {
    auto s = s_;
    if (s == nullptr || s->closed.load())
        co_return std::pair{std::size_t(0), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_RECV, s->fd, reinterpret_cast<std::uint64_t>(buf.data()),
                                static_cast<std::uint32_t>(buf.size())};
    int res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res == 0 && !buf.empty())
        co_return std::pair{std::size_t(0), make_error_code(errc::eof)};
    if (res < 0)
        co_return std::pair{std::size_t(0), detail::to_error(res, ctx, s->closed.load())};
    co_return std::pair{static_cast<std::size_t>(res), std::error_code()};
}

task<std::pair<std::size_t, std::error_code>> conn::write(context ctx, std::span<const std::byte> buf,
                                                          std::source_location site) {
    auto s = s_;
    if (s == nullptr || s->closed.load())
        co_return std::pair{std::size_t(0), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_SEND, s->fd, reinterpret_cast<std::uint64_t>(buf.data()),
                                static_cast<std::uint32_t>(buf.size()), 0, MSG_NOSIGNAL};
    int res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res < 0)
        co_return std::pair{std::size_t(0), detail::to_error(res, ctx, s->closed.load())};
    co_return std::pair{static_cast<std::size_t>(res), std::error_code()};
}

task<std::pair<std::size_t, std::error_code>> conn::write_all(context ctx, std::span<const std::byte> buf,
                                                              std::source_location site) {
    std::size_t done = 0;
    while (done < buf.size()) {
        auto [n, err] = co_await write(ctx, buf.subspan(done), site);
        done += n;
        if (err)
            co_return std::pair{done, err};
    }
    co_return std::pair{done, std::error_code()};
}

std::string listener::addr() const { return s_ != nullptr ? detail::name_of(s_->fd, false) : std::string(); }

task<std::pair<conn, std::error_code>> listener::accept(context ctx, std::source_location site) {
    auto s = s_;
    if (s == nullptr || s->closed.load())
        co_return std::pair{conn(), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_ACCEPT, s->fd, 0, 0, 0, SOCK_CLOEXEC};
    int res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res < 0)
        co_return std::pair{conn(), detail::to_error(res, ctx, s->closed.load())};
    int one = 1;
    ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    co_return std::pair{conn(res), std::error_code()};  // a completed accept is never dropped
}

task<std::pair<listener, std::error_code>> listen(std::string address) {
    auto [eps, err] = co_await detail::resolve(address, true);
    if (err)
        co_return std::pair{listener(), err};
    std::error_code last = make_error_code(errc::bad_address);
    for (const auto& ep : eps) {
        int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = detail::last_error();
            continue;
        }
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0 && ::listen(fd, SOMAXCONN) == 0)
            co_return std::pair{listener(fd), std::error_code()};
        last = detail::last_error();
        ::close(fd);
    }
    co_return std::pair{listener(), last};
}

task<std::pair<conn, std::error_code>> dial(context ctx, std::string address, std::source_location site) {
    auto [eps, err] = co_await detail::resolve(address, false);
    if (err)
        co_return std::pair{conn(), err};
    std::error_code last = make_error_code(errc::bad_address);
    for (const auto& ep : eps) {
        int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = detail::last_error();
            continue;
        }
        conn c(fd);  // closes the socket on failure
        ringo::detail::io_request r{IORING_OP_CONNECT, fd, reinterpret_cast<std::uint64_t>(&ep.addr), 0, ep.len};
        int res = co_await detail::run_io(ctx, r, nullptr, site);
        if (res == 0) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            co_return std::pair{std::move(c), std::error_code()};
        }
        last = detail::to_error(res, ctx, false);
        if (ctx.err())
            break;
    }
    co_return std::pair{conn(), last};
}

}  // namespace ringo::net
