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
// threads. Cancelling a context cancels all its descendants, linearizably
// (as Go 1.23): once a context's err() is set, or any cancel() of it has
// returned, every descendant's err() is set - a cancel() that finds another
// thread's cancel of the same subtree under way waits for it. A child leaves its parent when it
// is cancelled or when its last handle (context or cancel function) is gone,
// so a long-lived parent does not accumulate children. Chains of any depth
// (with_cancel or with_value nested 100,000 times) are cancelled, searched
// and destroyed without recursion.
//
// to_stop_token() needs the standard library's <stop_token> (std::jthread):
// it is declared only when __cpp_lib_jthread is defined (libstdc++), so the
// headers also build with libc++ 16 (-stdlib=libc++), which lacks it;
// RINGO_HAS_STOP_TOKEN says which.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <version>

// std::stop_token comes with std::jthread; Debian's libc++ 16 has neither, so
// to_stop_token() exists only where the library provides them.
#if defined(__cpp_lib_jthread)
#include <stop_token>
#define RINGO_HAS_STOP_TOKEN 1
#else
#define RINGO_HAS_STOP_TOKEN 0
#endif

#include <ringo/chan.hpp>
#include <ringo/detail/root.hpp>
#include <ringo/detail/spinlock.hpp>
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

// A node of the context tree. Intrusively counted; holds its parent. Chains
// may be arbitrarily deep (a with_value per request in a loop): nothing here
// recurses along the chain - release, lookups and cancel iterate.
class ctx_node {
public:
    // Adopts a counted parent. `cancel` is the nearest cancellable node, this
    // one included (null: none), fixed for the node's life.
    ctx_node(ctx_node* parent, cancel_node* cancel) noexcept : parent_(parent), cancel_(cancel) {}
    virtual ~ctx_node() {
        if (parent_ != nullptr)  // only when deleted directly; release() unhooks it first
            parent_->release();
    }
    ctx_node(const ctx_node&) = delete;
    ctx_node& operator=(const ctx_node&) = delete;

    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    // Disposes of the node at zero, then releases its parent the same way,
    // in a loop (a deep chain is not destroyed by recursion).
    void release() noexcept {
        ctx_node* n = this;
        while (n != nullptr && n->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            ctx_node* parent = std::exchange(n->parent_, nullptr);
            n->dispose();
            n = parent;
        }
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
    cancel_node* cancel_ancestor() const noexcept { return cancel_; }
    // The value for key of the nearest node that has one, or null.
    const void* find(const void* key) const noexcept {
        for (const ctx_node* n = this; n != nullptr; n = n->parent_)
            if (const void* v = n->own_value(key))
                return v;
        return nullptr;
    }

protected:
    // This node's own value for key, or null.
    virtual const void* own_value(const void*) const noexcept { return nullptr; }
    // The count reached zero (parent_ already taken by release): ends the
    // node. Deletes it; a cancel_node's memory may outlive this (its
    // embedded done() channel, lib/context.cpp).
    virtual void dispose() noexcept { delete this; }

    ctx_node* parent_;  // counted; null: background

private:
    cancel_node* const cancel_;
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
    value_node(ctx_node* parent, const void* key, T v)
        : ctx_node(parent, parent != nullptr ? parent->cancel_ancestor() : nullptr), key_(key), value_(std::move(v)) {}

private:
    const void* own_value(const void* key) const noexcept override { return key == key_ ? &value_ : nullptr; }
    const void* key_;
    T value_;
};

// without_cancel: values pass through; cancellation and deadline do not.
class detached_node final : public ctx_node {
public:
    explicit detached_node(ctx_node* parent) noexcept : ctx_node(parent, nullptr) {}
};

// Something to run when a context is cancelled, on the cancelling thread.
// When its node dies uncancelled (every handle gone), it moves to the
// nearest cancellable ancestor the node was linked under, which is what
// could still cancel it; with none, it is dropped (it can never run).
struct ctx_callback {
    virtual ~ctx_callback() = default;
    virtual void on_cancel() noexcept = 0;

    spinlock lock;
    cancel_node* node = nullptr;  // guarded by lock: the node whose list holds it (null: none)
};

// lib/context.cpp
ctx_node* new_cancel_node(const ctx_ref& parent, std::optional<clock::time_point> deadline,
                          std::error_code deadline_cause = {});
void cancel(cancel_node* n, std::error_code err, std::error_code cause) noexcept;
std::optional<clock::time_point> deadline_of(cancel_node* n) noexcept;
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
        return c() != nullptr ? detail::deadline_of(c()) : std::nullopt;
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
// runtime unless d has passed (panic_error naming the call otherwise).
std::pair<context, cancel_func> with_deadline(context parent, clock::time_point d);
// with_deadline(parent, now + d); a d so long that now + d overflows never
// expires.
std::pair<context, cancel_func> with_timeout(context parent, clock::duration d);
// Go's WithDeadlineCause / WithTimeoutCause: as with_deadline / with_timeout,
// and when the deadline passes, err() is errc::deadline_exceeded and
// cause() is `cause` (an empty cause means errc::deadline_exceeded). When the
// parent's earlier deadline applies instead, the cause is the parent's.
std::pair<context, cancel_func> with_deadline_cause(context parent, clock::time_point d, std::error_code cause);
std::pair<context, cancel_func> with_timeout_cause(context parent, clock::duration d, std::error_code cause);
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

#if RINGO_HAS_STOP_TOKEN
// A std::stop_token that is stopped when c is cancelled (for std::jthread,
// std::condition_variable_any and friends). Only with a standard library that
// has <stop_token> (libstdc++; libc++ 16 has none): see the top of this file.
std::stop_token to_stop_token(const context& c);
#endif

namespace detail {

// context.AfterFunc's state: spawns f on `home` when the context is cancelled.
// Held by its node's callback list and by the stop_func, never the other
// way round: a context nobody can cancel any more frees it (no cycle).
class ctx_after_func : public ctx_callback, public stoppable {
public:
    explicit ctx_after_func(executor* home) : home_(home) {}
    void on_cancel() noexcept override;
    bool stop() override;

protected:
    virtual void start_task() noexcept = 0;
    executor* home_;

private:
    enum class state { pending, ran, stopped };
    std::atomic<state> state_{state::pending};
};

template <class F>
class ctx_after_func_of final : public ctx_after_func {
public:
    ctx_after_func_of(executor* home, F f, std::source_location site)
        : ctx_after_func(home), f_(std::move(f)), site_(site) {}

private:
    void start_task() noexcept override { spawn_from_callback(*home_, std::move(f_), site_); }
    F f_;
    std::source_location site_;
};

stop_func after_func_ctx(cancel_node* n, std::shared_ptr<ctx_after_func> cb);
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

// The caller's object, referred to by a send.
template <class T>
struct caller_value {
    T* p;
};

// V is T (the task owns the value) or caller_value<T>: either way the value
// is moved from only if the send happens.
template <class T, class V>
task<std::error_code> send_ctx(context c, send_chan<T> ch, V v, std::source_location site) {
    T* value;
    if constexpr (std::is_same_v<V, caller_value<T>>)
        value = v.p;
    else
        value = &v;
    if (std::error_code e = c.err())
        co_return e;
    recv_chan<std::monostate> done = c.done();
    if (!done) {
        co_await ch.send(std::move(*value), site);
        co_return std::error_code();
    }
    select_awaiter<false, send_case<T>, recv_case<std::monostate>> s(
        site, send_case<T>{state_of(ch), value, std::nullopt}, recv_case<std::monostate>{state_of(done)});
    auto r = co_await s;
    co_return r.index() == 1 ? c.err() : std::error_code();
}

// An rvalue T is the caller's object: refer to it. Anything else becomes a T.
template <class T, class U>
task<std::error_code> send_ctx_of(const context& c, send_chan<T> ch, U&& v, std::source_location site) {
    if constexpr (std::is_same_v<U, T>)
        return send_ctx<T>(c, std::move(ch), caller_value<T>{std::addressof(v)}, site);
    else
        return send_ctx<T>(c, std::move(ch), T(std::forward<U>(v)), site);
}

task<std::error_code> sleep_ctx(context c, clock::duration d, std::source_location site);

}  // namespace detail

// context.AfterFunc: when c is cancelled, runs f (moved into the new task's
// frame) as a new task, once. The returned stop_func returns true if it kept
// f from running. Needs a runtime. The registration does not keep c alive:
// if every handle to c goes and nothing can cancel it any more (no
// cancellable ancestor, no deadline), f is freed without running, as Go's
// garbage collector would; while an ancestor could still cancel it, f waits
// for that. (An f that captures c itself keeps c alive until f runs or is
// stopped.)
template <class F>
    requires detail::spawnable_v<F>
stop_func after_func(const context& c, F f, std::source_location site = std::source_location::current()) {
    detail::executor& home = detail::current_executor("ringo::after_func");
    detail::cancel_node* n = c.node().get() != nullptr ? c.node().get()->cancel_ancestor() : nullptr;
    return detail::after_func_ctx(n, std::make_shared<detail::ctx_after_func_of<F>>(&home, std::move(f), site));
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
// ctx.err() if ctx is cancelled first - then nothing is sent, and the value
// stays with the caller, as in Go's select { case ch <- v: case <-ctx.Done(): }.
// An rvalue T (std::move(p)) is referred to, not moved into the task: p is
// moved from only if it is sent, so after ctx wins p still holds its value.
// The task then refers to p: await it in the same full expression
// (co_await ringo::send(ctx, ch, std::move(p))), not stored for later. An
// lvalue is copied (yours is never touched); any other U is converted to a T
// owned by the task.
template <class T, class U>
    requires std::constructible_from<T, U&&>
[[nodiscard]] task<std::error_code> send(const context& c, const send_chan<T>& ch, U&& v,
                                         std::source_location site = std::source_location::current()) {
    return detail::send_ctx_of<T>(c, ch, std::forward<U>(v), site);
}
template <class T, class U>
    requires std::constructible_from<T, U&&>
[[nodiscard]] task<std::error_code> send(const context& c, const chan<T>& ch, U&& v,
                                         std::source_location site = std::source_location::current()) {
    return detail::send_ctx_of<T>(c, send_chan<T>(ch), std::forward<U>(v), site);
}

}  // namespace ringo
