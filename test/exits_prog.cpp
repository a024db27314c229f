// test/exits_prog.cpp - `exits-prog MODE`: a program whose main is
// `return ringo::run_main(...)`, ending in the way MODE says, so that
// test_exits.cpp can check what a Go-style exit prints and returns.
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <ringo/ringo.hpp>

namespace {

ringo::task<int> returns(int code) { co_return code; }

ringo::task<> returns_void() { co_return; }

ringo::task<> deadlocks() {
    ringo::chan<int> nobody(0);
    ringo::go([nobody]() -> ringo::task<> { co_await nobody.send(1); });  // blocked too
    ringo::chan<int> never(0);
    co_await never.recv();
}

ringo::task<int> panics_in_main() {
    ringo::chan<int> c(0);
    ringo::go([c]() -> ringo::task<> { co_await c.recv(); });  // alive in the dump
    co_await ringo::yield();
    throw ringo::panic_error("boom in main");
}

ringo::task<int> throws_in_main() {
    co_await ringo::yield();
    throw std::runtime_error("plain exception");
}

ringo::task<int> panics_in_task() {
    ringo::go([]() -> ringo::task<> {
        co_await ringo::yield();
        throw ringo::panic_error("boom in a task");
    });
    ringo::chan<int> never(0);
    co_await never.recv();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    if (std::strcmp(mode, "return7") == 0)
        return ringo::run_main(returns(7));
    if (std::strcmp(mode, "void") == 0)
        return ringo::run_main(returns_void());
    if (std::strcmp(mode, "deadlock") == 0)
        return ringo::run_main(deadlocks());
    if (std::strcmp(mode, "panic-main") == 0)
        return ringo::run_main(panics_in_main());
    if (std::strcmp(mode, "throw-main") == 0)
        return ringo::run_main(throws_in_main());
    if (std::strcmp(mode, "panic-task") == 0)
        return ringo::run_main(panics_in_task());
    std::fprintf(stderr, "exits-prog: unknown mode '%s'\n", mode);
    return 100;
}
