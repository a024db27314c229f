// Installed-package check, built once through CMake's find_package(ringo)
// and once through pkg-config as C++23 (./dev test): one task sends over a
// channel, another receives. Exits 0 only if the received value is the one
// sent. The route is named by INSTALL_ROUTE.
#include <ringo/ringo.hpp>

#include <cstdio>

namespace {

ringo::task<void> sender(ringo::send_chan<int> out) {
    co_await out.send(42);
}

ringo::task<int> main_task() {
    ringo::chan<int> ch(0);
    ringo::go(sender, ringo::send_chan<int>(ch));
    auto v = co_await ch.recv();
    co_return v && *v == 42 ? 0 : 1;
}

}  // namespace

int main() {
    int status = ringo::run_main(main_task());
    std::printf("install check (%s): %s\n", INSTALL_ROUTE, status == 0 ? "OK" : "FAIL");
    return status;
}
