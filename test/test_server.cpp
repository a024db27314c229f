// The server sample, for real: start the process, make HTTP requests with a
// ringo client (keep-alive included), play the hostile clients Go's
// net/http survives (after each group a normal request still gets 200 and
// the server's descriptor count is back to its baseline), run it out of
// descriptors, and send SIGTERM (twice, too) while requests are in flight.
// No total-time limits: waits are bounded by the progress watchdog.
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <ringo/ringo.hpp>

#include "child.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using ringo::task;

namespace {

struct server_process {
    pid_t pid = -1;
    int out = -1;       // its stdout (and stderr)
    std::string app, debug;
    std::string seen;   // what it printed so far
};

struct options {
    std::vector<std::string> args;   // besides --app/--debug
    const char* threads = nullptr;   // RINGO_THREADS for the server
    rlim_t max_fds = 0;              // RLIMIT_NOFILE for the server, if not 0
    std::string app = "127.0.0.1:0";
    bool refused = false;            // under test/no_uring: io_uring refused, as in a locked-down container
};

// Reads more of the server's output: false once it has ended.
bool read_more(server_process& p) {
    char buf[4096];
    ssize_t n = ::read(p.out, buf, sizeof buf);
    if (n <= 0)
        return false;
    p.seen.append(buf, static_cast<std::size_t>(n));
    test::tick();
    return true;
}

// Reads the server's output until a line starting with `what` is complete:
// the rest of that line, or nullopt if the output ended first.
std::optional<std::string> read_line(server_process& p, const std::string& what) {
    for (;;) {
        std::size_t at = p.seen.find(what), eol = at == std::string::npos ? at : p.seen.find('\n', at);
        if (eol != std::string::npos)
            return p.seen.substr(at + what.size(), eol - at - what.size());
        if (!read_more(p))
            return std::nullopt;
    }
}

server_process spawn_server(const options& o) {
    const char* wrapper = o.refused ? std::getenv("RINGO_NO_URING") : nullptr;
    REQUIRE_MESSAGE((!o.refused || wrapper != nullptr), "RINGO_NO_URING must name test/no_uring");
    const char* exe = std::getenv("RINGO_SERVER");
    REQUIRE_MESSAGE(exe != nullptr, "RINGO_SERVER must name the server sample");
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::vector<std::string> args{exe, "--app", o.app, "--debug", "127.0.0.1:0"};
    if (wrapper != nullptr)
        args.insert(args.begin(), wrapper);
    args.insert(args.end(), o.args.begin(), o.args.end());
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (o.threads != nullptr)
            ::setenv("RINGO_THREADS", o.threads, 1);
        if (o.max_fds != 0) {
            rlimit r{o.max_fds, o.max_fds};
            ::setrlimit(RLIMIT_NOFILE, &r);
        }
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    ::close(fds[1]);
    return server_process{pid, fds[0], {}, {}, {}};
}

server_process start_server(const options& o) {
    server_process p = spawn_server(o);
    std::optional<std::string> app = read_line(p, "app listening on ");
    std::optional<std::string> debug = read_line(p, "debug listening on ");
    REQUIRE_MESSAGE((app && debug), p.seen);
    p.app = *app;
    p.debug = *debug;
    return p;
}

server_process start_server(std::string grace, const char* threads = nullptr) {
    return start_server(options{{"--grace", grace}, threads});
}

// Everything the server prints until it exits (its output pipe closes).
std::string rest_of_output(server_process& p) {
    while (read_more(p)) {
    }
    return p.seen;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool alive(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == 0;
}

int fd_count(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    REQUIRE(d != nullptr);
    int n = 0;
    while (dirent* e = ::readdir(d))
        n += e->d_name[0] != '.' ? 1 : 0;
    ::closedir(d);
    return n;
}

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("VmRSS:"))
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

// Waits until the server holds `baseline` descriptors again (it closes
// connections asynchronously, some only at a timeout): true once it does.
task<bool> back_to_baseline(pid_t pid, int baseline) {
    int last = -1;
    for (;;) {
        int now = fd_count(pid);
        if (now == baseline)
            co_return true;
        if (now < baseline || !alive(pid))
            co_return false;
        if (now != last)
            test::tick();  // closing: progress
        last = now;
        co_await ringo::sleep_for(5ms);
    }
}

// Reads until the peer closes (or resets): everything it sent.
task<std::string> read_all(ringo::net::conn& c) {
    std::string out;
    for (;;) {
        char buf[16 * 1024];
        auto [n, err] = co_await c.read(ringo::background(), std::as_writable_bytes(std::span(buf)));
        if (err)
            co_return out;
        out.append(buf, n);
    }
}

// Reads one response (headers and a Content-Length body) from c.
task<std::string> read_response(ringo::net::conn& c) {
    std::string resp;
    std::size_t body_at = std::string::npos, length = 0;
    while (body_at == std::string::npos || resp.size() < body_at + length) {
        char buf[4096];
        auto [n, err] = co_await c.read(ringo::background(), std::as_writable_bytes(std::span(buf)));
        if (err)
            break;
        resp.append(buf, n);
        if (body_at == std::string::npos && (body_at = resp.find("\r\n\r\n")) != std::string::npos) {
            std::size_t cl = resp.find("Content-Length: ");
            length = std::strtoul(resp.c_str() + cl + 16, nullptr, 10);
            body_at += 4;
        }
    }
    co_return resp;
}

// One request on c; returns the response (headers and body).
task<std::string> get(ringo::net::conn& c, std::string path) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
    (void)co_await c.write_all(ringo::background(), req);
    co_return co_await read_response(c);
}

// Sends raw bytes on a new connection and returns all the server answers
// until it closes the connection.
task<std::string> send_raw(std::string addr, std::string bytes) {
    auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
    REQUIRE_FALSE(err);
    (void)co_await c.write_all(ringo::background(), bytes);
    co_return co_await read_all(c);
}

// A normal request on a new connection gets 200.
task<bool> healthy(std::string addr) {
    auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
    if (err)
        co_return false;
    std::string r = co_await get(c, "/");
    co_return r.starts_with("HTTP/1.1 200 OK") && r.ends_with("hello from ringo\n");
}

int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
        ++n;
    return n;
}

void reset(ringo::net::conn& c) {  // close with RST, not FIN
    linger l{1, 0};
    ::setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    c.close();
}

}  // namespace

TEST_SUITE("server") {

TEST_CASE("the server sample answers, keeps connections alive, and shuts down gracefully on SIGTERM") {
    test::progress_watchdog dog(30s, "server SIGTERM");
    server_process srv = start_server("5s");
    std::string in_flight;
    ringo::run([](server_process& p, std::string& slow) -> task<void> {
        auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
        REQUIRE_FALSE(err);
        std::string r1 = co_await get(c, "/");
        CHECK(r1.starts_with("HTTP/1.1 200 OK"));
        CHECK(r1.ends_with("hello from ringo\n"));
        std::string r2 = co_await get(c, "/nope");  // same connection: keep-alive
        CHECK(r2.starts_with("HTTP/1.1 404"));

        auto [d, derr] = co_await ringo::net::dial(ringo::background(), p.debug);
        std::string dump = co_await get(d, "/debug/tasks");
        CHECK(dump.find("task 1 [errgroup wait]") != std::string::npos);

        // A slow request in flight when SIGTERM arrives must still complete;
        // the idle keep-alive connections c and d are closed at once.
        auto [s, serr] = co_await ringo::net::dial(ringo::background(), p.app);
        ringo::wait_group wg;
        wg.go([&]() -> task<void> { slow = co_await get(s, "/work?ms=300"); });
        co_await ringo::sleep_for(50ms);
        ::kill(p.pid, SIGTERM);
        std::string rest = co_await read_all(c);
        CHECK(rest.empty());
        co_await wg.wait();
    }(srv, in_flight));
    CHECK(in_flight.starts_with("HTTP/1.1 200 OK"));
    CHECK(in_flight.find("Connection: close") != std::string::npos);
    CHECK(in_flight.find("worked 300 ms") != std::string::npos);
    std::string out = rest_of_output(srv);
    CHECK(wait_exit(srv.pid) == 0);
    CHECK_MESSAGE(out.find("signal terminated: shutting down (grace 5s, 1 requests in flight)\n") !=
                      std::string::npos, out);
    CHECK_MESSAGE(out.find("done: 1 finished, 0 cut\n") != std::string::npos, out);
    ::close(srv.out);
}

TEST_CASE("when the debug server fails, both shut down within grace (idle connections closed) and the status is 1") {
    test::progress_watchdog dog(30s, "server failure");
    server_process srv = start_server("1s");
    ringo::run([](server_process& p) -> task<void> {
        auto [idle, ierr] = co_await ringo::net::dial(ringo::background(), p.app);
        std::string r0 = co_await get(idle, "/");  // then left open: an idle keep-alive connection
        CHECK(r0.starts_with("HTTP/1.1 200 OK"));
        auto [d, err] = co_await ringo::net::dial(ringo::background(), p.debug);
        std::string r = co_await get(d, "/debug/fail");
        CHECK(r.starts_with("HTTP/1.1 200 OK"));
        std::string rest = co_await read_all(idle);  // closed by the shutdown, not by us
        CHECK(rest.empty());
    }(srv));
    CHECK(wait_exit(srv.pid) == 1);
    std::string out = rest_of_output(srv);
    CHECK_MESSAGE(out.find("server: shut down after a failure: /debug/fail") != std::string::npos, out);
    ::close(srv.out);
}

TEST_CASE("with four executors, SIGTERM and SIGINT shut the server down gracefully, every time") {
    test::progress_watchdog dog(30s, "server signals x4");
    for (int sig : {SIGTERM, SIGINT}) {
        int clean = 0;
        for (int run = 0; run < 10; ++run) {
            server_process srv = start_server("2s", "4");
            std::string reply;
            ringo::run([](server_process& p, std::string& out) -> task<void> {
                auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
                REQUIRE_FALSE(err);
                out = co_await get(c, "/");
            }(srv, reply));
            CHECK(reply.starts_with("HTTP/1.1 200 OK"));
            ::kill(srv.pid, sig);  // to the process: any of its threads may take it
            clean += wait_exit(srv.pid) == 0 ? 1 : 0;
            test::tick();
            ::close(srv.out);
        }
        CHECK_MESSAGE(clean == 10, "signal ", sig);
    }
}

TEST_CASE("hostile clients: after each group a normal request gets 200 and the descriptors are back to baseline") {
    test::progress_watchdog dog(30s, "server hostile clients");
    server_process srv = start_server(options{{"--read-header-timeout", "1s", "--idle-timeout", "2s", "--write-timeout", "500ms"}});
    int baseline = fd_count(srv.pid);
    ringo::run([](server_process& p, int base) -> task<void> {
        std::string addr = p.app;
        auto check_group = [&](const char* group) -> task<void> {
            bool ok = co_await healthy(addr);
            CHECK_MESSAGE(ok, group);
            bool back = co_await back_to_baseline(p.pid, base);
            CHECK_MESSAGE(back, group, ": ", fd_count(p.pid), " descriptors, baseline ", base);
            test::tick();
        };
        co_await check_group("start");

        for (const char* bad : {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                                "G@T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "\r\n\r\n",
                                "GET / HTTP/1.1\r\n folded: x\r\n\r\n"}) {
            std::string r = co_await send_raw(addr, bad);
            CHECK_MESSAGE(r.starts_with("HTTP/1.1 400 Bad Request"), bad);
            CHECK_MESSAGE(count(r, "HTTP/1.1") == 1, bad);
        }
        co_await check_group("malformed request lines");

        std::string big_header = "GET / HTTP/1.1\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
        std::string r431 = co_await send_raw(addr, big_header);
        CHECK(r431.starts_with("HTTP/1.1 431"));
        co_await check_group("1 MiB header");

        for (std::size_t n : {std::size_t(8) << 10, std::size_t(64) << 10, std::size_t(1) << 20}) {
            std::string long_url = "GET /" + std::string(n, 'u') + " HTTP/1.1\r\nConnection: close\r\n\r\n";
            std::string r = co_await send_raw(addr, long_url);
            CHECK_MESSAGE(r.starts_with(n < (1u << 20) ? "HTTP/1.1 404" : "HTTP/1.1 431"), n);
        }
        co_await check_group("long URLs");

        {
            std::string junk;
            for (int i = 0; i < 64 * 1024; ++i)
                junk.push_back(static_cast<char>((i * 7919 + 13) % 256 == '\r' ? 0 : (i * 7919 + 13) % 256));
            auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
            (void)co_await c.write_all(ringo::background(), junk);
            c.shutdown_write();
            std::string r = co_await read_all(c);
            CHECK(r.find("200 OK") == std::string::npos);
            std::string r2 = co_await send_raw(addr, junk + "\r\n\r\n");
            CHECK(r2.starts_with("HTTP/1.1 400"));
        }
        co_await check_group("non-HTTP bytes");

        for (int i = 0; i < 100; ++i) {
            auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
            CHECK_FALSE(err);
        }
        co_await check_group("connect and close");

        for (int i = 0; i < 50; ++i) {
            auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
            (void)co_await c.write_all(ringo::background(), std::string_view("GET /work?ms=20 HTTP/1.1\r\n\r\n"));
            reset(c);
        }
        co_await check_group("request and RST");

        {
            std::string many;
            for (int i = 0; i < 1000; ++i)
                many += "GET / HTTP/1.1\r\nHost: pipelined\r\n\r\n";
            many += "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
            std::string r = co_await send_raw(addr, many);
            CHECK(count(r, "HTTP/1.1 200 OK") == 1001);
        }
        co_await check_group("1,000 pipelined requests");

        {  // pipelines requests and never reads: the write timeout closes the connection
            auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
            REQUIRE_FALSE(err);
            int small = 4096;
            ::setsockopt(c.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
            std::string first = co_await get(c, "/");  // the server holds the connection now
            CHECK(first.starts_with("HTTP/1.1 200 OK"));
            std::string many;
            for (int i = 0; i < 1000; ++i)
                many += "GET / HTTP/1.1\r\nHost: never-reads\r\n\r\n";
            ringo::wait_group wg;
            wg.go([&c, &many]() -> task<void> {
                for (int i = 0; i < 1000; ++i) {  // until the server closes the connection
                    auto [n, werr] = co_await c.write_all(ringo::background(), many);
                    if (werr)
                        break;
                    test::tick();
                }
            });
            bool closed = co_await back_to_baseline(p.pid, base);  // the server dropped it
            CHECK(closed);
            c.close();
            co_await wg.wait();
        }
        co_await check_group("a client that never reads");

        {
            std::vector<ringo::net::conn> slow(200);
            for (auto& c : slow) {
                auto [d, err] = co_await ringo::net::dial(ringo::background(), addr);
                REQUIRE_FALSE(err);
                (void)co_await d.write_all(ringo::background(), std::string_view("GET / HTTP/1.1\r\nX-Slow: "));
                c = std::move(d);
            }
            bool ok = co_await healthy(addr);  // served meanwhile
            CHECK(ok);
            int closed = 0;
            for (auto& c : slow) {
                std::string r = co_await read_all(c);  // the header timeout closes it
                closed += r.empty() ? 1 : 0;
                test::tick();
            }
            CHECK(closed == 200);
        }
        co_await check_group("200 slowloris connections");

        {
            long rss_before = rss_kib(p.pid);
            auto [c, err] = co_await ringo::net::dial(ringo::background(), addr);
            (void)co_await c.write_all(ringo::background(),
                                       std::string_view("POST / HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n"));
            std::string chunk(64 * 1024, 'b');
            long rss_peak = 0;
            for (int i = 0; i < 1024; ++i) {  // 64 MiB
                auto [n, werr] = co_await c.write_all(ringo::background(), chunk);
                REQUIRE_FALSE(werr);
                if (i % 64 == 0) {
                    rss_peak = std::max(rss_peak, rss_kib(p.pid));
                    test::tick();
                }
            }
            rss_peak = std::max(rss_peak, rss_kib(p.pid));
            CHECK_MESSAGE(rss_peak < rss_before + 16 * 1024, "RSS ", rss_before, " KiB before, ", rss_peak, " KiB at most");
        }
        co_await check_group("huge Content-Length body");

        for (const char* cl : {"-1", "99999999999999999999", "1e9", "12abc", "", "5, 5"}) {
            std::string req = std::string("POST / HTTP/1.1\r\nContent-Length: ") + cl + "\r\n\r\n";
            std::string r = co_await send_raw(addr, req);
            CHECK_MESSAGE(r.starts_with("HTTP/1.1 400"), cl);
        }
        std::string twice = co_await send_raw(addr, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
        CHECK(twice.starts_with("HTTP/1.1 400"));
        co_await check_group("bad Content-Length");

        {
            std::string smuggle = "GET /x HTTP/1.1\r\n\r\n";
            std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                  std::to_string(smuggle.size()) + "\r\n" + smuggle + "\r\n0\r\n\r\n";
            std::string r = co_await send_raw(addr, chunked);
            CHECK(r.starts_with("HTTP/1.1 501"));
            CHECK(count(r, "HTTP/1.1") == 1);  // the chunk is not read as a request
        }
        co_await check_group("chunked");
    }(srv, baseline));
    CHECK(alive(srv.pid));
    ::kill(srv.pid, SIGTERM);
    CHECK(wait_exit(srv.pid) == 0);
    ::close(srv.out);
}

TEST_CASE("out of descriptors (ulimit -n 64, 200 connections), the server backs off and serves them all") {
    test::progress_watchdog dog(30s, "server ulimit");
    server_process srv = start_server(options{{"--idle-timeout", "300ms"}, nullptr, 64});
    int baseline = fd_count(srv.pid);
    std::atomic<int> served{0};  // counted by tasks on every executor
    ringo::run([](server_process& p, int base, std::atomic<int>& ok) -> task<void> {
        std::vector<ringo::net::conn> conns;
        for (int i = 0; i < 200; ++i) {  // the kernel's backlog completes these connects
            auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
            REQUIRE_FALSE(err);
            conns.push_back(std::move(c));
        }
        ringo::wait_group wg;
        for (auto& c : conns)  // kept open: the idle timeout frees the server's descriptors
            wg.go([&c, &ok]() -> task<void> {
                std::string r = co_await get(c, "/");
                ok.fetch_add(r.starts_with("HTTP/1.1 200 OK") ? 1 : 0);
                test::tick();
            });
        co_await wg.wait();
        bool h = co_await healthy(p.app);
        CHECK(h);
        bool back = co_await back_to_baseline(p.pid, base);
        CHECK(back);
    }(srv, baseline, served));
    CHECK(served == 200);
    CHECK(alive(srv.pid));
    ::kill(srv.pid, SIGTERM);
    std::string out = rest_of_output(srv);
    CHECK(wait_exit(srv.pid) == 0);
    CHECK_MESSAGE(out.find("app: accept: Too many open files; retrying") != std::string::npos, out);
    ::close(srv.out);
}

TEST_CASE("a request longer than the grace period is cut, and its cancelled response still goes out") {
    test::progress_watchdog dog(30s, "server cut");
    server_process srv = start_server("200ms");
    std::string reply;
    ringo::run([](server_process& p, std::string& out) -> task<void> {
        auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
        REQUIRE_FALSE(err);
        std::string warm = co_await get(c, "/");  // the connection is served: the next request is read at once
        CHECK(warm.starts_with("HTTP/1.1 200 OK"));
        ringo::wait_group wg;
        wg.go([&]() -> task<void> { out = co_await get(c, "/work?ms=600000"); });
        co_await ringo::sleep_for(50ms);
        ::kill(p.pid, SIGTERM);
        co_await wg.wait();
    }(srv, reply));
    CHECK_MESSAGE(reply.starts_with("HTTP/1.1 200 OK"), reply);
    CHECK_MESSAGE(reply.ends_with("work cancelled: context canceled\n"), reply);
    std::string out = rest_of_output(srv);
    CHECK(wait_exit(srv.pid) == 0);
    CHECK_MESSAGE(out.find("done: 0 finished, 1 cut\n") != std::string::npos, out);
    ::close(srv.out);
}

TEST_CASE("a second SIGTERM during the shutdown does not kill the server") {
    test::progress_watchdog dog(30s, "server SIGTERM twice");
    server_process srv = start_server("5s");
    std::string reply;
    ringo::run([](server_process& p, std::string& out) -> task<void> {
        auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
        REQUIRE_FALSE(err);
        ringo::wait_group wg;
        wg.go([&]() -> task<void> { out = co_await get(c, "/work?ms=400"); });
        co_await ringo::sleep_for(50ms);
        ::kill(p.pid, SIGTERM);
        co_await ringo::sleep_for(50ms);
        ::kill(p.pid, SIGTERM);
        co_await wg.wait();
    }(srv, reply));
    CHECK(reply.find("worked 400 ms") != std::string::npos);
    std::string out = rest_of_output(srv);
    CHECK(wait_exit(srv.pid) == 0);
    CHECK_MESSAGE(out.find("signal terminated: already shutting down") != std::string::npos, out);
    ::close(srv.out);
}

TEST_CASE("a listen error names the address") {
    ringo::run([]() -> task<void> {
        auto [ln, err] = co_await ringo::net::listen("127.0.0.1:0");
        REQUIRE_FALSE(err);
        server_process srv = spawn_server(options{{}, nullptr, 0, ln.addr()});
        std::string out = rest_of_output(srv);
        CHECK(wait_exit(srv.pid) == 1);
        CHECK_MESSAGE(out.find("server: listen " + ln.addr() + ": Address already in use\n") != std::string::npos, out);
        ::close(srv.out);
    }());
}

TEST_CASE("where io_uring is refused, the server runs on epoll; with io_uring forced it exits 1 with one line") {
    for (const char* threads : {"1", "4"}) {
        server_process srv = start_server(options{{"--grace", "2s"}, threads, 0, "127.0.0.1:0", true});
        std::string reply, dump;
        ringo::run([](server_process& p, std::string& out, std::string& tasks) -> task<void> {
            auto [c, err] = co_await ringo::net::dial(ringo::background(), p.app);
            REQUIRE_FALSE(err);
            out = co_await get(c, "/");
            auto [d, derr] = co_await ringo::net::dial(ringo::background(), p.debug);
            REQUIRE_FALSE(derr);
            tasks = co_await get(d, "/debug/tasks");
        }(srv, reply, dump));
        CHECK(reply.starts_with("HTTP/1.1 200 OK"));
        CHECK(reply.ends_with("hello from ringo\n"));
        CHECK(dump.find("runtime: epoll backend") != std::string::npos);
        ::kill(srv.pid, SIGTERM);
        CHECK(wait_exit(srv.pid) == 0);
        ::close(srv.out);
    }
    const char* exe = std::getenv("RINGO_SERVER");
    const char* wrapper = std::getenv("RINGO_NO_URING");
    REQUIRE(wrapper != nullptr);
    auto [status, err] = test::in_child([&] {
        ::setenv("RINGO_BACKEND", "io_uring", 1);
        ::execl(wrapper, wrapper, exe, "--app", "127.0.0.1:0", "--debug", "127.0.0.1:0", nullptr);
        std::_Exit(127);
    });
    CHECK(status == 1);
    CHECK(err.starts_with("ringo: io_uring is not available: io_uring_setup failed: Operation not permitted"));
    CHECK(err.find('\n') == err.size() - 1);  // one line
}

}  // TEST_SUITE
