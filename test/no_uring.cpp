// test/no_uring.cpp - `no-uring PROGRAM [ARGS...]`: runs PROGRAM under a
// seccomp filter that makes io_uring_setup fail with EPERM, as Docker's
// default profile and other locked-down sandboxes do.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "refuse_io_uring.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs("usage: no-uring PROGRAM [ARGS...]\n", stderr);
        return 2;
    }
    if (!test::refuse_io_uring()) {
        std::perror("no-uring: seccomp");
        return 3;
    }
    ::execvp(argv[1], argv + 1);
    std::fprintf(stderr, "no-uring: cannot run %s: %s\n", argv[1], std::strerror(errno));
    return 127;
}
