// ringo/detail/io.hpp - one operation on the executor's ring, awaited.
#pragma once

#include <coroutine>
#include <cstdint>
#include <source_location>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/goroutine.hpp>

namespace ringo::detail {

// co_await io_awaiter{request}: submits the request on the current executor's
// ring and resumes with the CQE's result (-errno on failure). The awaiter is
// the operation: it must stay in the frame until its completion has run, which
// the executor guarantees (also at shutdown, by draining the ring first).
struct [[nodiscard]] io_awaiter : io_op {
    io_request req;
    std::source_location site = std::source_location::current();
    goroutine* g = nullptr;
    int res = 0;

    explicit io_awaiter(const io_request& r, std::source_location at = std::source_location::current()) noexcept
        : req(r), site(at) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        g = park(h, task_state::io, site, "ringo I/O");
        complete = &on_complete;
        g->home->submit(this, req);
    }
    int await_resume() const noexcept { return res; }

    static void on_complete(io_op* self, int result, std::uint32_t) noexcept {
        auto* a = static_cast<io_awaiter*>(self);
        a->res = result;
        a->g->home->ready(a->g);
    }
};

}  // namespace ringo::detail
