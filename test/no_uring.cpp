// test/no_uring.cpp - `no-uring PROGRAM [ARGS...]`: runs PROGRAM under a
// seccomp filter that makes io_uring_setup fail with EPERM, as Docker's
// default profile and other locked-down sandboxes do.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iterator>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs("usage: no-uring PROGRAM [ARGS...]\n", stderr);
        return 2;
    }
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        std::perror("no-uring: seccomp");
        return 3;
    }
    ::execvp(argv[1], argv + 1);
    std::fprintf(stderr, "no-uring: cannot run %s: %s\n", argv[1], std::strerror(errno));
    return 127;
}
