// The context tree (see context.hpp).
#include <ringo/context.hpp>

#include <mutex>
#include <vector>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/runtime.hpp>

namespace ringo::detail {

ctx_node::~ctx_node() {
    if (parent_ != nullptr)
        parent_->release();
}

// A cancellable node: with_cancel, with_cancel_cause, with_deadline.
class cancel_node final : public ctx_node {
public:
    cancel_node(ctx_node* parent, std::optional<clock::time_point> deadline)
        : ctx_node(parent), deadline_(deadline) {
        timer_.owner = this;
        timer_.on_event = &on_timer;
    }
    ~cancel_node() override {
        unlink_from_parent();
        if (done_ != nullptr)
            done_->release();
    }

    cancel_node* cancel_ancestor() noexcept override { return this; }
    std::optional<clock::time_point> deadline() const noexcept override {
        return deadline_ ? deadline_ : ctx_node::deadline();
    }

    // Links this new node under the nearest cancellable ancestor, or cancels it
    // at once if that one is already cancelled.
    void attach() {
        cancel_node* p = parent_ != nullptr ? parent_->cancel_ancestor() : nullptr;
        if (p == nullptr)
            return;
        std::error_code err, cause;
        {
            std::lock_guard lock(p->mu_);
            if (p->done_flag_.load(std::memory_order_relaxed)) {
                err = p->err_;
                cause = p->cause_;
            } else {
                next_sibling_ = p->first_child_;
                if (next_sibling_ != nullptr)
                    next_sibling_->prev_sibling_ = this;
                p->first_child_ = this;
                ++p->children_;
                linked_to_ = p;
                linked_ = true;
            }
        }
        if (err)
            cancel(err, cause);
    }

    void arm_deadline(executor& home) {
        {
            std::lock_guard lock(mu_);
            if (done_flag_.load(std::memory_order_relaxed))
                return;
            timer_state_ = armed;
            home_ = &home;
        }
        retain();  // the heap's reference
        home.add_timer(&timer_, *deadline_);
    }

    void cancel(std::error_code err, std::error_code cause) noexcept {
        chan_waiter<std::monostate>* woken = nullptr;
        std::vector<cancel_node*> children;
        std::vector<std::shared_ptr<ctx_callback>> callbacks;
        bool remove_timer = false, post_timer = false;
        {
            std::lock_guard lock(mu_);
            if (done_flag_.load(std::memory_order_relaxed))
                return;
            err_ = err;
            cause_ = cause ? cause : err;
            done_flag_.store(true, std::memory_order_release);
            if (done_ != nullptr) {
                std::lock_guard chan_lock(done_->lock);
                woken = done_->close_locked();
            }
            children.reserve(children_);
            for (cancel_node* c = first_child_; c != nullptr; c = c->next_sibling_) {
                c->linked_ = false;  // a dying child then does not unlink itself
                if (c->try_retain())
                    children.push_back(c);
            }
            first_child_ = nullptr;
            children_ = 0;
            callbacks.swap(callbacks_);
            if (timer_state_ == armed) {
                if (home_ == this_executor) {
                    timer_state_ = idle;
                    remove_timer = true;
                } else {
                    timer_state_ = disarming;  // home removes it on the sync request
                    post_timer = true;
                }
            }
        }
        wake_all(woken);
        for (cancel_node* c : children) {
            c->cancel(err, cause_);
            c->release();
        }
        for (auto& cb : callbacks)
            cb->on_cancel();
        unlink_from_parent();
        if (post_timer)
            home_->post_timer_sync(&timer_);
        if (remove_timer) {  // last: may free this node
            home_->remove_timer(&timer_);
            release();
        }
    }

    bool done() const noexcept { return done_flag_.load(std::memory_order_acquire); }
    std::error_code err() const noexcept { return done() ? err_ : std::error_code(); }
    std::error_code cause() const noexcept { return done() ? cause_ : std::error_code(); }

    recv_chan<std::monostate> done_chan() {
        std::lock_guard lock(mu_);
        if (done_ == nullptr) {
            done_ = new chan_state<std::monostate>(0);
            if (done_flag_.load(std::memory_order_relaxed)) {
                std::lock_guard chan_lock(done_->lock);
                (void)done_->close_locked();  // nobody waits yet
            }
        }
        done_->retain();
        return recv_chan<std::monostate>(chan_ref<std::monostate>(done_));
    }

    void add_callback(std::shared_ptr<ctx_callback> cb) {
        {
            std::lock_guard lock(mu_);
            if (!done_flag_.load(std::memory_order_relaxed)) {
                callbacks_.push_back(std::move(cb));
                return;
            }
        }
        cb->on_cancel();
    }
    void remove_callback(const ctx_callback* cb) noexcept {
        std::lock_guard lock(mu_);
        std::erase_if(callbacks_, [cb](const auto& p) { return p.get() == cb; });
    }
    std::size_t child_count() noexcept {
        std::lock_guard lock(mu_);
        return children_;
    }

private:
    struct deadline_timer : timer_node {
        cancel_node* owner = nullptr;
    };
    enum timer_status { idle, armed, disarming };

    void unlink_from_parent() noexcept {
        cancel_node* p = linked_to_;
        if (p == nullptr)
            return;
        std::lock_guard lock(p->mu_);
        if (!linked_)
            return;
        linked_ = false;
        if (prev_sibling_ != nullptr)
            prev_sibling_->next_sibling_ = next_sibling_;
        else
            p->first_child_ = next_sibling_;
        if (next_sibling_ != nullptr)
            next_sibling_->prev_sibling_ = prev_sibling_;
        --p->children_;
    }

    // On home_'s thread.
    static void on_timer(timer_node* t, timer_event e, clock::time_point) noexcept {
        cancel_node* n = static_cast<deadline_timer*>(t)->owner;
        bool fire = false;
        {
            std::lock_guard lock(n->mu_);
            if (e == timer_event::fire) {
                fire = n->timer_state_ == armed;
                if (fire)
                    n->timer_state_ = idle;
                else if (n->timer_state_ == disarming)
                    return;  // the sync request that follows drops the reference
            } else {
                n->timer_state_ = idle;
            }
        }
        if (e == timer_event::sync)
            n->home_->remove_timer(t);
        if (fire)
            n->cancel(make_error_code(errc::deadline_exceeded), {});
        n->release();  // the heap's reference
    }

    const std::optional<clock::time_point> deadline_;
    std::atomic<bool> done_flag_{false};

    spinlock mu_;
    // Guarded by mu_ (err_ and cause_ are written once, before done_flag_).
    std::error_code err_, cause_;
    chan_state<std::monostate>* done_ = nullptr;  // made on first done()
    cancel_node* first_child_ = nullptr;
    std::size_t children_ = 0;
    std::vector<std::shared_ptr<ctx_callback>> callbacks_;
    timer_status timer_state_ = idle;
    executor* home_ = nullptr;
    deadline_timer timer_;

    // Guarded by linked_to_->mu_.
    cancel_node* linked_to_ = nullptr;  // the ancestor whose child list holds us (set once)
    cancel_node* prev_sibling_ = nullptr;
    cancel_node* next_sibling_ = nullptr;
    bool linked_ = false;
};

ctx_node* new_cancel_node(const ctx_ref& parent, std::optional<clock::time_point> deadline) {
    auto* n = new cancel_node(parent.share(), deadline);
    n->attach();
    return n;
}

void cancel(cancel_node* n, std::error_code err, std::error_code cause) noexcept { n->cancel(err, cause); }
bool is_done(cancel_node* n) noexcept { return n->done(); }
std::error_code err_of(cancel_node* n) noexcept { return n->err(); }
std::error_code cause_of(cancel_node* n) noexcept { return n->cause(); }
recv_chan<std::monostate> done_of(cancel_node* n) { return n->done_chan(); }
void on_cancel(cancel_node* n, std::shared_ptr<ctx_callback> cb) { n->add_callback(std::move(cb)); }
void forget_callback(cancel_node* n, const ctx_callback* cb) noexcept { n->remove_callback(cb); }
std::size_t child_count(cancel_node* n) noexcept { return n->child_count(); }

executor& current_executor(const char* what) {
    if (this_executor == nullptr)
        outside_run(what);
    return *this_executor;
}

void ctx_after_func::on_cancel() noexcept {
    int pending = 0;
    if (state_.compare_exchange_strong(pending, 1, std::memory_order_acq_rel))
        start_task();
}

bool ctx_after_func::stop() {
    int pending = 0;
    if (!state_.compare_exchange_strong(pending, 2, std::memory_order_acq_rel))
        return false;
    if (node_ != nullptr)
        forget_callback(node_, this);
    return true;
}

stop_func after_func_ctx(const context&, std::shared_ptr<ctx_after_func> cb) {
    if (cb->node_ != nullptr) {
        cb->node_->retain();
        cb->keep_ = ctx_ref(cb->node_);
        on_cancel(cb->node_, cb);
    }
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
    select_awaiter<false, recv_case<std::monostate>, recv_case<clock::time_point>> s(
        site, recv_case<std::monostate>{state_of(done)}, recv_case<clock::time_point>{state_of(timeout)});
    auto r = co_await s;
    co_return r.index() == 0 ? c.err() : std::error_code();
}

namespace {

// Requests a stop on a std::stop_source when its context is cancelled.
struct stop_source_callback final : ctx_callback {
    std::stop_source source;
    void on_cancel() noexcept override { source.request_stop(); }
};

}  // namespace

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
    return {context(n), cancel_func(n)};
}

std::pair<context, cancel_cause_func> with_cancel_cause(context parent) {
    detail::ctx_ref n(detail::new_cancel_node(parent.node(), std::nullopt));
    return {context(n), cancel_cause_func(n)};
}

std::pair<context, cancel_func> with_deadline(context parent, clock::time_point d) {
    if (auto cur = parent.deadline(); cur && *cur <= d)
        return with_cancel(std::move(parent));  // the parent's earlier deadline applies
    detail::ctx_ref n(detail::new_cancel_node(parent.node(), d));
    auto* c = static_cast<detail::cancel_node*>(n.get());
    if (d <= clock::now())
        detail::cancel(c, make_error_code(errc::deadline_exceeded), {});
    else
        c->arm_deadline(detail::current_executor("ringo::with_deadline"));
    return {context(n), cancel_func(n)};
}

std::pair<context, cancel_func> with_timeout(context parent, clock::duration d) {
    return with_deadline(std::move(parent), clock::now() + d);
}

std::error_code cause(const context& c) {
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    return n != nullptr ? detail::cause_of(n) : std::error_code();
}

context without_cancel(context parent) {
    return context(detail::ctx_ref(new detail::detached_node(parent.node().share())));
}

std::stop_token to_stop_token(const context& c) {
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    if (n == nullptr)
        return {};  // can never be stopped
    auto cb = std::make_shared<detail::stop_source_callback>();
    std::stop_token token = cb->source.get_token();
    detail::on_cancel(n, std::move(cb));
    return token;
}

}  // namespace ringo
