// sync primitives' out-of-line parts.
#include <ringo/sync.hpp>

#include <ringo/detail/executor.hpp>

namespace ringo {

void detail::wake_list(sync_waiter* list) noexcept {
    while (list != nullptr) {
        sync_waiter* next = list->next;  // read before the owner may resume
        list->g->home->ready(list->g);
        list = next;
    }
}

void wait_group::add(int n) {
    detail::sync_waiter* release = nullptr;
    {
        std::lock_guard lock(lock_);
        if (count_ + n < 0)
            throw panic_error("sync: negative WaitGroup counter");
        count_ += n;
        if (count_ == 0)
            release = waiters_.take_all();
    }
    // From here on, nothing of *this is touched: a waiter may destroy it.
    detail::wake_list(release);
}

}  // namespace ringo
