// The server sample, for real: start the process, make HTTP requests with a
// ringo client (keep-alive included), send SIGTERM while a request is in
// flight, and check that the request completed and the exit status is 0.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <ringo/ringo.hpp>

#include "child.hpp"

using namespace std::chrono_literals;
using ringo::task;

namespace {

struct server_process {
    pid_t pid = -1;
    int out = -1;  // its stdout
    std::string app, debug;
};

// Starts the server sample (under the no-uring wrapper when `refused`: io_uring
// refused as in a locked-down container).
server_process start_server(std::string grace, const char* threads = nullptr, bool refused = false) {
    const char* exe = std::getenv("RINGO_SERVER");
    REQUIRE_MESSAGE(exe != nullptr, "RINGO_SERVER must name the server sample");
    const char* wrapper = refused ? std::getenv("RINGO_NO_URING") : nullptr;
    REQUIRE_MESSAGE((!refused || wrapper != nullptr), "RINGO_NO_URING must name test/no_uring");
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (threads != nullptr)
            ::setenv("RINGO_THREADS", threads, 1);
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        if (wrapper != nullptr)
            ::execl(wrapper, wrapper, exe, "--app", "127.0.0.1:0", "--debug", "127.0.0.1:0", "--grace", grace.c_str(),
                    nullptr);
        else
            ::execl(exe, exe, "--app", "127.0.0.1:0", "--debug", "127.0.0.1:0", "--grace", grace.c_str(), nullptr);
        std::_Exit(127);
    }
    ::close(fds[1]);
    server_process p{pid, fds[0], {}, {}};
    std::string seen;
    while (p.app.empty() || p.debug.empty()) {  // "app listening on 127.0.0.1:NNNN"
        char buf[256];
        ssize_t n = ::read(p.out, buf, sizeof buf);
        REQUIRE(n > 0);
        seen.append(buf, static_cast<std::size_t>(n));
        for (auto [name, addr] : {std::pair{"app listening on ", &p.app}, std::pair{"debug listening on ", &p.debug}}) {
            std::size_t at = seen.find(name), eol = at == std::string::npos ? at : seen.find('\n', at);
            if (eol != std::string::npos)
                *addr = seen.substr(at + std::strlen(name), eol - at - std::strlen(name));
        }
    }
    return p;
}

// One request on c; returns the response (headers and body).
task<std::string> get(ringo::net::conn& c, std::string path) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
    (void)co_await c.write_all(ringo::background(), req);
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

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_SUITE("server") {

TEST_CASE("the server sample answers, keeps connections alive, and shuts down gracefully on SIGTERM") {
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

        // A slow request in flight when SIGTERM arrives must still complete.
        auto [s, serr] = co_await ringo::net::dial(ringo::background(), p.app);
        ringo::wait_group wg;
        wg.go([&]() -> task<void> { slow = co_await get(s, "/work?ms=300"); });
        co_await ringo::sleep_for(50ms);
        ::kill(p.pid, SIGTERM);
        co_await wg.wait();
    }(srv, in_flight));
    CHECK(in_flight.starts_with("HTTP/1.1 200 OK"));
    CHECK(in_flight.find("worked 300 ms") != std::string::npos);
    CHECK(wait_exit(srv.pid) == 0);
    ::close(srv.out);
}

TEST_CASE("when the debug server fails, both servers shut down and the exit status is 1") {
    server_process srv = start_server("1s");
    ringo::run([](server_process& p) -> task<void> {
        auto [d, err] = co_await ringo::net::dial(ringo::background(), p.debug);
        std::string r = co_await get(d, "/debug/fail");
        CHECK(r.starts_with("HTTP/1.1 200 OK"));
    }(srv));
    CHECK(wait_exit(srv.pid) == 1);
    ::close(srv.out);
}

TEST_CASE("with four executors, SIGTERM and SIGINT shut the server down gracefully, every time") {
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
            ::close(srv.out);
        }
        CHECK_MESSAGE(clean == 10, "signal ", sig);
    }
}

TEST_CASE("where io_uring is refused, the server runs on epoll; with io_uring forced it exits 1 with one line") {
    for (const char* threads : {"1", "4"}) {
        server_process srv = start_server("2s", threads, true);
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
