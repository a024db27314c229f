// Go-style exits: a program whose main is `return ringo::run_main(...)` ends
// as a Go program does, with Go's messages on stderr and Go's exit status.
// Each case runs test/exits_prog.cpp as a real child process.
#include <doctest/doctest.h>

#include <unistd.h>

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

// Runs exits-prog MODE (under no-uring when `refused`): {status, stderr}.
std::pair<int, std::string> run_prog(const char* mode, bool refused = false) {
    std::string prog = path_of("RINGO_EXITS_PROG");
    std::string wrapper = refused ? path_of("RINGO_NO_URING") : "";
    return test::in_child([&] {
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

TEST_CASE("a refused io_uring prints one line saying what to do and exits 1") {
    auto [status, err] = run_prog("void", true);
    CHECK(status == 1);
    CHECK(err.starts_with("ringo: io_uring is not available: io_uring_setup failed: Operation not permitted"));
    CHECK(err.find("seccomp") != std::string::npos);
    CHECK(err.find("kernel.io_uring_disabled") != std::string::npos);
    CHECK(err.ends_with("\n"));
    CHECK(err.find('\n') == err.size() - 1);  // one line
}

}  // TEST_SUITE
