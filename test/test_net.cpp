// net: TCP on the ring - echo, EOF, errors, context cancellation racing
// completion (no byte lost, no fd leaked), close, teardown with reads pending.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
        for (const char* bad : {"no-port", "1.2.3.4:99999", "::1:80", "[::1]80", "host:", "127.0.0.1:x"}) {
            auto [c, err] = co_await net::dial(ringo::background(), bad);
            CHECK_MESSAGE(err == errc::bad_address, bad);
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

TEST_CASE("many concurrent loopback connections echo every byte") {
    raise_fd_limit();
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        std::string addr = ln.addr();
        ringo::go(serve, std::move(ln), echo_conns);
        ringo::errgroup g;
        auto checked = std::make_shared<std::size_t>(0);
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
                    ++*checked;
                co_return std::error_code();
            });
        std::error_code gerr = co_await g.wait();
        CHECK_FALSE(gerr);
        CHECK(*checked == std::size_t(echo_conns));
    }());
}

TEST_CASE("a cancelled read either returns its bytes or ctx.err(): none is ever lost") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await net::listen("127.0.0.1:0");
        auto [client, derr] = co_await net::dial(ringo::background(), ln.addr());
        auto [server, aerr] = co_await ln.accept(ringo::background());
        constexpr int rounds = 2000;
        std::uint64_t sent = 0, received = 0, cancelled = 0;
        ringo::go([&client, &sent]() -> task<void> {
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
        CHECK(received == sent);
        CHECK(sent == 3 * rounds);
        MESSAGE(cancelled << " reads cancelled, every byte still received");
    }());
}

TEST_CASE("a cancelled accept either returns its connection or ctx.err(): no fd leaks") {
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
    }());
    CHECK(open_fds() == before);  // every socket, accepted or not, was closed
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

}  // TEST_SUITE
