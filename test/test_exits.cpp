// Go-style exits: a program whose main is `return ringo::run_main(...)` ends
// as a Go program does, with Go's messages on stderr and Go's exit status.
// Each case runs test/exits_prog.cpp as a real child process.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstdlib>
#include <string>
#include <vector>

#include "child.hpp"

namespace {

const char* path_of(const char* var) {
    const char* p = std::getenv(var);
    REQUIRE_MESSAGE(p != nullptr, var, " is not set (meson sets it)");
    return p;
}

// Runs exits-prog MODE (under no-uring when `refused`, with RINGO_BACKEND
// set to `backend` if not null): {status, stderr}.
std::pair<int, std::string> run_prog(const char* mode, bool refused = false, const char* backend = nullptr) {
    std::string prog = path_of("RINGO_EXITS_PROG");
    std::string wrapper = refused ? path_of("RINGO_NO_URING") : "";
    return test::in_child([&] {
        if (backend != nullptr)
            ::setenv("RINGO_BACKEND", backend, 1);
        std::vector<char*> argv;
        if (refused)
            argv.push_back(wrapper.data());
        argv.push_back(prog.data());
        argv.push_back(const_cast<char*>(mode));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    });
}

// Runs exits-prog MODE, waits for its "ready" line on stderr, sends it
// `sig` (and `again` after the line `again_after`): {status, stderr}.
std::pair<int, std::string> signal_prog(const char* mode, int sig, const char* again_after = nullptr) {
    std::string prog = path_of("RINGO_EXITS_PROG");
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        ::alarm(120);  // a child that ignores the signal ends (SIGALRM) and fails the test, never hangs it
        ::execl(prog.c_str(), prog.c_str(), mode, static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    ::close(fds[1]);
    std::string err;
    bool sent = false, resent = again_after == nullptr;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
        err.append(buf, static_cast<std::size_t>(n));
        if (!sent && err.find("ready\n") != std::string::npos) {
            ::kill(pid, sig);
            sent = true;
        }
        if (sent && !resent && err.find(again_after) != std::string::npos) {
            ::kill(pid, sig);
            resent = true;
        }
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(sent);
    CHECK(resent);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), err};
}

}  // namespace

TEST_SUITE("exits") {

TEST_CASE("main's int is the exit status; a task<void> main exits 0, quietly") {
    auto [status, err] = run_prog("return7");
    CHECK(status == 7);
    CHECK(err.empty());
    auto [vstatus, verr] = run_prog("void");
    CHECK(vstatus == 0);
    CHECK(verr.empty());
}

TEST_CASE("a deadlock prints Go's fatal error with the task dump and exits 2") {
    auto [status, err] = run_prog("deadlock");
    CHECK(status == 2);
    CHECK(err.starts_with("fatal error: all goroutines are asleep - deadlock!\n\n"));
    CHECK(err.find("[chan receive] test/exits_prog.cpp") != std::string::npos);  // main
    CHECK(err.find("[chan send] test/exits_prog.cpp") != std::string::npos);     // the other task
    CHECK(err.find("terminate") == std::string::npos);
}

TEST_CASE("a panic in main prints panic: MESSAGE, main's task and the dump, and exits 2") {
    auto [status, err] = run_prog("panic-main");
    CHECK(status == 2);
    CHECK(err.starts_with("panic: boom in main\n\ntask 1 [running], created by run_main at test/exits_prog.cpp"));
    CHECK(err.find("[chan receive] test/exits_prog.cpp") != std::string::npos);  // the task still alive
    CHECK(err.find("terminate") == std::string::npos);
}

TEST_CASE("any exception escaping main is a panic too") {
    auto [status, err] = run_prog("throw-main");
    CHECK(status == 2);
    CHECK(err.starts_with("panic: plain exception\n"));
}

TEST_CASE("a panic in another task prints its spawn site and exits 2") {
    auto [status, err] = run_prog("panic-task");
    CHECK(status == 2);
    CHECK(err.starts_with("panic: boom in a task\n\ntask 2 [running], created by go at test/exits_prog.cpp"));
}

TEST_CASE("where io_uring is refused, the automatic backend runs on epoll, silently") {
    for (const char* backend : {"auto", ""}) {
        auto [status, err] = run_prog("backend", true, backend);
        CHECK(status == 0);
        CHECK(err == "epoll\n");
    }
    auto [status, err] = run_prog("backend", false, "epoll");
    CHECK(status == 0);
    CHECK(err == "epoll\n");
}

TEST_CASE("a bad RINGO_BACKEND prints one line and exits 1") {
    auto [status, err] = run_prog("void", false, "kqueue");
    CHECK(status == 1);
    CHECK(err == "ringo: RINGO_BACKEND=kqueue is not a backend: use auto, io_uring or epoll\n");
}

TEST_CASE("io_uring forced where it is refused prints one line saying what to do and exits 1") {
    auto [status, err] = run_prog("void", true, "io_uring");
    CHECK(status == 1);
    CHECK(err.starts_with("ringo: io_uring is not available: io_uring_setup failed: Operation not permitted"));
    CHECK(err.find("seccomp") != std::string::npos);
    CHECK(err.find("kernel.io_uring_disabled") != std::string::npos);
    CHECK(err.ends_with("\n"));
    CHECK(err.find('\n') == err.size() - 1);  // one line
}

TEST_CASE("SIGQUIT prints the task dump and exits 2, as Go's default") {
    auto [status, err] = signal_prog("sigquit", SIGQUIT);
    CHECK(status == 2);
    CHECK(err.find("SIGQUIT: quit\n\n") != std::string::npos);
    CHECK(err.find("[sleep] test/exits_prog.cpp") != std::string::npos);
}

TEST_CASE("a program that watches SIGQUIT receives it instead") {
    auto [status, err] = signal_prog("sigquit-watched", SIGQUIT);
    CHECK(status == 0);
    CHECK(err.find("got signal 3") != std::string::npos);
    CHECK(err.find("SIGQUIT: quit") == std::string::npos);
}

TEST_CASE("notify_context keeps watching until stop: a second SIGTERM during shutdown is not fatal") {
    auto [status, err] = signal_prog("sigterm-twice", SIGTERM, "shutting down\n");
    CHECK(status == 0);
    CHECK(err.find("clean exit") != std::string::npos);
}

}  // TEST_SUITE
