// The context tree (see context.hpp).
#include <ringo/context.hpp>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/parked_as.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/runtime.hpp>

namespace ringo::detail {

// A cancellable node: with_cancel, with_cancel_cause, with_deadline.
//
// Its done() channel is its own base (unbuffered, closed by finish), so a
// node and its channel are one allocation and done() neither allocates nor
// locks. Two counts share the block:
//   - ctx_node's count: the node's handles (contexts, cancel functions,
//     children, a deadline timer, a walking canceller). At zero the node
//     ends (dispose: it leaves its parent, passes on its callbacks, drops
//     its timer) as it always did: a done() channel does not keep it alive.
//   - the channel's count: its recv_chan handles, plus one held by the node
//     from construction until dispose. At zero (the node ended and no
//     handle is left) the hook deletes the block.
// A done() handle kept after the node ended stays valid: closed if the node
// was cancelled before it ended, else never closed - the node has left its
// parent, so an ancestor's cancel no longer reaches it (Go's parent would
// still hold the child; the lifetime rule in context.hpp differs on purpose).
// Nodes come and go with tasks (a request's context), so the block is
// allocated as a task frame is (frame_alloc.hpp, through the channel base),
// without malloc.
class cancel_node final : public ctx_node, private chan_state<std::monostate> {
    using done_state = chan_state<std::monostate>;

public:
    using done_state::operator new;
    using done_state::operator delete;
    cancel_node(ctx_node* parent, std::optional<clock::time_point> deadline, std::error_code deadline_cause)
        : ctx_node(parent, this),
          done_state(0),
          deadline_(deadline ? deadline : inherited_deadline(parent)),
          deadline_cause_(deadline_cause) {
        on_last_release_ = &free_block;
    }
    // The node's count (not the channel's).
    using ctx_node::release;
    using ctx_node::retain;

    std::optional<clock::time_point> deadline() const noexcept { return deadline_; }

    // Links this new node under the nearest cancellable ancestor, or cancels it
    // at once if that one is already cancelled.
    void attach() {
        cancel_node* p = parent_ != nullptr ? parent_->cancel_ancestor() : nullptr;
        if (p == nullptr)
            return;
        std::error_code err, cause;
        {
            std::lock_guard guard(p->mu_);
            if (p->state_.load(std::memory_order_relaxed) != live) {  // its walk has taken its children
                err = p->err_;
                cause = p->cause_;
            } else {
                p->children_.push_front(this);
                ++p->child_count_;
                linked_to_ = p;
                linked_ = true;
            }
        }
        if (err)
            cancel(err, cause);
    }

    // Starts the deadline's timer, an after_func that cancels (as Go's
    // WithDeadline is): it holds a reference to this node until no executor
    // references it any more.
    void arm_deadline(const char* what) {
        (void)current_executor(what);  // a panic_error naming `what` outside run()
        auto* t = new deadline_timer(this);  // only deadline nodes pay for a timer
        {
            std::lock_guard guard(mu_);
            if (state_.load(std::memory_order_relaxed) != live) {
                delete t;
                return;
            }
            timer_ = t;
        }
        retain();  // the timer's; on_deadline_disposed drops it
        t->arm(*deadline_, {}, what);
        t->release(/*keep_armed=*/true);
        if (state_.load(std::memory_order_acquire) != live)  // cancelled while we armed: finish's stop may have come first
            t->stop();
    }

    // Cancels this node and every descendant, iteratively (a deep chain
    // does not recurse), and returns only when every one of them is done -
    // also when a cancel on another thread claimed this node or one below it
    // first: this one then waits for that one's walk (Go 1.23's guarantee,
    // which Go gets by propagating under the parent's mutex). Callbacks run
    // last, once the whole subtree is done.
    //
    // Two passes: claim top-down (each node records err and hands over its
    // children, still reading as not cancelled), then finish bottom-up (each
    // node becomes done - err() set, done() closed - after everything below
    // it). So a node is never seen done before its descendants. A leaf (it
    // had no children to hand over) is finished as soon as it is claimed,
    // in the first pass: nothing below it is waited for, and a wide node's
    // many children are visited once, not twice. A node claimed by another
    // canceller is waited for before its parent finishes.
    // Waits only go down the tree (a claimed node's children are reachable
    // by its claimer alone), so they cannot form a cycle.
    void cancel(std::error_code err, std::error_code cause) noexcept {
        retain();  // ours until finished: a timer's stop may drop its reference meanwhile
        std::vector<walked> nodes;  // this node, then retained descendants, each after its parent
        nodes.push_back({this, true});
        if (!claim(err, cause, nodes)) {
            wait_done();
            release();
            return;
        }
        std::error_code inherited = cause ? cause : err;  // what the descendants record as their cause
        std::vector<std::shared_ptr<ctx_callback>> callbacks;
        for (std::size_t i = 1; i < nodes.size(); ++i) {
            std::size_t before = nodes.size();
            bool ours = nodes[i].node->claim(err, inherited, nodes);  // may grow nodes
            if (ours && nodes.size() == before) {  // a leaf: nothing below it to wait for
                nodes[i].node->finish(callbacks, /*linked=*/false);
                nodes[i].node->release();  // may free it, never its parent: an earlier entry holds that
                nodes[i].node = nullptr;
                continue;
            }
            nodes[i].ours = ours;
        }
        for (std::size_t i = nodes.size(); i-- > 0;) {
            if (nodes[i].node == nullptr)  // a leaf, finished in the first pass
                continue;
            if (nodes[i].ours)
                nodes[i].node->finish(callbacks, /*linked=*/i == 0);
            else
                nodes[i].node->wait_done();
            nodes[i].node->release();  // may free it, never its parent: an earlier entry holds that
        }
        for (auto& cb : callbacks)
            cb->on_cancel();
    }

    bool done() const noexcept { return state_.load(std::memory_order_acquire) == finished; }
    // A node being cancelled (claimed) is waited for, as Go's Err() waits for
    // the canceller's lock: once a child's err() is set and its done() closed
    // (bottom-up), its ancestor's err() never reads {} any more.
    std::error_code err() const noexcept { return settled() ? err_ : std::error_code(); }
    std::error_code cause() const noexcept { return settled() ? cause_ : std::error_code(); }

    // The caller holds a count of the node, so the node's share of the
    // channel is still held: retaining is safe.
    recv_chan<std::monostate> done_chan() noexcept {
        done_state* ch = this;
        ch->retain();
        return recv_chan<std::monostate>(chan_ref<std::monostate>(ch));
    }

    // Registers cb (cb->lock held by the caller); false if already done. A
    // node being cancelled still takes it: its finish runs it.
    bool try_add_callback(std::shared_ptr<ctx_callback> cb) {
        std::lock_guard guard(mu_);
        if (state_.load(std::memory_order_relaxed) == finished)
            return false;
        cb->node = this;
        callbacks_.push_back(std::move(cb));
        return true;
    }
    void remove_callback(const ctx_callback* cb) noexcept {
        std::lock_guard guard(mu_);
        std::erase_if(callbacks_, [cb](const auto& p) { return p.get() == cb; });
    }
    std::size_t child_count() noexcept {
        std::lock_guard guard(mu_);
        return child_count_;
    }

private:
    // Only through free_block, once dispose() has ended the node.
    ~cancel_node() override = default;

    // The node's count reached zero: it ends (parent_ is already taken; the
    // caller releases that parent next). A finished node has nothing left
    // to undo - its finish, which ran to its end before the count of the
    // walk that ran it was dropped, unlinked it and took its callbacks.
    void dispose() noexcept override {
        delete std::exchange(timer_, nullptr);
        if (state_.load(std::memory_order_acquire) != finished) {
            unlink_from_parent();
            pass_on_callbacks();
        }
        drop_share(this);  // the node's share of the block
    }
    static void free_block(done_state* self) noexcept { delete static_cast<cancel_node*>(self); }
    // Out of line: inlined here, chan_state::release's `delete this` branch
    // (never taken: the hook is set) draws -Wfree-nonheap-object, as this
    // base is not at the start of the block.
    [[gnu::noinline]] static void drop_share(done_state* ch) noexcept { ch->release(); }

    struct deadline_timer : timer {
        explicit deadline_timer(cancel_node* n) noexcept : timer(&on_deadline, &on_deadline_disposed), owner(n) {}
        cancel_node* owner;
    };

    static std::optional<clock::time_point> inherited_deadline(ctx_node* parent) noexcept {
        cancel_node* p = parent != nullptr ? parent->cancel_ancestor() : nullptr;
        return p != nullptr ? p->deadline_ : std::nullopt;
    }

    // One entry of cancel's walk: a retained node, and whether this walk
    // claimed it (false: another canceller did, or it was done already).
    struct walked {
        cancel_node* node;
        bool ours;
    };

    // The first pass of cancel over this node: false if another canceller
    // claimed it already. Else records err and cause (err() still reads {}
    // until finish) and hands its children to the walk: they leave its
    // list, retained (a dying one is skipped), and no child can join it any
    // more (attach cancels a newcomer at once).
    bool claim(std::error_code err, std::error_code cause, std::vector<walked>& nodes) noexcept {
        std::lock_guard guard(mu_);
        if (state_.load(std::memory_order_relaxed) != live)
            return false;
        err_ = err;
        cause_ = cause ? cause : err;
        state_.store(claimed, std::memory_order_relaxed);
        if (nodes.capacity() - nodes.size() < child_count_)  // one reallocation for a wide node
            nodes.reserve(std::max(nodes.size() + child_count_, 2 * nodes.capacity()));
        for (cancel_node* c = children_.take_all(); c != nullptr; c = child_list::next(c)) {
            c->linked_ = false;  // a dying child then does not unlink itself
            if (c->try_retain())
                nodes.push_back({c, false});
        }
        child_count_ = 0;
        return true;
    }

    // The second pass, once every descendant is done: this node is done
    // (err() set, done() closed, waiters in wait_done released), leaves its
    // parent and stops its timer. Its callbacks join `callbacks`. `linked`:
    // it may still be on its parent's list (false: this walk took it off, in
    // the parent's claim).
    void finish(std::vector<std::shared_ptr<ctx_callback>>& callbacks, bool linked) noexcept {
        chan_waiter<std::monostate>* woken = nullptr;
        deadline_timer* stop_timer = nullptr;
        std::size_t first_callback = callbacks.size();
        std::uint32_t was;
        {
            std::lock_guard guard(mu_);
            was = state_.exchange(finished, std::memory_order_acq_rel);
            {
                std::lock_guard chan_lock(done_state::lock);
                woken = close_locked();  // once: only this finish moves claimed to finished
            }
            for (auto& cb : callbacks_)
                callbacks.push_back(std::move(cb));
            callbacks_.clear();
            stop_timer = timer_;
        }
        if (was == claimed_awaited)
            state_.notify_all();
        wake_all(woken);
        // Our callbacks no longer point at us: a stop() racing with this
        // cancel then never touches this node after it is freed.
        for (std::size_t i = first_callback; i < callbacks.size(); ++i) {
            std::lock_guard guard(callbacks[i]->lock);
            callbacks[i]->node = nullptr;
        }
        // Only now: until then an ancestor's canceller must find us in its
        // list, to wait for us before it finishes.
        if (linked)
            unlink_from_parent();
        if (stop_timer != nullptr)
            stop_timer->stop();
    }

    // True once finished; false while live; waits while claimed.
    bool settled() const noexcept {
        std::uint32_t s = state_.load(std::memory_order_acquire);
        if (s == live)
            return false;
        if (s != finished)
            const_cast<cancel_node*>(this)->wait_done();
        return true;
    }

    // Blocks the thread until a claimed node is finished; its claimer is
    // walking, never suspended (no task code runs between claim and finish).
    void wait_done() noexcept {
        std::uint32_t s = state_.load(std::memory_order_acquire);
        while (s != finished) {
            if (s == claimed &&
                !state_.compare_exchange_weak(s, claimed_awaited, std::memory_order_acquire))
                continue;  // s reloaded
            state_.wait(claimed_awaited, std::memory_order_acquire);
            s = state_.load(std::memory_order_acquire);
        }
    }

    void unlink_from_parent() noexcept {
        cancel_node* p = linked_to_;
        if (p == nullptr)
            return;
        std::lock_guard guard(p->mu_);
        if (!linked_)
            return;
        linked_ = false;
        p->children_.remove(this);
        --p->child_count_;
    }

    // Dying uncancelled: only the ancestor we were linked under can still
    // cancel what we would have, so our callbacks wait on it now (run at
    // once if it is cancelled already); with none, they can never run and
    // are dropped. The ancestor is alive: our parent chain holds it.
    void pass_on_callbacks() noexcept {
        std::vector<std::shared_ptr<ctx_callback>> mine;
        {
            std::lock_guard guard(mu_);  // a concurrent stop() may be removing one
            mine.swap(callbacks_);
        }
        for (auto& cb : mine) {
            bool run_now = false;
            {
                std::lock_guard guard(cb->lock);  // waits for a stop() that is forgetting it
                if (cb->node != this)
                    continue;  // stopped meanwhile
                cb->node = nullptr;
                if (linked_to_ != nullptr)
                    run_now = !linked_to_->try_add_callback(cb);
            }
            if (run_now)
                cb->on_cancel();
        }
    }

    static void on_deadline(timer& t, clock::time_point, std::uint64_t) noexcept {
        cancel_node* n = static_cast<deadline_timer&>(t).owner;
        n->cancel(make_error_code(errc::deadline_exceeded), n->deadline_cause_);
    }
    static void on_deadline_disposed(timer& t) noexcept { static_cast<deadline_timer&>(t).owner->release(); }

    // Set once.
    const std::optional<clock::time_point> deadline_;  // this node's or the inherited one
    const std::error_code deadline_cause_;             // cause() when the deadline passes (empty: err)

    // The cancellation state: live -> claimed (by one canceller's walk:
    // err_ and cause_ recorded, children taken; err() still reads {}) ->
    // finished (err() set; every descendant is finished too). Changed under
    // mu_, except claimed -> claimed_awaited: a thread in wait_done asks
    // finish to notify it (a futex wait on this word). Acquire loads pair
    // with finish's release.
    static constexpr std::uint32_t live = 0, claimed = 1, claimed_awaited = 2, finished = 3;
    std::atomic<std::uint32_t> state_{live};

    spinlock mu_;
    // Guarded by mu_ (err_ and cause_ are written once, at claim, and read
    // without it once state_ is finished).
    std::error_code err_, cause_;
    list_hook<cancel_node> sibling_;  // guarded by linked_to_->mu_: on its children_
    using child_list = intrusive_list<cancel_node, &cancel_node::sibling_>;
    child_list children_;  // linked uncancelled children
    std::size_t child_count_ = 0;
    std::vector<std::shared_ptr<ctx_callback>> callbacks_;
    // The deadline's timer (arm_deadline), freed with the node: it holds a
    // reference to the node until no executor references it.
    deadline_timer* timer_ = nullptr;

    // Guarded by linked_to_->mu_.
    cancel_node* linked_to_ = nullptr;  // the ancestor whose child list holds us (set once)
    bool linked_ = false;
};

ctx_node* new_cancel_node(const ctx_ref& parent, std::optional<clock::time_point> deadline,
                          std::error_code deadline_cause) {
    auto* n = new cancel_node(parent.share(), deadline, deadline_cause);
    n->attach();
    return n;
}

void cancel(cancel_node* n, std::error_code err, std::error_code cause) noexcept { n->cancel(err, cause); }
std::optional<clock::time_point> deadline_of(cancel_node* n) noexcept { return n->deadline(); }
std::error_code err_of(cancel_node* n) noexcept { return n->err(); }
std::error_code cause_of(cancel_node* n) noexcept { return n->cause(); }
recv_chan<std::monostate> done_of(cancel_node* n) { return n->done_chan(); }
void on_cancel(cancel_node* n, std::shared_ptr<ctx_callback> cb) {
    bool registered;
    {
        std::lock_guard guard(cb->lock);
        registered = n->try_add_callback(cb);
    }
    if (!registered)
        cb->on_cancel();
}
void forget_callback(cancel_node* n, const ctx_callback* cb) noexcept { n->remove_callback(cb); }
std::size_t child_count(cancel_node* n) noexcept { return n->child_count(); }

executor& current_executor(const char* what) {
    if (current_executor() == nullptr)
        outside_run(what);
    return *current_executor();
}

void ctx_after_func::on_cancel() noexcept {
    state pending = state::pending;
    if (state_.compare_exchange_strong(pending, state::ran, std::memory_order_acq_rel))
        start_task();
}

bool ctx_after_func::stop() {
    state pending = state::pending;
    if (!state_.compare_exchange_strong(pending, state::stopped, std::memory_order_acq_rel))
        return false;
    std::lock_guard l(lock);  // a dying node passing us on waits for this
    if (node != nullptr) {    // alive: a node clears it (under lock) before it goes
        forget_callback(node, this);
        node = nullptr;
    }
    return true;
}

stop_func after_func_ctx(cancel_node* n, std::shared_ptr<ctx_after_func> cb) {
    if (n != nullptr)
        on_cancel(n, cb);
    return stop_func(std::move(cb));
}

task<std::error_code> sleep_ctx(context c, clock::duration d, std::source_location site) {
    if (std::error_code e = c.err())
        co_return e;
    recv_chan<std::monostate> done = c.done();
    if (!done) {
        co_await sleep_for(d, site);
        co_return std::error_code();
    }
    if (d <= clock::duration::zero())
        co_return std::error_code();
    auto timeout = after(d);
    using timeout_case = parked_as<recv_case<clock::time_point>, task_state::sleep>;  // [sleep], not [select]
    select_awaiter<false, recv_case<std::monostate>, timeout_case> s(
        site, recv_case<std::monostate>{state_of(done)}, timeout_case{recv_case<clock::time_point>{state_of(timeout)}});
    auto r = co_await s;
    co_return r.index() == 0 ? c.err() : std::error_code();
}

#if RINGO_HAS_STOP_TOKEN
namespace {

// Requests a stop on a std::stop_source when its context is cancelled.
struct stop_source_callback final : ctx_callback {
    std::stop_source source;
    void on_cancel() noexcept override { source.request_stop(); }
};

}  // namespace
#endif

}  // namespace ringo::detail

namespace ringo {

void cancel_func::operator()() const noexcept {
    if (node_.get() != nullptr)
        detail::cancel(node_.get()->cancel_ancestor(), make_error_code(errc::canceled), {});
}

void cancel_cause_func::operator()(std::error_code cause) const noexcept {
    if (node_.get() != nullptr)
        detail::cancel(node_.get()->cancel_ancestor(), make_error_code(errc::canceled), cause);
}

std::pair<context, cancel_func> with_cancel(context parent) {
    detail::ctx_ref n(detail::new_cancel_node(parent.node(), std::nullopt));
    context child(detail::ctx_ref(n.share()));
    return {std::move(child), cancel_func(std::move(n))};
}

std::pair<context, cancel_cause_func> with_cancel_cause(context parent) {
    detail::ctx_ref n(detail::new_cancel_node(parent.node(), std::nullopt));
    context child(detail::ctx_ref(n.share()));
    return {std::move(child), cancel_cause_func(std::move(n))};
}

namespace {

// with_deadline and its variants; `what` names the call for misuse messages.
std::pair<context, cancel_func> deadline_child(context parent, clock::time_point d, std::error_code cause,
                                               const char* what) {
    if (auto cur = parent.deadline(); cur && *cur <= d)
        return with_cancel(std::move(parent));  // the parent's earlier deadline applies
    detail::ctx_ref n(detail::new_cancel_node(parent.node(), d, cause));
    auto* c = n.get()->cancel_ancestor();
    if (d <= clock::now())
        detail::cancel(c, make_error_code(errc::deadline_exceeded), cause);
    else
        c->arm_deadline(what);
    return {context(n), cancel_func(n)};
}

}  // namespace

std::pair<context, cancel_func> with_deadline(context parent, clock::time_point d) {
    return deadline_child(std::move(parent), d, {}, "ringo::with_deadline");
}

std::pair<context, cancel_func> with_timeout(context parent, clock::duration d) {
    return deadline_child(std::move(parent), detail::deadline_after(d), {}, "ringo::with_timeout");
}

std::pair<context, cancel_func> with_deadline_cause(context parent, clock::time_point d, std::error_code cause) {
    return deadline_child(std::move(parent), d, cause, "ringo::with_deadline_cause");
}

std::pair<context, cancel_func> with_timeout_cause(context parent, clock::duration d, std::error_code cause) {
    return deadline_child(std::move(parent), detail::deadline_after(d), cause, "ringo::with_timeout_cause");
}

std::error_code cause(const context& c) {
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    return n != nullptr ? detail::cause_of(n) : std::error_code();
}

context without_cancel(context parent) {
    return context(detail::ctx_ref(new detail::detached_node(parent.node().share())));
}

#if RINGO_HAS_STOP_TOKEN
std::stop_token to_stop_token(const context& c) {
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    if (n == nullptr)
        return {};  // can never be stopped
    auto cb = std::make_shared<detail::stop_source_callback>();
    std::stop_token token = cb->source.get_token();
    detail::on_cancel(n, std::move(cb));
    return token;
}
#endif

}  // namespace ringo
