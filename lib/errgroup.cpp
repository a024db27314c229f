// errgroup (see errgroup.hpp).
#include <ringo/errgroup.hpp>

#include <ringo/detail/executor.hpp>

namespace ringo {
namespace detail {

void errgroup_state::fail(std::error_code e, std::exception_ptr x) noexcept {
    std::exception_ptr thrown = x;
    bool first;
    {
        std::lock_guard l(lock);
        first = !failed;
        if (first) {
            failed = true;
            err = e;
            exc = std::move(x);
        }
    }
    if (!first)
        return;
    std::error_code cause = e;
    if (thrown != nullptr) {
        cause = make_error_code(errc::canceled);
        try {
            std::rethrow_exception(thrown);
        } catch (const std::system_error& se) {
            cause = se.code();
        } catch (...) {
        }
    }
    cancel(cause);
}

void errgroup_state::finish() noexcept {
    sync_waiter* wake_slot = nullptr;
    sync_waiter* wake_space = nullptr;
    sync_waiter* wake_waiters = nullptr;
    {
        std::lock_guard l(lock);
        --active;
        --running;
        if (tickets > next_grant) {  // hand the slot to the oldest ticket
            ++running;
            std::uint64_t granted = next_grant++;
            auto* w = static_cast<slot_awaiter::ticket_waiter*>(slot_waiters.pop_front());
            if (w != nullptr && w->ticket != granted) {  // that task has not parked yet
                slot_waiters.push_front(w);
                w = nullptr;
            }
            if (w != nullptr)
                wake_slot = w;  // popped: its link.next is null
        }
        if (limit < 0 || active < limit)
            wake_space = space_waiters.take_all();
        if (active == 0)
            wake_waiters = waiters.take_all();
    }
    wake_list(wake_slot);
    wake_list(wake_space);
    wake_list(wake_waiters);
}

task<void> wait_for_ticket(errgroup_state& st, std::uint64_t ticket) {
    // The go() call that started this task is its spawn site.
    slot_awaiter slot(st, ticket, current_task("ringo::errgroup::go")->spawn_site, "ringo::errgroup::go");
    co_await slot;
}

bool slot_awaiter::await_suspend(std::coroutine_handle<> h) {
    std::lock_guard l(st.lock);
    if (ticket < st.next_grant)
        return false;  // granted before we got here
    node.g = park(h, task_state::errgroup, site, what);
    node.ticket = ticket;
    st.slot_waiters.insert_sorted(&node, [](const sync_waiter* a, const sync_waiter* b) {
        return static_cast<const ticket_waiter*>(a)->ticket < static_cast<const ticket_waiter*>(b)->ticket;
    });
    node.queued_in(st.lock, st.slot_waiters);
    return true;
}

}  // namespace detail

errgroup::errgroup() : st_(std::make_shared<detail::errgroup_state>()) {}

errgroup::errgroup(context parent) : errgroup() {
    auto [ctx, cancel] = with_cancel_cause(std::move(parent));
    st_->ctx = std::move(ctx);
    st_->cancel = std::move(cancel);
}

context errgroup::get_context() const { return st_->ctx ? *st_->ctx : background(); }

void errgroup::set_limit(int n) {
    std::lock_guard l(st_->lock);
    if (st_->active != 0)
        throw panic_error("errgroup: modify limit while " + std::to_string(st_->active) +
                          " goroutines in the group are still active");
    st_->limit = n;
}

std::uint64_t errgroup::start() {
    std::lock_guard l(st_->lock);
    ++st_->active;
    bool free = (st_->limit < 0 || st_->running < st_->limit) && st_->tickets == st_->next_grant;
    if (free) {
        ++st_->running;  // takes its slot now
        return detail::no_ticket;
    }
    return st_->tickets++;  // waits for a slot inside the task, in go() order
}

bool errgroup::start_if_free() {
    std::lock_guard l(st_->lock);
    if (!(st_->limit < 0 || st_->running < st_->limit) || st_->tickets != st_->next_grant)
        return false;
    ++st_->active;
    ++st_->running;
    return true;
}

bool errgroup::waiter::await_suspend(std::coroutine_handle<> h) {
    std::lock_guard l(st.lock);
    bool ready = for_slot ? (st.limit < 0 || st.active < st.limit) : st.active == 0;
    if (ready)
        return false;
    node.park_in(h, detail::task_state::errgroup, site, for_slot ? "ringo::errgroup::wait_for_slot" : "ringo::errgroup::wait",
                 st.lock, for_slot ? st.space_waiters : st.waiters);
    return true;
}

std::error_code errgroup::waiter::await_resume() {
    node.dequeued();
    if (for_slot)
        return {};
    st.cancel();  // as Go: the context is cancelled when wait returns
    std::lock_guard l(st.lock);
    if (st.exc)
        std::rethrow_exception(st.exc);
    return st.err;
}

}  // namespace ringo
