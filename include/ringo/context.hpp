// ringo/context.hpp - Go's context package: cancellation trees with
// deadlines, values and causes, wired into select, sleeps and channels.
//
//   auto [ctx, cancel] = ringo::with_timeout(parent, 100ms);
//   auto r = co_await ringo::select(ringo::recv(jobs), ringo::recv(ctx.done()));
//   if (r.index() == 1) co_return ctx.err();          // errc::canceled / errc::deadline_exceeded
//   auto [v, err] = co_await ringo::recv(ctx, jobs);   // gives up when ctx is done
//   std::error_code e = co_await ringo::sleep_for(ctx, 1s);
//
// A context is an immutable, cheap-to-copy handle, safe to share across
// threads. Cancelling a context cancels all its descendants: when cancel()
// returns, every descendant's err() is set. A child leaves its parent when it
// is cancelled or when its last handle (context or cancel function) is gone,
// so a long-lived parent does not accumulate children.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <ringo/chan.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/errors.hpp>
#include <ringo/select.hpp>
#include <ringo/task.hpp>
#include <ringo/time.hpp>

namespace ringo {

// A typed key for context values; its identity is its address:
//   static const ringo::context_key<std::string> request_id;
template <class T>
class context_key {
public:
    constexpr context_key() = default;
    context_key(const context_key&) = delete;
    context_key& operator=(const context_key&) = delete;
};

namespace detail {

class cancel_node;

// A node of the context tree. Intrusively counted; holds its parent.
class ctx_node {
public:
    explicit ctx_node(ctx_node* parent) noexcept : parent_(parent) {}  // adopts a counted parent
    virtual ~ctx_node();
    ctx_node(const ctx_node&) = delete;
    ctx_node& operator=(const ctx_node&) = delete;

    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }
    // Retains unless the count already reached zero (the node is dying).
    bool try_retain() noexcept {
        int n = refs_.load(std::memory_order_relaxed);
        while (n != 0)
            if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
                return true;
        return false;
    }

    // The nearest node that can be cancelled (this one included), or null.
    virtual cancel_node* cancel_ancestor() noexcept { return parent_ != nullptr ? parent_->cancel_ancestor() : nullptr; }
    virtual std::optional<clock::time_point> deadline() const noexcept {
        return parent_ != nullptr ? parent_->deadline() : std::nullopt;
    }
    virtual const void* find(const void* key) const noexcept { return parent_ != nullptr ? parent_->find(key) : nullptr; }

protected:
    ctx_node* parent_;  // counted; null: background

private:
    std::atomic<int> refs_{1};
};

// A counted reference to a node; null is background().
class ctx_ref {
public:
    ctx_ref() noexcept = default;
    explicit ctx_ref(ctx_node* n) noexcept : n_(n) {}  // adopts one count
    ctx_ref(const ctx_ref& o) noexcept : n_(o.n_) {
        if (n_ != nullptr)
            n_->retain();
    }
    ctx_ref(ctx_ref&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    ctx_ref& operator=(ctx_ref o) noexcept {
        std::swap(n_, o.n_);
        return *this;
    }
    ~ctx_ref() {
        if (n_ != nullptr)
            n_->release();
    }
    ctx_node* get() const noexcept { return n_; }
    // A new counted pointer to the node (for a child's parent link).
    ctx_node* share() const noexcept {
        if (n_ != nullptr)
            n_->retain();
        return n_;
    }

private:
    ctx_node* n_ = nullptr;
};

template <class T>
class value_node final : public ctx_node {
public:
    value_node(ctx_node* parent, const void* key, T v) : ctx_node(parent), key_(key), value_(std::move(v)) {}
    const void* find(const void* key) const noexcept override { return key == key_ ? &value_ : ctx_node::find(key); }

private:
    const void* key_;
    T value_;
};

// without_cancel: values pass through; cancellation and deadline do not.
class detached_node final : public ctx_node {
public:
    using ctx_node::ctx_node;
    cancel_node* cancel_ancestor() noexcept override { return nullptr; }
    std::optional<clock::time_point> deadline() const noexcept override { return std::nullopt; }
};

// Something to run when a context is cancelled, on the cancelling thread.
struct ctx_callback {
    virtual ~ctx_callback() = default;
    virtual void on_cancel() noexcept = 0;
};

// lib/context.cpp
ctx_node* new_cancel_node(const ctx_ref& parent, std::optional<clock::time_point> deadline);
void cancel(cancel_node* n, std::error_code err, std::error_code cause) noexcept;
bool is_done(cancel_node* n) noexcept;
std::error_code err_of(cancel_node* n) noexcept;
std::error_code cause_of(cancel_node* n) noexcept;
recv_chan<std::monostate> done_of(cancel_node* n);
// Registers cb to run when n is cancelled; runs it at once if n already is.
void on_cancel(cancel_node* n, std::shared_ptr<ctx_callback> cb);
void forget_callback(cancel_node* n, const ctx_callback* cb) noexcept;
std::size_t child_count(cancel_node* n) noexcept;

}  // namespace detail

class context {
public:
    // background(): never cancelled, no deadline, no values.
    context() noexcept = default;

    // A channel closed when the context is cancelled; nil (blocks forever, a
    // disabled select case) for a context that can never be cancelled.
    recv_chan<std::monostate> done() const { return c() != nullptr ? detail::done_of(c()) : recv_chan<std::monostate>(); }
    // {} while not cancelled; then errc::canceled or errc::deadline_exceeded.
    std::error_code err() const noexcept { return c() != nullptr ? detail::err_of(c()) : std::error_code(); }
    // The deadline, if the context or an ancestor has one.
    std::optional<clock::time_point> deadline() const noexcept {
        return node_.get() != nullptr ? node_.get()->deadline() : std::nullopt;
    }
    // The value for k of the nearest ancestor that has one, or null. The
    // pointer lives as long as any handle to this context.
    template <class T>
    const T* value(const context_key<T>& k) const noexcept {
        return node_.get() != nullptr ? static_cast<const T*>(node_.get()->find(&k)) : nullptr;
    }

    explicit context(detail::ctx_ref n) noexcept : node_(std::move(n)) {}
    const detail::ctx_ref& node() const noexcept { return node_; }

private:
    detail::cancel_node* c() const noexcept {
        return node_.get() != nullptr ? node_.get()->cancel_ancestor() : nullptr;
    }
    detail::ctx_ref node_;
};

inline context background() noexcept { return {}; }
inline context todo() noexcept { return {}; }

// Cancels its context (and every descendant) with errc::canceled. Copyable;
// calling it again does nothing. Any thread.
class cancel_func {
public:
    cancel_func() noexcept = default;
    explicit cancel_func(detail::ctx_ref n) noexcept : node_(std::move(n)) {}
    void operator()() const noexcept;

private:
    detail::ctx_ref node_;
};

// As cancel_func, and records a cause (Go's CancelCauseFunc); an empty cause
// means errc::canceled.
class cancel_cause_func {
public:
    cancel_cause_func() noexcept = default;
    explicit cancel_cause_func(detail::ctx_ref n) noexcept : node_(std::move(n)) {}
    void operator()(std::error_code cause = {}) const noexcept;

private:
    detail::ctx_ref node_;
};

std::pair<context, cancel_func> with_cancel(context parent);
// A child cancelled at d (errc::deadline_exceeded), or earlier with its parent.
// A d later than the parent's deadline keeps the parent's; a past d cancels at
// once. The deadline's timer lives on the calling thread's executor: needs a
// runtime unless d has passed.
std::pair<context, cancel_func> with_deadline(context parent, clock::time_point d);
std::pair<context, cancel_func> with_timeout(context parent, clock::duration d);
std::pair<context, cancel_cause_func> with_cancel_cause(context parent);
// The cause of c's cancellation: what cancel_cause_func was given (or the
// cause inherited from the ancestor that was cancelled), err() if cancelled
// without one, {} if not cancelled.
std::error_code cause(const context& c);
// A child that carries parent's values but is never cancelled and has no deadline.
context without_cancel(context parent);

template <class T>
context with_value(context parent, const context_key<T>& k, std::type_identity_t<T> v) {
    return context(detail::ctx_ref(new detail::value_node<T>(parent.node().share(), &k, std::move(v))));
}

// A std::stop_token that is stopped when c is cancelled (for std::jthread,
// std::condition_variable_any and friends).
std::stop_token to_stop_token(const context& c);

namespace detail {

// context.AfterFunc's state: spawns f on `home` when the context is cancelled.
class ctx_after_func : public ctx_callback, public stoppable {
public:
    ctx_after_func(executor* home, cancel_node* n) : home_(home), node_(n) {}
    void on_cancel() noexcept override;
    bool stop() override;

protected:
    virtual void start_task() noexcept = 0;
    executor* home_;
    ctx_ref keep_;  // keeps the node alive for stop()

private:
    friend stop_func after_func_ctx(const context&, std::shared_ptr<ctx_after_func>);
    cancel_node* node_;
    std::atomic<int> state_{0};  // 0 pending, 1 ran, 2 stopped
};

template <class F>
class ctx_after_func_of final : public ctx_after_func {
public:
    ctx_after_func_of(executor* home, cancel_node* n, F f, std::source_location site)
        : ctx_after_func(home, n), f_(std::move(f)), site_(site) {}

private:
    void start_task() noexcept override { spawn_from_callback(*home_, std::move(f_), site_); }
    F f_;
    std::source_location site_;
};

stop_func after_func_ctx(const context& c, std::shared_ptr<ctx_after_func> cb);
executor& current_executor(const char* what);

// The context forms of channel operations and sleep.
template <class T>
task<std::pair<std::optional<T>, std::error_code>> recv_ctx(context c, recv_chan<T> ch, std::source_location site) {
    if (std::error_code e = c.err())
        co_return std::pair{std::optional<T>(), e};
    recv_chan<std::monostate> done = c.done();
    if (!done) {
        auto v = co_await ch.recv(site);
        co_return std::pair{std::move(v), std::error_code()};
    }
    select_awaiter<false, recv_case<T>, recv_case<std::monostate>> s(site, recv_case<T>{state_of(ch)},
                                                                     recv_case<std::monostate>{state_of(done)});
    auto r = co_await s;
    if (r.index() == 1)
        co_return std::pair{std::optional<T>(), c.err()};
    co_return std::pair{r.template get<0>(), std::error_code()};
}

template <class T>
task<std::error_code> send_ctx(context c, send_chan<T> ch, T v, std::source_location site) {
    if (std::error_code e = c.err())
        co_return e;
    recv_chan<std::monostate> done = c.done();
    if (!done) {
        co_await ch.send(std::move(v), site);
        co_return std::error_code();
    }
    select_awaiter<false, send_case<T>, recv_case<std::monostate>> s(
        site, send_case<T>{state_of(ch), &v, std::nullopt}, recv_case<std::monostate>{state_of(done)});
    auto r = co_await s;
    co_return r.index() == 1 ? c.err() : std::error_code();
}

task<std::error_code> sleep_ctx(context c, clock::duration d, std::source_location site);

}  // namespace detail

// context.AfterFunc: when c is cancelled, runs f (moved into the new task's
// frame) as a new task, once. The returned stop_func returns true if it kept
// f from running. Needs a runtime.
template <class F>
    requires detail::spawnable_v<F>
stop_func after_func(const context& c, F f, std::source_location site = std::source_location::current()) {
    detail::executor& home = detail::current_executor("ringo::after_func");
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    return detail::after_func_ctx(c, std::make_shared<detail::ctx_after_func_of<F>>(&home, n, std::move(f), site));
}

// co_await sleep_for(ctx, d): sleeps d, or less if ctx is cancelled first;
// returns {} or ctx.err().
[[nodiscard]] inline task<std::error_code> sleep_for(const context& c, clock::duration d,
                                                     std::source_location site = std::source_location::current()) {
    return detail::sleep_ctx(c, d, site);
}

// co_await recv(ctx, ch): {value, {}} as ch.recv() would give, or
// {nullopt, ctx.err()} if ctx is cancelled first - then nothing is consumed.
template <class T>
[[nodiscard]] task<std::pair<std::optional<T>, std::error_code>> recv(
    const context& c, const recv_chan<T>& ch, std::source_location site = std::source_location::current()) {
    return detail::recv_ctx<T>(c, ch, site);
}
template <class T>
[[nodiscard]] task<std::pair<std::optional<T>, std::error_code>> recv(
    const context& c, const chan<T>& ch, std::source_location site = std::source_location::current()) {
    return detail::recv_ctx<T>(c, recv_chan<T>(ch), site);
}

// co_await send(ctx, ch, v): {} once a receiver or the buffer took v, or
// ctx.err() if ctx is cancelled first - then nothing is sent.
template <class T, class U>
    requires std::constructible_from<T, U&&>
[[nodiscard]] task<std::error_code> send(const context& c, const send_chan<T>& ch, U&& v,
                                         std::source_location site = std::source_location::current()) {
    return detail::send_ctx<T>(c, ch, T(std::forward<U>(v)), site);
}
template <class T, class U>
    requires std::constructible_from<T, U&&>
[[nodiscard]] task<std::error_code> send(const context& c, const chan<T>& ch, U&& v,
                                         std::source_location site = std::source_location::current()) {
    return detail::send_ctx<T>(c, send_chan<T>(ch), T(std::forward<U>(v)), site);
}

}  // namespace ringo
