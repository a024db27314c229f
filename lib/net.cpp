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
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include <ringo/detail/intrusive_list.hpp>
#include <ringo/detail/io_op.hpp>
#include <ringo/detail/posted_work.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/parked_as.hpp>
#include <ringo/runtime.hpp>

namespace ringo::net::detail {

using ringo::detail::executor;
using ringo::detail::io_case;
using ringo::detail::io_request;
using ringo::detail::io_slot;
using ringo::detail::io_wait;

struct socket_state;

// One ring operation on a socket. It lives in run_io's frame, is submitted,
// cancelled and completed on the ring of `ex` (the executor its task runs
// on), and is on its socket's list of operations in flight from just before
// its submission until its completion.
struct socket_op : io_slot {
    socket_state* sock = nullptr;  // null: not a shared socket's (dial's connect)
    executor* ex = nullptr;
    bool closed = false;           // set at completion: close() had begun by then
    ringo::detail::list_hook<socket_op> link;

    socket_op() noexcept { complete = &on_socket_complete; }
    static void on_socket_complete(io_op* self, int res, std::uint32_t flags) noexcept;
};

// The state a socket's owner and its operations share (kept alive by each
// operation's task and by close()'s cancel requests to other executors).
//
// Thread contract: any thread. Uses of the descriptor are counted under mu_:
// a ring operation from start_op() to finish_op(), a synchronous call
// (shutdown, getsockname...) from enter() to leave(). close() marks the
// socket closing under mu_, so no use starts after it, cancels the
// operations in flight where each runs, and the descriptor is ::close()d by
// whoever ends the last use: close() itself when there is none, else the
// last finish_op() or leave(). So the number is never released while a use
// may still name it.
struct socket_state {
    explicit socket_state(int f) noexcept : fd(f) {}
    ~socket_state() {
        if (!fd_closed_)  // close() never ran: nobody can be using fd now
            ::close(fd);
    }

    // A synchronous use of fd: false once close() has begun; else leave() after.
    bool enter() noexcept {
        std::lock_guard l(mu_);
        if (closing_)
            return false;
        ++users_;
        return true;
    }
    void leave() noexcept { end_use(nullptr); }

    // Registers op, about to be submitted on ex's ring by the calling thread:
    // false (submit nothing) once close() has begun.
    bool start_op(socket_op* op, executor& ex) noexcept {
        std::lock_guard l(mu_);
        if (closing_)
            return false;
        ++users_;
        op->sock = this;
        op->ex = &ex;
        ops_.push_back(op);
        return true;
    }
    // op's completion, on its ring's thread: unlinks it (the last use after
    // close() closes fd). Returns whether close() had begun.
    bool finish_op(socket_op* op) noexcept { return end_use(op); }

    bool closing() const noexcept {
        std::lock_guard l(mu_);
        return closing_;
    }

    // See socket_owner::close(). self owns this state (cancel requests to
    // other executors keep it alive until they have run).
    static void close(const std::shared_ptr<socket_state>& self) noexcept;

    const int fd;

private:
    struct remote_cancel;
    using op_list = ringo::detail::intrusive_list<socket_op, &socket_op::link>;

    bool end_use(socket_op* op) noexcept {
        bool was_closing, last;
        {
            std::lock_guard l(mu_);
            if (op != nullptr)
                ops_.remove(op);
            was_closing = closing_;
            last = --users_ == 0 && closing_;
            if (last)
                fd_closed_ = true;
        }
        if (last)
            ::close(fd);
        return was_closing;
    }
    // On ex's thread: asks its ring to cancel this socket's operations there.
    void cancel_on(executor& ex) noexcept {
        std::lock_guard l(mu_);
        for (socket_op* op = ops_.front(); op != nullptr; op = op_list::next(op))
            if (op->ex == &ex)
                ex.cancel(op);  // by user_data: O(1), whatever else the ring holds
    }

    mutable ringo::detail::spinlock mu_;
    // Guarded by mu_. closing_: false until close() begins, then true for
    // good (no use starts after). users_: uses of fd under way (ring
    // operations, each also on ops_, plus synchronous calls). fd_closed_:
    // ::close(fd) was done (closing_ and users_ reached 0, or at once).
    bool closing_ = false;
    bool fd_closed_ = false;
    std::uint32_t users_ = 0;
    op_list ops_;  // ring operations in flight, with the executor of each
};

// A request to executor ex, through its mailbox, to cancel the socket's
// operations in flight there. Owns itself: freed once it has run (at the
// latest at runtime teardown, which runs the mailboxes after draining the
// rings, when no operation is left to cancel).
struct socket_state::remote_cancel : ringo::detail::posted_work {
    std::shared_ptr<socket_state> sock;
    executor* ex;
    remote_cancel* next_new = nullptr;  // close()'s list before posting

    remote_cancel(std::shared_ptr<socket_state> s, executor* e) noexcept : sock(std::move(s)), ex(e) {
        run = &on_run;
    }
    static void on_run(ringo::detail::posted_work* w) noexcept {
        std::unique_ptr<remote_cancel> self(static_cast<remote_cancel*>(w));
        self->sock->cancel_on(*self->ex);
    }
};

void socket_state::close(const std::shared_ptr<socket_state>& self) noexcept {
    executor* here = ringo::detail::current_executor();
    remote_cancel* posts = nullptr;
    bool close_now, wake_by_shutdown = false;
    {
        std::lock_guard l(self->mu_);
        if (self->closing_)
            return;
        self->closing_ = true;
        for (socket_op* op = self->ops_.front(); op != nullptr; op = op_list::next(op)) {
            if (op->ex == here) {
                here->cancel(op);  // our ring: its op is submitted (or queued before this cancel)
                continue;
            }
            bool asked = false;  // one request per other executor
            for (socket_op* o = self->ops_.front(); o != op && !asked; o = op_list::next(o))
                asked = o->ex == op->ex;
            if (asked)
                continue;
            auto* rc = new (std::nothrow) remote_cancel(self, op->ex);
            if (rc == nullptr) {
                wake_by_shutdown = true;  // out of memory: the ops end with EOF or an error instead
                continue;
            }
            rc->next_new = posts;
            posts = rc;
        }
        close_now = self->users_ == 0;
        if (close_now)
            self->fd_closed_ = true;
    }
    if (wake_by_shutdown)
        ::shutdown(self->fd, SHUT_RDWR);  // fd is still ours: users_ > 0
    while (posts != nullptr) {
        remote_cancel* rc = std::exchange(posts, posts->next_new);
        rc->ex->post(rc);  // an executor's op queued before it is submitted by then
    }
    if (close_now)
        ::close(self->fd);
}

void socket_op::on_socket_complete(io_op* self, int res, std::uint32_t flags) noexcept {
    auto* op = static_cast<socket_op*>(self);
    if (op->sock != nullptr)
        op->closed = op->sock->finish_op(op);  // before the wake-up: op's frame is gone after it
    io_slot::on_complete(self, res, flags);
}

namespace {

// A finished operation: the CQE result, and whether close() had begun by
// then (or refused to start it: res = -ECANCELED, closed).
struct io_result {
    int res = 0;
    bool closed = false;
};

// Submits r (on a socket: unless close() has begun, then nothing is
// submitted) and waits for its completion, or for ctx to be done - then asks
// the kernel to cancel and still waits for the completion.
task<io_result> run_io(context ctx, io_request r, socket_state* sock, std::source_location site) {
    executor& ex = ringo::detail::current_executor("ringo::net");
    // Submitted, cancelled and completed on ex's ring: the task stays on ex
    // until the completion (detail/executor.hpp's invariant).
    ringo::detail::pin_while_in_flight pin(*ringo::detail::current_task("ringo::net"));
    socket_op op;
    if (sock != nullptr && !sock->start_op(&op, ex))
        co_return io_result{-ECANCELED, true};  // close() first: errc::closed even if ctx is done
    if (ctx.err()) {
        if (sock != nullptr)
            (void)sock->finish_op(&op);  // never submitted
        co_return io_result{-ECANCELED, false};
    }
    ex.submit(&op, r);  // no suspension since start_op: close()'s cancel comes after this
    recv_chan<std::monostate> done = ctx.done();
    if (done) {
        using io_wait_case = ringo::detail::parked_as<io_case, ringo::detail::task_state::io>;  // [IO wait], not [select]
        ringo::detail::select_awaiter<false, io_wait_case, ringo::detail::recv_case<std::monostate>> s(
            site, io_wait_case{io_case{&op}}, ringo::detail::recv_case<std::monostate>{ringo::detail::state_of(done)});
        auto w = co_await s;
        if (w.index() == 0)
            co_return io_result{op.res, op.closed};
        ex.cancel(&op);  // ctx won: cancel, then wait for the operation's own end
    }
    io_wait wait{op, site};
    int res = co_await wait;
    co_return io_result{res, op.closed};
}

// Maps a failed operation's result: one cancelled reports why it was
// cancelled (close() first, then ctx); other errors are the kernel's.
std::error_code to_error(io_result r, const context& ctx) {
    if (r.res >= 0)
        return {};
    if (r.res == -ECANCELED && r.closed)
        return make_error_code(errc::closed);
    if (r.res == -ECANCELED)
        return ctx.err() ? ctx.err() : make_error_code(errc::canceled);
    return {-r.res, std::system_category()};
}

// Extra socket() flags for a listener or a dialling socket: the epoll
// backend needs them non-blocking (its accept4 and connect must not block;
// recv and send pass MSG_DONTWAIT on any socket). io_uring takes sockets as
// they are.
int socket_flags() noexcept {
    executor* ex = ringo::detail::current_executor();
    return ex != nullptr && ex->backend() == backend_kind::epoll ? SOCK_NONBLOCK : 0;
}

struct endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

struct host_port {
    std::string host;
    std::string port;
};

// Splits "host:port" / "[v6]:port" / ":port": errc::bad_address for the
// shape, errc::bad_port for a port that is not a number from 0 to 65535.
std::error_code split(std::string_view a, host_port& out) {
    std::size_t colon;
    if (!a.empty() && a.front() == '[') {
        std::size_t close = a.find(']');
        if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':')
            return make_error_code(errc::bad_address);
        out.host = a.substr(1, close - 1);
        colon = close + 1;
    } else {
        colon = a.rfind(':');
        if (colon == std::string_view::npos)
            return make_error_code(errc::bad_address);
        out.host = a.substr(0, colon);
        if (out.host.find(':') != std::string::npos)
            return make_error_code(errc::bad_address);  // IPv6 needs brackets
    }
    out.port = a.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
    if (ec != std::errc() || end != out.port.data() + out.port.size() || out.port.empty() || port > 65535)
        return make_error_code(errc::bad_port);
    return {};
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

// A getaddrinfo failure: errc::no_such_host when the name has no address,
// errno's error for EAI_SYSTEM, else the resolver's own code.
std::error_code lookup_error(int rc, int saved_errno) {
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY)
        return make_error_code(errc::no_such_host);
    if (rc == EAI_SYSTEM && saved_errno != 0)
        return {saved_errno, std::system_category()};
    return {rc, resolver_category()};
}

// The endpoints for address: numeric at once, names through getaddrinfo on a
// helper thread.
task<std::pair<std::vector<endpoint>, std::error_code>> resolve(std::string address, bool passive) {
    host_port hp;
    if (std::error_code e = split(address, hp))
        co_return std::pair{std::vector<endpoint>{}, e};
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
            return {{}, lookup_error(rc, errno)};
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

const std::error_category& resolver_category() noexcept {
    struct category final : std::error_category {
        const char* name() const noexcept override { return "getaddrinfo"; }
        std::string message(int c) const override { return ::gai_strerror(c); }
    };
    static const category c;
    return c;
}

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
        socket_state::close(s_);
}
int detail::socket_owner::native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

namespace detail {
namespace {

// Runs f(fd) as a synchronous use of s's descriptor; `otherwise` once closed.
template <class F, class R>
R with_fd(const std::shared_ptr<socket_state>& s, F f, R otherwise) {
    if (s == nullptr || !s->enter())
        return otherwise;
    struct leave_at_end {
        socket_state& s;
        ~leave_at_end() { s.leave(); }
    } guard{*s};
    return f(s->fd);
}

}  // namespace
}  // namespace detail

void conn::shutdown_write() noexcept {
    auto half_close = [](int fd) noexcept { return ::shutdown(fd, SHUT_WR); };
    (void)detail::with_fd(s_, half_close, -1);
}

std::string conn::local_addr() const {
    return detail::with_fd(s_, [](int fd) { return detail::name_of(fd, false); }, std::string());
}
std::string conn::remote_addr() const {
    return detail::with_fd(s_, [](int fd) { return detail::name_of(fd, true); }, std::string());
}

task<std::pair<std::size_t, std::error_code>> conn::read(context ctx, std::span<std::byte> buf,
                                                         std::source_location site) {
    auto s = s_;  // keeps the state alive while the operation runs
    if (s == nullptr)
        co_return std::pair{std::size_t(0), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_RECV, s->fd, reinterpret_cast<std::uint64_t>(buf.data()),
                                detail::io_chunk(buf.size())};
    detail::io_result res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res.res == 0 && !buf.empty())
        co_return std::pair{std::size_t(0), make_error_code(errc::eof)};
    if (res.res < 0)
        co_return std::pair{std::size_t(0), detail::to_error(res, ctx)};
    co_return std::pair{static_cast<std::size_t>(res.res), std::error_code()};
}

task<std::pair<std::size_t, std::error_code>> conn::write(context ctx, std::span<const std::byte> buf,
                                                          std::source_location site) {
    auto s = s_;
    if (s == nullptr)
        co_return std::pair{std::size_t(0), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_SEND, s->fd, reinterpret_cast<std::uint64_t>(buf.data()),
                                detail::io_chunk(buf.size()), 0, MSG_NOSIGNAL};
    detail::io_result res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res.res < 0)
        co_return std::pair{std::size_t(0), detail::to_error(res, ctx)};
    co_return std::pair{static_cast<std::size_t>(res.res), std::error_code()};
}

task<std::pair<std::size_t, std::error_code>> conn::write_all(context ctx, std::span<const std::byte> buf,
                                                              std::source_location site) {
    std::size_t done = 0;
    while (done < buf.size()) {  // each write() moves at most one chunk
        auto [n, err] = co_await write(ctx, buf.subspan(done), site);
        done += n;
        if (err)
            co_return std::pair{done, err};
    }
    co_return std::pair{done, std::error_code()};
}

std::string listener::addr() const {
    return detail::with_fd(s_, [](int fd) { return detail::name_of(fd, false); }, std::string());
}

task<std::pair<conn, std::error_code>> listener::accept(context ctx, std::source_location site) {
    auto s = s_;
    if (s == nullptr)
        co_return std::pair{conn(), make_error_code(errc::closed)};
    ringo::detail::io_request r{IORING_OP_ACCEPT, s->fd, 0, 0, 0, SOCK_CLOEXEC};
    detail::io_result res = co_await detail::run_io(ctx, r, s.get(), site);
    if (res.res < 0)
        co_return std::pair{conn(), detail::to_error(res, ctx)};
    int one = 1;
    ::setsockopt(res.res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    co_return std::pair{conn(res.res), std::error_code()};  // a completed accept is never dropped
}

task<std::pair<listener, std::error_code>> listen(std::string address) {
    auto [eps, err] = co_await detail::resolve(address, true);
    if (err)
        co_return std::pair{listener(), err};
    std::error_code last = make_error_code(errc::bad_address);
    for (const auto& ep : eps) {
        int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | detail::socket_flags(), 0);
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
        int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | detail::socket_flags(), 0);
        if (fd < 0) {
            last = detail::last_error();
            continue;
        }
        conn c(fd);  // closes the socket on failure
        ringo::detail::io_request r{IORING_OP_CONNECT, fd, reinterpret_cast<std::uint64_t>(&ep.addr), 0, ep.len};
        detail::io_result res = co_await detail::run_io(ctx, r, nullptr, site);
        if (res.res == 0) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            co_return std::pair{std::move(c), std::error_code()};
        }
        last = detail::to_error(res, ctx);
        if (ctx.err())
            break;
    }
    co_return std::pair{conn(), last};
}

}  // namespace ringo::net
