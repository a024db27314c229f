// ringo/detail/posted_work.hpp - an entry of an executor's mailbox: work that
// any thread asks an executor to run on its own thread (executor::post).
// Timer changes made off their home thread, signal hub updates and socket
// closes travel this way.
#pragma once

#include <atomic>

namespace ringo::detail {

// run(self) runs once on the executor's own thread, soon after post(). The
// poster owns the object and keeps it alive until it has run (or the runtime
// has ended). Posting an object that is already queued does nothing: it runs
// once, and reads the latest state when it does.
struct posted_work {
    void (*run)(posted_work* self) noexcept = nullptr;
    posted_work* next_posted = nullptr;  // the mailbox's link
    // true from post() until the executor takes it off the mailbox, just
    // before run() (a post after that queues it again).
    std::atomic<bool> queued{false};
};

}  // namespace ringo::detail
