// ringo/runtime.hpp - run(), run_main(), go(), yield(), the task dump, panics
// (and blocking(), from ringo/blocking.hpp).
//
//   ringo::task<> main_task() {
//       ringo::go(worker, 1);          // go worker(1)
//       co_await ringo::yield();       // runtime.Gosched()
//   }
//   int main() { return ringo::run_main(main_task()); }
//
// run_main() is Go's main(): it creates the executors (one io_uring, or
// epoll where io_uring is refused, per thread), runs main's task and every
// task it spawns, and returns the exit status once main's task returns,
// printing what Go prints on a panic or a deadlock. run() does the same but returns main's value and throws instead.
// Tasks still alive at the end are destroyed, after every ring operation has
// been cancelled and drained.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <ringo/blocking.hpp>
#include <ringo/detail/backend_kind.hpp>
#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/outcome.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/errors.hpp>
#include <ringo/task.hpp>

namespace ringo {

// The I/O backend (ringo/detail/backend_kind.hpp):
//   enum class backend_kind { automatic, io_uring, epoll };
// automatic (the default) runs on io_uring (Linux >= 5.19) and falls back,
// silently, to epoll (any Linux 2.6.x+) when the kernel refuses io_uring
// (io_uring_setup fails with EPERM, ENOSYS or EACCES: a seccomp profile such
// as Docker's default one, gVisor, or sysctl kernel.io_uring_disabled). The
// environment variable RINGO_BACKEND=auto|io_uring|epoll overrides
// automatic. Forcing io_uring where it is refused makes run() throw and
// run_main() exit 1 with one line saying what to do. Both backends have the
// same API and semantics (cancelled I/O returns its real result if it
// completed). All the executors of a runtime use the same backend.
struct runtime_options {
    unsigned threads = 0;        // 0: RINGO_THREADS env var, else 1
    unsigned ring_entries = 256;  // submission queue size of each executor's ring (io_uring)
    backend_kind backend = backend_kind::automatic;
};

// Inside run(): the backend in use, io_uring or epoll (the task dump's
// header names it too). Outside run(): automatic. Any thread of the runtime.
backend_kind current_backend() noexcept;

// Raised by run() when main is blocked and no task can ever run again (no
// runnable task, no pending timer, I/O, signal watch or blocking() call).
// what() is "all tasks are asleep - deadlock!" followed by the task dump.
struct deadlock_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Describes a task to a panic handler.
struct task_info {
    std::uint64_t id;                 // 1 is main
    std::source_location spawn_site;  // where go() was called
};

namespace detail {

struct main_result_base {
    bool done = false;
    bool go_exit = false;  // run_main: an exception escaping main is reported as a panic at once
    bool failed = false;   // main ended by an exception
};
template <class T>
struct main_result : main_result_base {
    outcome<T> result;  // empty if main never ended
    T take() { return result.take(); }
};

// Prints Go's panic report for the exception escaping the current task
// (main's), with the task dump, while the other tasks are still alive.
void report_main_panic(std::exception_ptr e) noexcept;

template <class T>
root main_body(task<T> t, main_result<T>& out) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            out.result.set_value();
        } else {
            out.result.set_value(co_await std::move(t));
        }
    } catch (...) {
        out.result.set_exception(std::current_exception());
        out.failed = true;
        if (out.go_exit)
            report_main_panic(out.result.exception());
    }
    out.done = true;
}

// Runs the runtime until main's root has set out.done (lib/runtime.cpp).
// Throws deadlock_error, or std::system_error when no executor can start.
void run_root(root main, main_result_base& out, const runtime_options& opts, const std::source_location& site);

// As run_root, but reports like a Go program and returns the exit status:
// 0, 2 (main panicked: already reported; or a deadlock), 1 (no executor
// could start). Prints to stderr.
int run_root_go(root main, main_result_base& out, const runtime_options& opts, const std::source_location& site);

}  // namespace detail

// Runs `main` and every task it spawns; returns main's value or rethrows its
// exception. Throws deadlock_error on a deadlock, and a std::system_error
// saying so if io_uring is forced (runtime_options::backend, RINGO_BACKEND)
// and the kernel refuses it. Not reentrant: calling run() from
// inside a task is a panic_error. For a program that should end as a Go
// program does, use run_main.
template <class T>
T run(task<T> main, runtime_options opts = {}, std::source_location site = std::source_location::current()) {
    detail::main_result<T> out;
    detail::run_root(detail::main_body(std::move(main), out), out, opts, site);
    return out.take();
}

// Go's main, in one line: `int main() { return ringo::run_main(main_task()); }`.
// Runs like run() and returns the process exit status, printing to stderr
// what Go prints:
//   - main's int (task<int>), or 0 (task<void>);
//   - 2 when an exception escapes main: "panic: WHAT", main's task and the
//     task dump (an exception escaping any other task ends the process at
//     once with status 2 and the same report, as without run_main);
//   - 2 on a deadlock: "fatal error: all goroutines are asleep - deadlock!"
//     and the task dump;
//   - 1 when no executor can start (io_uring forced and refused, or a bad
//     RINGO_BACKEND): one line saying why and what to do.
inline int run_main(task<int> main, runtime_options opts = {},
                    std::source_location site = std::source_location::current()) {
    detail::main_result<int> out;
    out.go_exit = true;
    int status = detail::run_root_go(detail::main_body(std::move(main), out), out, opts, site);
    return status == 0 ? out.take() : status;
}
inline int run_main(task<void> main, runtime_options opts = {},
                    std::source_location site = std::source_location::current()) {
    detail::main_result<void> out;
    out.go_exit = true;
    return detail::run_root_go(detail::main_body(std::move(main), out), out, opts, site);
}

// go f(args...): starts a new task on the current runtime and returns at once.
//   ringo::go(worker(1));             // a task<T>
//   ringo::go(worker, 1);             // a callable returning task<T>, or any callable
//   ringo::go(worker);                // a named lambda or function
//   ringo::go([ch]() -> ringo::task<> { co_await ch.send(1); });
// The callable and the arguments (up to eight) are moved into the new task's
// frame, so a capturing lambda is safe. A result is discarded. An exception
// escaping the task is a panic (see set_panic_handler). The new task is
// counted by num_tasks() once go returns. Throws panic_error outside run().
//
// go is a set of function templates, one per number of arguments, each
// ending in a defaulted std::source_location that records the go-site for
// dump_tasks(). It is not a class template: `ringo::go(f);` would then
// declare a variable f (the most vexing parse), so the brace form of the
// first wave, `ringo::go{f}`, is gone; write `ringo::go(f)`.
template <class F>
    requires detail::spawnable_v<F>
void go(F f, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f)), site);
}
template <class F, class A1>
    requires detail::spawnable_v<F, A1>
void go(F f, A1 a1, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1)), site);
}
template <class F, class A1, class A2>
    requires detail::spawnable_v<F, A1, A2>
void go(F f, A1 a1, A2 a2, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2)), site);
}
template <class F, class A1, class A2, class A3>
    requires detail::spawnable_v<F, A1, A2, A3>
void go(F f, A1 a1, A2 a2, A3 a3, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3)), site);
}
template <class F, class A1, class A2, class A3, class A4>
    requires detail::spawnable_v<F, A1, A2, A3, A4>
void go(F f, A1 a1, A2 a2, A3 a3, A4 a4, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3), std::move(a4)), site);
}
template <class F, class A1, class A2, class A3, class A4, class A5>
    requires detail::spawnable_v<F, A1, A2, A3, A4, A5>
void go(F f, A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3), std::move(a4),
                                    std::move(a5)),
                  site);
}
template <class F, class A1, class A2, class A3, class A4, class A5, class A6>
    requires detail::spawnable_v<F, A1, A2, A3, A4, A5, A6>
void go(F f, A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6,
        std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3), std::move(a4),
                                    std::move(a5), std::move(a6)),
                  site);
}
template <class F, class A1, class A2, class A3, class A4, class A5, class A6, class A7>
    requires detail::spawnable_v<F, A1, A2, A3, A4, A5, A6, A7>
void go(F f, A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7,
        std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3), std::move(a4),
                                    std::move(a5), std::move(a6), std::move(a7)),
                  site);
}
template <class F, class A1, class A2, class A3, class A4, class A5, class A6, class A7, class A8>
    requires detail::spawnable_v<F, A1, A2, A3, A4, A5, A6, A7, A8>
void go(F f, A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8,
        std::source_location site = std::source_location::current()) {
    detail::spawn(detail::root_body(std::move(f), std::move(a1), std::move(a2), std::move(a3), std::move(a4),
                                    std::move(a5), std::move(a6), std::move(a7), std::move(a8)),
                  site);
}

// co_await ringo::yield(): lets every other runnable task run first
// (runtime.Gosched).
[[nodiscard]] inline auto yield(std::source_location site = std::source_location::current()) {
    struct [[nodiscard]] awaiter {
        std::source_location site;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) const {
            detail::goroutine* g = detail::park(h, detail::task_state::runnable, site, "ringo::yield");
            g->where()->ready_after_all(g);
        }
        void await_resume() const noexcept {}
    };
    return awaiter{site};
}

// The number of live tasks, main included (runtime.NumGoroutine). 0 outside run().
std::size_t num_tasks();

// One line per live task: "task ID [STATE] FILE:LINE (go at FILE:LINE)", where
// FILE:LINE says where the task is blocked. Empty outside run().
std::string dump_tasks();

// Installs the handler called, on the task's thread, when an exception escapes
// a task started with go(). Without one, ringo prints the exception and the
// task's spawn site to stderr and exits with status 2, as a Go panic does.
// Pass an empty function to restore that default. Any thread.
void set_panic_handler(std::function<void(std::exception_ptr, const task_info&)> h);

}  // namespace ringo
