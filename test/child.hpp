// test/child.hpp - runs a function in a forked child, for outcomes that end
// the process (panics, refused io_uring, terminate on misuse).
#pragma once

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <utility>

namespace test {

// Runs f in a forked child; returns {exit status (128 + signal if killed),
// what the child wrote to stderr}.
template <class F>
std::pair<int, std::string> in_child(F f) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // not doctest's crash handler: the parent judges
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        f();
        std::_Exit(0);
    }
    ::close(fds[1]);
    std::string err;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), err};
}

}  // namespace test
