// net: TCP on the ring - echo, EOF, errors, context cancellation racing
// completion (no byte lost, no fd leaked), close (from another executor too,
// with the fd number reused at once), teardown with reads pending, buffers
// larger than one ring operation.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <ringo/detail/root.hpp>
#include <ringo/ringo.hpp>

#include "dump.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::context;
using ringo::errc;
using ringo::task;
namespace net = ringo::net;

#ifdef RINGO_TEST_FULL_DEPTH
constexpr int echo_conns = 1000;
constexpr std::size_t echo_bytes = 1 << 20;
#else
constexpr int echo_conns = 100;
constexpr std::size_t echo_bytes = 64 << 10;
#endif

namespace {

int open_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr)
            ++n;
        ::closedir(d);
    }
    return n;
}

void raise_fd_limit() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
}

// Bytes waiting on fd, read without blocking: all equal to `want`? Returns
// how many, or -1 if one differs.
long drain_all(int fd, std::byte want) {
    long count = 0;
    std::byte buf[256];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            return count;
        for (ssize_t k = 0; k < n; ++k)
            if (buf[k] != want)
                return -1;
        count += n;
    }
}

// One round of the fd-reuse race: conn c (one end of a socketpair whose
// other end is `peer`) is used on one executor and closed on the other,
// which at once takes c's fd number for a new socketpair.
struct reuse_round {
    net::conn c;
    int peer = -1;
    // Written by the user task, read after the round.
    std::uint64_t written = 0;  // bytes c's writes reported
    int ops_before_close = 0;   // operations that completed with a result
    bool foreign_byte = false;  // a byte read that the peer did not write
    bool wrong_error = false;   // an error other than errc::closed
    // Written by the closer.
    int reused = -1;            // the new socket with c's old number
    int reused_peer = -1;       // its other end
    int attempts = 0;           // socketpairs made until the number came back
};

constexpr std::byte peer_byte{'P'}, conn_byte{'W'}, marker_byte{'M'};

// Writes and reads through r.c until both end with errc::closed.
task<void> use_until_closed(reuse_round& r) {
    std::byte out[4] = {conn_byte, conn_byte, conn_byte, conn_byte};
    std::byte in[16];
    bool read_closed = false, write_closed = false;
    while (!read_closed || !write_closed) {
        auto [m, werr] = co_await r.c.write(ringo::background(), out);
        if (werr) {
            r.wrong_error = r.wrong_error || werr != errc::closed;
            write_closed = true;
        } else {
            r.written += m;
            ++r.ops_before_close;
        }
        auto [n, rerr] = co_await r.c.read(ringo::background(), in);
        if (rerr) {
            r.wrong_error = r.wrong_error || rerr != errc::closed;
            read_closed = true;
            continue;
        }
        ++r.ops_before_close;
        for (std::size_t k = 0; k < n; ++k)
            r.foreign_byte = r.foreign_byte || in[k] != peer_byte;
    }
}

// Closes r.c after `delay` yields, then makes socketpairs until one end gets
// c's old fd number, and queues markers for whoever reads that number.
task<void> close_and_reuse(reuse_round& r, int delay) {
    for (int i = 0; i < delay; ++i)
        co_await ringo::yield();
    const int target = r.c.native_handle();
    r.c.close();
    std::vector<int> held;  // lower numbers freed meanwhile: kept until the target comes
    for (;;) {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        ++r.attempts;
        if (sv[0] == target || sv[1] == target) {
            r.reused = target;
            r.reused_peer = sv[0] == target ? sv[1] : sv[0];
            break;
        }
        held.push_back(sv[0]);
        held.push_back(sv[1]);
        if (held.size() > 256) {
            for (int fd : held)
                ::close(fd);
            held.clear();
        }
        co_await ringo::yield();
    }
    for (int fd : held)
        ::close(fd);
    std::byte marks[64];
    for (auto& b : marks)
        b = marker_byte;
    REQUIRE(::write(r.reused_peer, marks, sizeof marks) == static_cast<ssize_t>(sizeof marks));
}

std::byte pattern(std::size_t conn, std::size_t i) { return static_cast<std::byte>((conn * 31 + i * 7) & 0xff); }

// Echoes everything it reads until EOF, then closes.
task<void> echo(net::conn c) {
    std::vector<std::byte> buf(16 << 10);
    for (;;) {
        auto [n, err] = co_await c.read(ringo::background(), buf);
        if (err)
            break;
        auto [m, werr] = co_await c.write_all(ringo::background(), std::span(buf.data(), n));
        if (werr)
            break;
    }
}

task<void> serve(net::listener ln, int conns) {
    for (int i = 0; i < conns; ++i) {
        auto [c, err] = co_await ln.accept(ringo::background());
        REQUIRE_FALSE(err);
        ringo::go(echo, std::move(c));
    }
}

}  // namespace

TEST_SUITE("net") {

TEST_CASE("listen on port 0, dial, echo, EOF after the peer's half close") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        REQUIRE_FALSE(err);
        std::string addr = ln.addr();
        CHECK(addr.starts_with("127.0.0.1:"));
        CHECK(addr != "127.0.0.1:0");
        ringo::go(serve, std::move(ln), 1);
        auto [c, derr] = co_await net::dial(ringo::background(), addr);
        REQUIRE_FALSE(derr);
        CHECK(c.remote_addr() == addr);
        auto [n, werr] = co_await c.write_all(ringo::background(), std::string_view("hello, ring"));
        CHECK(n == 11);
        CHECK_FALSE(werr);
        c.shutdown_write();
        std::string got;
        std::byte buf[64];
        for (;;) {
            auto [m, rerr] = co_await c.read(ringo::background(), buf);
            if (rerr) {
                CHECK(rerr == errc::eof);
                break;
            }
            got.append(reinterpret_cast<const char*>(buf), m);
        }
        CHECK(got == "hello, ring");
    }());
}

TEST_CASE("IPv6 loopback") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("[::1]:0");
        if (err) {  // no IPv6 on this machine
            MESSAGE("IPv6 unavailable: " << err.message());
            co_return;
        }
        std::string addr = ln.addr();
        CHECK(addr.starts_with("[::1]:"));
        ringo::go(serve, std::move(ln), 1);
        auto [c, derr] = co_await net::dial(ringo::background(), addr);
        REQUIRE_FALSE(derr);
        (void)co_await c.write_all(ringo::background(), std::string_view("v6"));
        c.shutdown_write();
        std::byte buf[8];
        auto [n, rerr] = co_await c.read(ringo::background(), buf);
        CHECK(n == 2);
        CHECK_FALSE(rerr);
    }());
}

TEST_CASE("bad addresses, refused connections and names give clear errors") {
    ringo::run([]() -> task<void> {
        for (const char* bad : {"no-port", "::1:80", "[::1]80"}) {
            auto [c, err] = co_await net::dial(ringo::background(), bad);
            CHECK_MESSAGE(err == errc::bad_address, bad);
            CHECK_FALSE(c);
        }
        for (const char* bad : {"1.2.3.4:99999", "host:", "127.0.0.1:x", "[::1]:65536", "127.0.0.1:-1"}) {
            auto [c, err] = co_await net::dial(ringo::background(), bad);
            CHECK_MESSAGE(err == errc::bad_port, bad);
            CHECK_FALSE(c);
        }
        auto [ln0, lerr] = co_await net::listen("garbage");
        CHECK(lerr == errc::bad_address);
        CHECK(lerr.message().find("bad network address") != std::string::npos);

        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        std::string addr = ln.addr();
        ln.close();  // nobody listens there now
        auto [c, derr] = co_await net::dial(ringo::background(), addr);
        CHECK(derr == std::errc::connection_refused);

        auto [ln2, err2] = co_await net::listen("localhost:0");  // a name, resolved on a helper thread
        CHECK_FALSE(err2);
    }());
}

TEST_CASE("invalid ports and unknown hosts have their own codes and messages, not host_unreachable") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:99999");
        CHECK(err == errc::bad_port);
        CHECK(err.message().find("invalid port") != std::string::npos);
        CHECK_FALSE(ln);

        // .invalid never resolves (RFC 6761): answered from the resolver's
        // configuration, no network needed. A machine without a resolver at
        // all may say EAI_AGAIN: then the code is the resolver's own.
        auto [c, derr] = co_await net::dial(ringo::background(), "no-such-host.invalid:80");
        CHECK_FALSE(c);
        CHECK(derr != std::errc::host_unreachable);
        CHECK_MESSAGE((derr == errc::no_such_host || derr.category() == net::resolver_category()), derr.message());
        if (derr == errc::no_such_host)
            CHECK(derr.message() == "no such host");
        auto [ln2, lerr] = co_await net::listen("no-such-host.invalid:0");
        CHECK(lerr == derr);
    }());
    CHECK(std::error_code(EAI_AGAIN, net::resolver_category()).message() == ::gai_strerror(EAI_AGAIN));
    CHECK(std::string(net::resolver_category().name()) == "getaddrinfo");
}

TEST_CASE("listening on a port in use is the kernel's EADDRINUSE") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        REQUIRE_FALSE(err);
        auto [ln2, err2] = co_await net::listen(ln.addr());
        CHECK(err2 == std::errc::address_in_use);
        CHECK(err2.message() == "Address already in use");
    }());
}

TEST_CASE("a peer reset is an error, not a crash") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        auto [c, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [server, aerr] = co_await ln.accept(ringo::background());
        linger lg{1, 0};  // close with RST
        ::setsockopt(server.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        server.close();
        std::byte buf[16];
        auto [n, rerr] = co_await c.read(ringo::background(), buf);
        CHECK(rerr == std::errc::connection_reset);
        auto [m, werr] = co_await c.write_all(ringo::background(), std::string_view("x"));
        CHECK(werr);
    }());
}

// Many concurrent loopback connections echo every byte.
static void echo_many(ringo::runtime_options opts) {
    raise_fd_limit();
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        std::string addr = ln.addr();
        ringo::go(serve, std::move(ln), echo_conns);
        ringo::errgroup g;
        auto checked = std::make_shared<std::atomic<std::size_t>>(0);  // tasks may run on several executors
        for (int i = 0; i < echo_conns; ++i)
            g.go([addr, checked, i]() -> task<std::error_code> {
                auto [c, derr] = co_await net::dial(ringo::background(), addr);
                if (derr)
                    co_return derr;
                std::vector<std::byte> out(echo_bytes);
                for (std::size_t k = 0; k < out.size(); ++k)
                    out[k] = pattern(std::size_t(i), k);
                ringo::wait_group wg;  // write and read at once, or both sides fill up
                wg.go([&c, &out]() -> task<void> {
                    (void)co_await c.write_all(ringo::background(), out);
                    c.shutdown_write();
                });
                std::vector<std::byte> in(32 << 10);
                std::size_t got = 0;
                bool same = true;
                for (;;) {
                    auto [n, rerr] = co_await c.read(ringo::background(), in);
                    if (rerr)
                        break;
                    for (std::size_t k = 0; k < n; ++k)
                        same = same && in[k] == pattern(std::size_t(i), got + k);
                    got += n;
                }
                co_await wg.wait();
                if (got == echo_bytes && same)
                    checked->fetch_add(1);
                co_return std::error_code();
            });
        std::error_code gerr = co_await g.wait();
        CHECK_FALSE(gerr);
        CHECK(checked->load() == std::size_t(echo_conns));
    }(), opts);
}

// A cancelled read either returns its bytes or ctx.err(): none is ever lost.
static void cancelled_reads(ringo::runtime_options opts) {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        auto [client, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [server, aerr] = co_await ln.accept(ringo::background());
        constexpr int rounds = 2000;
        std::uint64_t sent = 0, received = 0, cancelled = 0;
        ringo::wait_group writer;  // joined before `sent` is read (the writer may run on another executor)
        writer.go([&client, &sent]() -> task<void> {
            for (int i = 0; i < rounds; ++i) {
                std::byte b[3] = {std::byte(i), std::byte(i >> 8), std::byte(7)};
                auto [n, e] = co_await client.write_all(ringo::background(), b);
                sent += n;
                if (i % 3 == 0)
                    co_await ringo::yield();
            }
            client.shutdown_write();
        });
        std::byte buf[64];
        for (int i = 0;; ++i) {
            // A deadline that races the data: sometimes before, sometimes after.
            auto [ctx, cancel] = ringo::with_timeout(ringo::background(), std::chrono::microseconds(i % 7 * 5));
            auto [n, rerr] = co_await server.read(ctx, buf);
            if (rerr == errc::eof)
                break;
            if (rerr) {
                CHECK(rerr == errc::deadline_exceeded);
                CHECK(n == 0);
                ++cancelled;
                continue;
            }
            received += n;
        }
        co_await writer.wait();
        CHECK(received == sent);
        CHECK(sent == 3 * rounds);
        MESSAGE(cancelled << " reads cancelled, every byte still received");
    }(), opts);
}

// A cancelled accept either returns its connection or ctx.err(): no fd leaks.
static void cancelled_accepts(ringo::runtime_options opts) {
    int before = open_fds();
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        std::string addr = ln.addr();
        int accepted = 0, dialled = 0;
        std::vector<net::conn> clients;
        for (int i = 0; i < 300; ++i) {
            if (i % 2 == 0) {
                auto [c, derr] = co_await net::dial(ringo::background(), addr);
                if (!derr) {
                    ++dialled;
                    clients.push_back(std::move(c));
                }
            }
            auto [ctx, cancel] = ringo::with_timeout(ringo::background(), std::chrono::microseconds(i % 5 * 10));
            auto [c, aerr] = co_await ln.accept(ctx);
            if (!aerr)
                ++accepted;
            else
                CHECK(aerr == errc::deadline_exceeded);
        }
        for (;;) {  // whatever is still queued
            auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 1ms);
            auto [c, aerr] = co_await ln.accept(ctx);
            if (aerr)
                break;
            ++accepted;
        }
        CHECK(accepted == dialled);
    }(), opts);
    CHECK(open_fds() == before);  // every socket, accepted or not, was closed
}

TEST_CASE("many concurrent loopback connections echo every byte") {
    echo_many({});
}
TEST_CASE("many concurrent loopback connections echo every byte, on the epoll backend") {
    echo_many({.backend = ringo::backend_kind::epoll});
}

TEST_CASE("a cancelled read either returns its bytes or ctx.err(): none is ever lost") {
    cancelled_reads({});
}
TEST_CASE("a cancelled read either returns its bytes or ctx.err(): none is ever lost, on the epoll backend") {
    cancelled_reads({.backend = ringo::backend_kind::epoll});
}

TEST_CASE("a cancelled accept either returns its connection or ctx.err(): no fd leaks") {
    cancelled_accepts({});
}
TEST_CASE("a cancelled accept either returns its connection or ctx.err(): no fd leaks, on the epoll backend") {
    cancelled_accepts({.backend = ringo::backend_kind::epoll});
}

TEST_CASE("accept and read with a context show in the dump as [IO wait] at their call, not [select]") {
    test::progress_watchdog dog(30s, "I/O waits in the dump");
    std::string dump;
    ringo::run([](std::string& d) -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        REQUIRE_FALSE(err);
        auto [client, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [server, aerr] = co_await ln.accept(ringo::background());
        REQUIRE_FALSE(aerr);
        auto [ctx, cancel] = ringo::with_cancel(ringo::background());
        const unsigned accept_line = __LINE__ + 1;
        ringo::go([&ln, ctx]() -> task<void> { (void)co_await ln.accept(ctx); });
        const unsigned read_line = __LINE__ + 1;
        ringo::go([&server, ctx]() -> task<void> { std::byte b[8]; (void)co_await server.read(ctx, b); });
        const std::vector<std::string> want{test::waits_at("IO wait", "test_net.cpp", accept_line),
                                            test::waits_at("IO wait", "test_net.cpp", read_line)};
        d = co_await test::dump_showing(want);
        cancel();
        while (ringo::num_tasks() > 1)  // both end with ctx.err() before ln and server go
            co_await ringo::sleep_for(1ms);
    }(dump));
    CHECK(dump.find("[select]") == std::string::npos);
}

TEST_CASE("close cancels the operations in flight with errc::closed") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        auto [client, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [server, aerr] = co_await ln.accept(ringo::background());
        std::error_code read_err, accept_err;
        ringo::wait_group wg;
        wg.go([&]() -> task<void> {
            std::byte buf[8];
            auto [n, e] = co_await server.read(ringo::background(), buf);
            read_err = e;
        });
        wg.go([&]() -> task<void> {
            auto [c, e] = co_await ln.accept(ringo::background());
            accept_err = e;
        });
        co_await ringo::yield();
        server.close();
        ln.close();
        co_await wg.wait();
        CHECK(read_err == errc::closed);
        CHECK(accept_err == errc::closed);
        std::byte buf[8];
        auto [n, e] = co_await server.read(ringo::background(), buf);
        CHECK(e == errc::closed);
    }());
}

TEST_CASE("a read with a deadline returns deadline_exceeded") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        auto [client, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 2ms);
        std::byte buf[8];
        auto [n, e] = co_await client.read(ctx, buf);
        CHECK(e == errc::deadline_exceeded);
        auto [c2, e2] = co_await ln.accept(ctx);  // already done: not even submitted
        CHECK(e2 == errc::deadline_exceeded);
    }());
}

TEST_CASE("reads pending when main returns: the ring is drained before frames are freed") {
    int before = open_fds();
    ringo::run([]() -> task<void> {
        for (int i = 0; i < 500; ++i) {
            int sv[2];
            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
            for (int fd : sv)
                ringo::go([](net::conn c) -> task<void> {
                    std::byte buf[32];
                    (void)co_await c.read(ringo::background(), buf);  // never completes
                }, net::conn(fd));
        }
        co_await ringo::yield();
        CHECK(ringo::num_tasks() == 1001);
    }());
    CHECK(open_fds() == before);
}

TEST_CASE("a conn closed on one executor while used on another never touches the socket that reuses its fd") {
    test::progress_watchdog dog(30s, "close racing reads and writes on another executor");
    constexpr int rounds = 2000;
    int before = open_fds();
    struct totals {
        int foreign = 0, wrong_error = 0, leaked_writes = 0, lost_writes = 0, deferred_close = 0, used_before = 0;
    } t;
    ringo::runtime_options two{.threads = 2};
    ringo::run([](totals& sum) -> task<void> {
        for (int i = 0; i < rounds; ++i) {
            reuse_round r;
            int sv[2];
            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
            r.c = net::conn(sv[0]);
            r.peer = sv[1];
            std::byte fill[32];
            for (auto& b : fill)
                b = peer_byte;
            REQUIRE(::write(r.peer, fill, sizeof fill) == static_cast<ssize_t>(sizeof fill));
            ringo::wait_group wg;
            wg.add(2);
            const unsigned user_on = unsigned(i) % 2;  // either executor closes, the other uses
            const int delay = i % 5;
            auto user = [&r, &wg]() -> task<void> {
                co_await use_until_closed(r);
                wg.done();
            };
            auto closer = [&r, &wg, delay]() -> task<void> {
                co_await close_and_reuse(r, delay);
                wg.done();
            };
            ringo::detail::go_pinned(user_on, user);
            ringo::detail::go_pinned(1 - user_on, closer);
            co_await wg.wait();
            sum.foreign += r.foreign_byte;
            sum.wrong_error += r.wrong_error;
            sum.leaked_writes += drain_all(r.reused_peer, conn_byte) != 0;  // nothing of c's reached it
            sum.lost_writes += drain_all(r.peer, conn_byte) != static_cast<long>(r.written);
            sum.deferred_close += r.attempts > 1;
            sum.used_before += r.ops_before_close > 0;
            ::close(r.peer);
            ::close(r.reused);
            ::close(r.reused_peer);
            test::tick();
        }
    }(t), two);
    CHECK(t.foreign == 0);       // no marker (nor anything else) read through the closed conn
    CHECK(t.wrong_error == 0);   // every operation ended with a result or errc::closed
    CHECK(t.leaked_writes == 0);
    CHECK(t.lost_writes == 0);   // every byte a write reported arrived at the conn's peer
    CHECK(open_fds() == before);
    MESSAGE(t.used_before << " rounds used the conn before the close; in " << t.deferred_close
                          << " the fd was released after close() returned");
}

TEST_CASE("close on one executor ends reads in flight on others (and its own) with errc::closed") {
    test::progress_watchdog dog(30s, "close with reads in flight on two executors");
    int before = open_fds();
    ringo::runtime_options two{.threads = 2};
    ringo::run([]() -> task<void> {
        for (int i = 0; i < 200; ++i) {
            int sv[2];
            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
            net::conn c(sv[0]);
            std::atomic<int> reading{0};
            std::error_code err[2];
            std::size_t got[2] = {1, 1};
            ringo::wait_group wg;
            wg.add(2);
            for (unsigned on = 0; on < 2; ++on) {
                auto reader = [&c, &reading, &err, &got, &wg, on]() -> task<void> {
                    std::byte b[8];
                    reading.fetch_add(1);
                    auto [n, e] = co_await c.read(ringo::background(), b);
                    got[on] = n;
                    err[on] = e;
                    wg.done();
                };
                ringo::detail::go_pinned(on, reader);
            }
            while (reading.load() < 2)
                co_await ringo::yield();
            co_await ringo::sleep_for(i % 2 == 0 ? 1ms : 0ms);  // most likely in flight by now; closed either way
            const int fd = c.native_handle();
            auto closer = [&c]() -> task<void> {
                c.close();
                co_return;
            };
            ringo::detail::go_pinned(unsigned(i) / 2 % 2, closer);
            co_await wg.wait();
            for (int k = 0; k < 2; ++k) {
                CHECK(err[k] == errc::closed);
                CHECK(got[k] == 0);
            }
            errno = 0;
            CHECK(::fcntl(fd, F_GETFD) == -1);  // released once the last read completed
            CHECK(errno == EBADF);
            std::byte b[8];
            auto [n, e] = co_await c.read(ringo::background(), b);  // after close: not even submitted
            CHECK(e == errc::closed);
            ::close(sv[1]);
            test::tick();
        }
    }(), two);
    CHECK(open_fds() == before);
}

TEST_CASE("closing many conns with reads in flight on another executor ends each with errc::closed") {
    test::progress_watchdog dog(30s, "mass close across executors");
    raise_fd_limit();
    constexpr int conns = 2000;
    int before = open_fds();
    int closed = 0;
    ringo::runtime_options two{.threads = 2};
    ringo::run([](int& n_closed) -> task<void> {
        std::vector<net::conn> cs;
        std::vector<int> peers;
        std::atomic<int> started{0};
        ringo::wait_group wg;
        wg.add(conns);
        for (int i = 0; i < conns; ++i) {
            int sv[2];
            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
            cs.emplace_back(sv[0]);
            peers.push_back(sv[1]);
        }
        std::atomic<int> ended_closed{0};
        for (int i = 0; i < conns; ++i) {
            auto reader = [&cs, &wg, &started, &ended_closed, i]() -> task<void> {
                std::byte b[8];
                started.fetch_add(1);
                auto [n, e] = co_await cs[std::size_t(i)].read(ringo::background(), b);
                ended_closed.fetch_add(e == errc::closed ? 1 : 0);
                wg.done();
                test::tick();
            };
            ringo::detail::go_pinned(1, reader);
        }
        while (started.load() < conns)
            co_await ringo::yield();
        auto closer = [&cs]() -> task<void> {
            for (auto& c : cs)
                c.close();
            co_return;
        };
        ringo::detail::go_pinned(0, closer);
        co_await wg.wait();
        n_closed = ended_closed.load();
        for (int fd : peers)
            ::close(fd);
    }(closed), two);
    CHECK(closed == conns);
    CHECK(open_fds() == before);
}

TEST_CASE("buffers larger than one ring operation are served in chunks, never truncated to 32 bits") {
    using net::detail::io_chunk;
    using net::detail::max_io_chunk;
    CHECK(max_io_chunk == std::size_t(INT_MAX));
    CHECK(io_chunk(0) == 0u);
    CHECK(io_chunk(4096) == 4096u);
    CHECK(io_chunk(max_io_chunk) == max_io_chunk);
    CHECK(io_chunk(max_io_chunk + 1) == max_io_chunk);
    CHECK(io_chunk(std::size_t(1) << 32) == max_io_chunk);          // truncated, this would be 0
    CHECK(io_chunk((std::size_t(1) << 32) + 1) == max_io_chunk);    // truncated, 1

    // A 4 GiB + 1 span costs only address space: untouched pages are never
    // backed. Read and write through it on a socketpair.
    const std::size_t big = (std::size_t(1) << 32) + 1;
    void* p = ::mmap(nullptr, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        MESSAGE("no 4 GiB of address space: " << std::strerror(errno));
        return;
    }
    struct results {
        std::size_t wrote = 0, read_n = 0;
        std::error_code werr, rerr;
    } res;
    ringo::run([](std::span<std::byte> buf, results& out) -> task<void> {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        net::conn a(sv[0]), b(sv[1]);
        std::span<const std::byte> whole = buf;
        auto [n, e] = co_await a.write(ringo::background(), whole);  // as much as the socket takes at once
        out.wrote = n;
        out.werr = e;
        std::size_t drained = 0;
        std::vector<std::byte> sink(64 << 10);
        while (drained < out.wrote) {
            auto [m, e2] = co_await b.read(ringo::background(), sink);
            REQUIRE_FALSE(e2);
            drained += m;
        }
        std::byte text[100] = {};
        auto [k, e3] = co_await a.write(ringo::background(), text);
        REQUIRE(k == sizeof text);
        REQUIRE_FALSE(e3);
        std::span<std::byte> four_gib = buf.subspan(1);
        auto [m, e4] = co_await b.read(ringo::background(), four_gib);  // 4 GiB exactly: 0 if truncated
        out.read_n = m;
        out.rerr = e4;
    }(std::span<std::byte>(static_cast<std::byte*>(p), big), res));
    ::munmap(p, big);
    CHECK_FALSE(res.werr);
    CHECK(res.wrote > 1);  // truncated to 32 bits, 4 GiB + 1 would have written 1 byte
    CHECK(res.wrote <= max_io_chunk);
    CHECK_FALSE(res.rerr);
    CHECK(res.read_n == 100);
}

}  // TEST_SUITE
