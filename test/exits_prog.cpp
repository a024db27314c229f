// test/exits_prog.cpp - `exits-prog MODE`: a program whose main is
// `return ringo::run_main(...)`, ending in the way MODE says, so that
// test_exits.cpp can check what a Go-style exit prints and returns.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <ringo/ringo.hpp>

namespace {

ringo::task<int> returns(int code) { co_return code; }

ringo::task<> returns_void() { co_return; }

// Prints the backend it runs on ("io_uring" or "epoll") to stderr.
ringo::task<> prints_backend() {
    std::fputs(ringo::current_backend() == ringo::backend_kind::epoll ? "epoll\n" : "io_uring\n", stderr);
    co_return;
}

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

// Says "ready" on stderr once it waits, then sleeps: SIGQUIT must end it.
ringo::task<int> waits_for_sigquit() {
    ringo::go([]() -> ringo::task<> { co_await ringo::sleep_for(std::chrono::hours(1)); });
    co_await ringo::yield();
    std::fputs("ready\n", stderr);
    co_await ringo::sleep_for(std::chrono::hours(1));
    co_return 0;
}

// Watches SIGQUIT itself: it is delivered like any signal, no dump, no exit.
ringo::task<int> watches_sigquit() {
    auto sigs = ringo::signals::notify({SIGQUIT});
    std::fputs("ready\n", stderr);
    auto sig = co_await sigs.recv();
    std::fprintf(stderr, "got signal %d\n", sig ? *sig : -1);
    co_return sig == SIGQUIT ? 0 : 1;
}

// notify_context keeps watching after the first signal: the second SIGTERM,
// during the "graceful shutdown", does not kill the process.
ringo::task<int> survives_second_sigterm() {
    auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGTERM});
    std::fputs("ready\n", stderr);
    co_await ctx.done().recv();
    std::fputs("shutting down\n", stderr);
    co_await ringo::sleep_for(std::chrono::milliseconds(300));  // the test sends SIGTERM again meanwhile
    stop();
    std::fputs("clean exit\n", stderr);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    if (std::strcmp(mode, "return7") == 0)
        return ringo::run_main(returns(7));
    if (std::strcmp(mode, "void") == 0)
        return ringo::run_main(returns_void());
    if (std::strcmp(mode, "backend") == 0)
        return ringo::run_main(prints_backend());
    if (std::strcmp(mode, "deadlock") == 0)
        return ringo::run_main(deadlocks());
    if (std::strcmp(mode, "panic-main") == 0)
        return ringo::run_main(panics_in_main());
    if (std::strcmp(mode, "throw-main") == 0)
        return ringo::run_main(throws_in_main());
    if (std::strcmp(mode, "panic-task") == 0)
        return ringo::run_main(panics_in_task());
    if (std::strcmp(mode, "sigquit") == 0) {
        std::signal(SIGQUIT, SIG_DFL);  // as a program starts, even if the test runner ignores SIGQUIT
        return ringo::run_main(waits_for_sigquit());
    }
    if (std::strcmp(mode, "sigquit-watched") == 0)
        return ringo::run_main(watches_sigquit());
    if (std::strcmp(mode, "sigterm-twice") == 0)
        return ringo::run_main(survives_second_sigterm());
    std::fprintf(stderr, "exits-prog: unknown mode '%s'\n", mode);
    return 100;
}
