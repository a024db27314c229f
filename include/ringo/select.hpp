// ringo/select.hpp - Go's select statement.
//
//   auto r = co_await ringo::select(
//       ringo::recv(jobs),                      // case 0 -> std::optional<Job>
//       ringo::send(results, std::move(res)),   // case 1 -> void
//       ringo::recv(ringo::after(100ms)));      // case 2
//   switch (r.index()) {
//   case 0: if (auto job = r.get<0>()) { ... } break;   // nullopt: jobs was closed
//   ...
//   }
//   auto r2 = ringo::try_select(ringo::recv(a), ringo::send(b, v));   // select with default: nullopt if none ready
//   auto r3 = co_await ringo::select_biased(...);                       // first ready case in written order
//
// Among ready cases one is chosen uniformly at random (select_biased: the
// first in written order). A case that loses never consumes a value and never
// delivers one. A nil channel disables its case; a select of only nil cases
// blocks forever. A send case on a closed channel that is chosen throws
// panic_error, as Go does. A T whose move constructor throws: see chan.hpp
// (the select throws it, and no case completes).
//
// ringo::send(ch, v) refers to v (an lvalue, also of a move-only T, or a
// temporary): v is moved from only if that case wins. A case therefore lives
// only as long as the full expression it is written in, and so select and
// select_biased are awaitable only as the temporary they are written as:
// `co_await ringo::select(...)` works, while `auto s = ringo::select(...);
// co_await s;` does not compile (its operator co_await is rvalue-only), since
// by then the temporaries its cases refer to are destroyed. (`co_await
// std::move(s)` would defeat that: don't.)
//
// g++ 12 (Debian 12's compiler) destroys a braced aggregate temporary written
// inside a co_await expression twice, also as a send case:
// `co_await ringo::select(ringo::send(ch, msg{1, "text"}))` frees msg's string
// twice (clang is fine). Name the value first, which also lets it survive a
// losing case:
//   msg m{1, "text"};
//   co_await ringo::select(ringo::send(ch, m), ringo::recv(done));
//
// The algorithm is Go's selectgo, in three passes over the cases. Pass 1
// polls the cases in random order and completes the first ready one; it first
// tries each case under its own channel's lock alone (the fast path), then,
// if none was ready, under the locks of every channel involved, taken in
// address order. If still nothing is ready, pass 2 enqueues a wait node on
// every channel, in the same random order (so that of two cases on one
// channel, neither is always first in its queue), all sharing one
// select_state, and parks. The first counterpart to claim that state
// completes the select (detail/waiter.hpp). On resumption, pass 3 locks the
// channels again and unlinks the losing nodes.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <algorithm>
#include <array>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <source_location>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/chan.hpp>
#include <ringo/detail/fastrand.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/waiter.hpp>

namespace ringo {

namespace detail {

// A receive case, as built by ringo::recv(ch).
template <class T>
struct recv_case {
    using result_type = std::optional<T>;
    chan_state<T>* s;
};

// A send case, as built by ringo::send(ch, v): refers to v, or owns a T when
// v had to be converted.
template <class T>
struct send_case {
    using result_type = std::monostate;
    chan_state<T>* s;
    T* ref = nullptr;
    std::optional<T> owned;
    T* value() noexcept { return ref != nullptr ? ref : &*owned; }
};

// The wait node of each case, kept in the select awaiter (coroutine frame).
template <class C>
struct case_node;

template <class T>
struct case_node<recv_case<T>> {
    static constexpr bool is_recv = true;
    chan_state<T>* s;
    std::optional<T> slot;  // the received value, when this case wins
    chan_waiter<T> w;

    explicit case_node(recv_case<T> c) noexcept : s(c.s) {}
    spinlock* lock() const noexcept { return s != nullptr ? &s->lock : nullptr; }
    bool poll(goroutine*& wake) { return s->recv_now(slot, wake); }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        w.g = g;
        w.sel = sel;
        w.case_index = index;
        w.dst = &slot;
        s->receivers().push_back(&w);
    }
    void unlink() noexcept { s->receivers().remove(&w); }
    bool queued() const noexcept { return w.queued; }
};

template <class T>
struct case_node<send_case<T>> {
    static constexpr bool is_recv = false;
    send_case<T> c;
    chan_waiter<T> w;
    bool closed = false;  // chose a closed channel: panics on resume

    explicit case_node(send_case<T>&& sc) : c(std::move(sc)) {}
    spinlock* lock() const noexcept { return c.s != nullptr ? &c.s->lock : nullptr; }
    bool poll(goroutine*& wake) {
        if (c.s->closed()) {
            closed = true;
            return true;
        }
        return c.s->send_now(*c.value(), wake);
    }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        w.g = g;
        w.sel = sel;
        w.case_index = index;
        w.src = c.value();
        c.s->senders().push_back(&w);
    }
    void unlink() noexcept { c.s->senders().remove(&w); }
    bool queued() const noexcept { return w.queued; }
    void check() const {
        if (closed || w.closed)
            throw panic_error("send on closed channel (in select)");
        w.rethrow_error();
    }
};

// Locks a set of channel locks in address order, each once.
class lock_set {
public:
    explicit lock_set(std::span<spinlock*> locks) noexcept : locks_(locks) {
        // Insertion sort: selects have few cases. Nil channels (null) sort first.
        for (std::size_t i = 1; i < locks_.size(); ++i)
            for (std::size_t j = i; j > 0 && locks_[j] < locks_[j - 1]; --j)
                std::swap(locks_[j], locks_[j - 1]);
    }
    void lock() const noexcept {
        for (std::size_t i = 0; i < locks_.size(); ++i)
            if (locks_[i] != nullptr && (i == 0 || locks_[i] != locks_[i - 1]))
                locks_[i]->lock();
    }
    void unlock() const noexcept {
        for (std::size_t i = locks_.size(); i-- > 0;)
            if (locks_[i] != nullptr && (i == 0 || locks_[i] != locks_[i - 1]))
                locks_[i]->unlock();
    }

private:
    std::span<spinlock*> locks_;
};

// Fills `order` with 0..n-1, shuffled unless `biased`.
inline void poll_order(std::span<std::uint32_t> order, bool biased) noexcept {
    for (std::uint32_t i = 0; i < order.size(); ++i) {
        order[i] = i;
        if (!biased) {
            std::uint32_t j = fastrand_n(i + 1);
            order[i] = order[j];
            order[j] = i;
        }
    }
}

// The three passes, over any set of case nodes. `Visit(i, f)` calls f(node_i).
template <class Visit>
struct select_engine {
    Visit visit;
    std::span<std::uint32_t> order;
    std::span<spinlock*> locks;
    std::size_t n;

    // Pass 1 (locks held by the caller): the first ready case in `order`, or -1.
    int poll(goroutine*& wake) {
        for (std::uint32_t i : order) {
            bool ready = false;
            visit(i, [&](auto& node) { ready = node.lock() != nullptr && node.poll(wake); });
            if (ready)
                return static_cast<int>(i);
        }
        return -1;
    }

    // Pass 1 without the lock set: polls each case under its own channel's
    // lock only. A case found ready completes as the single channel operation
    // it is, so the common case (something is ready) takes one lock, not N.
    int poll_each() {
        for (std::uint32_t i : order) {
            bool ready = false;
            goroutine* to_wake = nullptr;
            visit(i, [&](auto& node) {
                if (spinlock* l = node.lock()) {
                    std::lock_guard guard(*l);  // a throwing move of T leaves it unlocked
                    ready = node.poll(to_wake);
                }
            });
            if (ready) {
                if (to_wake != nullptr)
                    wake(to_wake);
                return static_cast<int>(i);
            }
        }
        return -1;
    }

    // Pass 1, then pass 2 if nothing is ready. Returns the winner (>= 0), or -1
    // if parked.
    int begin(std::coroutine_handle<> h, select_state& sel, const std::source_location& site, bool biased) {
        poll_order(order, biased);
        if (int winner = poll_each(); winner >= 0)
            return winner;
        // Nothing was ready a moment ago: lock every channel, poll again (a
        // case may have become ready meanwhile), and enqueue if still nothing.
        for (std::size_t i = 0; i < n; ++i)
            visit(i, [&](auto& node) { locks[i] = node.lock(); });
        lock_set set(locks);
        goroutine* to_wake = nullptr;
        set.lock();
        int winner;
        try {
            winner = poll(to_wake);
        } catch (...) {  // a throwing move of T: nothing was done, nothing enqueued
            set.unlock();
            throw;
        }
        if (winner >= 0) {
            set.unlock();
            if (to_wake != nullptr)
                wake(to_wake);
            return winner;
        }
        // Enqueue in the poll order too: a counterpart takes the first node
        // queued on its channel, so with several cases on one channel the
        // written order would always win (select_biased keeps it).
        goroutine* g = park(h, task_state::select, site, "ringo::select");
        for (std::uint32_t i : order)
            visit(i, [&](auto& node) {
                if (node.lock() != nullptr)
                    node.enqueue(g, &sel, static_cast<int>(i));
            });
        set.unlock();
        return -1;
    }

    // Pass 1 alone (try_select). Returns the winner or -1.
    int try_once() {
        poll_order(order, false);
        return poll_each();
    }

    // Pass 3: unlinks every node still queued (the losers). Also used when a
    // parked select is destroyed.
    void unlink_all() {
        lock_set set(locks);  // `locks` is still sorted from begin()
        set.lock();
        for (std::size_t i = 0; i < n; ++i)
            visit(i, [&](auto& node) {
                if (node.lock() != nullptr)
                    node.unlink();
            });
        set.unlock();
    }
};

template <class... Cases>
using select_storage = std::tuple<case_node<Cases>...>;

template <std::size_t I = 0, class Tuple, class F>
void visit_index(Tuple& t, std::size_t i, F&& f) {
    if constexpr (I < std::tuple_size_v<Tuple>) {
        if (i == I)
            f(std::get<I>(t));
        else
            visit_index<I + 1>(t, i, std::forward<F>(f));
    }
}

}  // namespace detail

// What a select chose: index() is the winning case; get<I>() is the value a
// receive case I got (nullopt if its channel was closed), as an rvalue:
// `auto v = r.get<0>()` takes it. For a send case, get<I>() is void.
template <class... Cases>
class select_result {
public:
    std::size_t index() const noexcept { return v_.index() - 1; }

    template <std::size_t I>
    decltype(auto) get() {
        static_assert(I < sizeof...(Cases), "select_result::get<I>: no such case");
        using C = std::tuple_element_t<I, std::tuple<Cases...>>;
        if constexpr (!std::is_same_v<typename C::result_type, std::monostate>)
            return static_cast<typename C::result_type&&>(std::get<I + 1>(v_));
    }

    template <std::size_t I, class V>
    static select_result make(V&& v) {
        select_result r;
        r.v_.template emplace<I + 1>(std::forward<V>(v));
        return r;
    }

private:
    std::variant<std::monostate, typename Cases::result_type...> v_;
};

namespace detail {

template <bool Biased, class... Cases>
class [[nodiscard]] select_awaiter {
    static constexpr std::size_t N = sizeof...(Cases);
    static_assert(N > 0, "select needs at least one case");

public:
    using result_type = select_result<Cases...>;

    select_awaiter(std::source_location site, Cases&&... cs) : nodes_(std::move(cs)...), site_(site) {}
    select_awaiter(const select_awaiter&) = delete;
    select_awaiter& operator=(const select_awaiter&) = delete;
    ~select_awaiter() {
        if (parked_)  // destroyed while parked (runtime teardown)
            engine().unlink_all();
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        winner_ = engine().begin(h, sel_, site_, Biased);
        parked_ = winner_ < 0;
        return parked_;
    }
    result_type await_resume() {
        if (parked_) {
            parked_ = false;
            winner_ = sel_.winner;
            engine().unlink_all();
        }
        return result_of(winner_);
    }

    // try_select: pass 1 only.
    std::optional<result_type> try_now() {
        winner_ = engine().try_once();
        if (winner_ < 0)
            return std::nullopt;
        return result_of(winner_);
    }

private:
    auto engine() {
        auto visit = [this](std::size_t i, auto&& f) { visit_index(nodes_, i, f); };
        return select_engine<decltype(visit)>{visit, order_, locks_, N};
    }

    template <std::size_t I = 0>
    result_type result_of(int winner) {
        if constexpr (I < N) {
            if (static_cast<std::size_t>(winner) != I)
                return result_of<I + 1>(winner);
            auto& node = std::get<I>(nodes_);
            if constexpr (std::remove_reference_t<decltype(node)>::is_recv) {
                return result_type::template make<I>(std::move(node.slot));
            } else {
                node.check();
                return result_type::template make<I>(std::monostate{});
            }
        } else {
            __builtin_unreachable();
        }
    }

    select_storage<Cases...> nodes_;
    std::source_location site_;
    select_state sel_;
    std::array<std::uint32_t, N> order_{};
    std::array<spinlock*, N> locks_{};
    int winner_ = -1;
    bool parked_ = false;
};

// What select's rvalue operator co_await returns: the select's own awaiter,
// by reference (the select temporary outlives the suspension).
template <class A>
struct awaiter_ref {
    A* a;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return a->await_suspend(h); }
    decltype(auto) await_resume() { return a->await_resume(); }
};

template <class T>
struct dynamic_node;

template <class T>
inline constexpr bool is_case_v = false;
template <class T>
inline constexpr bool is_case_v<recv_case<T>> = true;
template <class T>
inline constexpr bool is_case_v<send_case<T>> = true;

}  // namespace detail

// Case builders. recv(ch) takes any channel handle that can receive (nil: a
// disabled case); send(ch, v) any that can send, and refers to v.
template <class T>
detail::recv_case<T> recv(const chan<T>& c) noexcept {
    return {detail::state_of(c)};
}
template <class T>
detail::recv_case<T> recv(const recv_chan<T>& c) noexcept {
    return {detail::state_of(c)};
}

namespace detail {
// A T the case can refer to: moved from only if the case wins.
template <class T, class U>
concept send_case_ref = std::same_as<std::remove_cvref_t<U>, T> && !std::is_const_v<std::remove_reference_t<U>>;
template <class T, class U>
concept send_case_value = send_case_ref<T, U> || std::constructible_from<T, U&&>;

template <class T, class U>
send_case<T> make_send_case(chan_state<T>* s, U&& v) {
    if constexpr (send_case_ref<T, U>)
        return send_case<T>{s, &v, std::nullopt};
    else
        return send_case<T>{s, nullptr, std::optional<T>(std::in_place, std::forward<U>(v))};
}
}  // namespace detail

// send(ch, v) accepts a non-const T lvalue or rvalue, to which the case
// refers (so a move-only T works as an lvalue too), or anything a T can be
// constructed from, which the case converts and owns.
template <class T, class U>
    requires detail::send_case_value<T, U>
detail::send_case<T> send(const chan<T>& c, U&& v) {
    return detail::make_send_case(detail::state_of(c), std::forward<U>(v));
}
template <class T, class U>
    requires detail::send_case_value<T, U>
detail::send_case<T> send(const send_chan<T>& c, U&& v) {
    return detail::make_send_case(detail::state_of(c), std::forward<U>(v));
}


// A case of the dynamic select (Go's reflect.Select): the set of cases is a
// runtime vector of one element type. A send case owns its value and keeps it
// if it loses. Holds a reference to its channel.
template <class T>
class select_case {
public:
    static select_case recv(const recv_chan<T>& c) { return select_case(c, false, std::nullopt); }
    static select_case send(const send_chan<T>& c, T v) { return select_case(c, true, std::optional<T>(std::move(v))); }
    // A disabled case (a nil channel).
    select_case() = default;

    bool is_send() const noexcept { return send_; }

    // Send case: the value to send; still engaged after the select unless this
    // case won. Receive case: after it won, the received value (nullopt: the
    // channel was closed), like reflect.Select's recv and recvOK.
    std::optional<T> value;

private:
    template <class>
    friend struct detail::dynamic_node;

    template <class H>
    select_case(const H& c, bool is_send, std::optional<T> v)
        : value(std::move(v)), ref_(detail::chan_ref<T>::share(detail::state_of(c))), send_(is_send) {}

    detail::chan_ref<T> ref_;
    bool send_ = false;
    bool closed_ = false;
    detail::chan_waiter<T> w_;
};

// co_await select(cases...): blocks until one case can proceed, completes
// exactly that one, and says which (select_result). Records its call site.
// Awaitable only as the temporary it is written as (see the header comment):
// `auto s = ringo::select(...); co_await s;` does not compile.
template <class... Cases>
struct [[nodiscard]] select : private detail::select_awaiter<false, Cases...> {
    static_assert((detail::is_case_v<Cases> && ...), "select takes ringo::recv(ch) / ringo::send(ch, v) cases");
    using typename detail::select_awaiter<false, Cases...>::result_type;

    select(Cases... cs, std::source_location site = std::source_location::current())
        : detail::select_awaiter<false, Cases...>(site, std::move(cs)...) {}

    detail::awaiter_ref<detail::select_awaiter<false, Cases...>> operator co_await() && noexcept { return {this}; }
    // A stored select's send cases may refer to temporaries that are gone.
    void operator co_await() & = delete;
};
template <class... Cases>
select(Cases...) -> select<Cases...>;

// co_await select_biased(cases...): as select, but the first ready case in
// written order wins (no random choice). Awaitable only as a temporary.
template <class... Cases>
    requires(detail::is_case_v<Cases> && ...)
struct [[nodiscard]] select_biased : private detail::select_awaiter<true, Cases...> {
    using typename detail::select_awaiter<true, Cases...>::result_type;

    select_biased(Cases... cs, std::source_location site = std::source_location::current())
        : detail::select_awaiter<true, Cases...>(site, std::move(cs)...) {}

    detail::awaiter_ref<detail::select_awaiter<true, Cases...>> operator co_await() && noexcept { return {this}; }
    // A stored select's send cases may refer to temporaries that are gone.
    void operator co_await() & = delete;
};
template <class... Cases>
select_biased(Cases...) -> select_biased<Cases...>;

// Go's select with a default clause: completes one ready case (chosen at
// random) and returns its result, or returns nullopt at once if none is ready.
// Not an awaitable; usable outside tasks too.
template <class... Cases>
    requires(detail::is_case_v<Cases> && ...)
[[nodiscard]] std::optional<select_result<Cases...>> try_select(Cases... cs) {
    detail::select_awaiter<false, Cases...> s(std::source_location::current(), std::move(cs)...);
    return s.try_now();
}

namespace detail {

// Adapts a select_case to the engine's node interface.
template <class T>
struct dynamic_node {
    select_case<T>& c;
    chan_state<T>* s() const noexcept { return c.ref_.get(); }
    spinlock* lock() const noexcept { return s() != nullptr ? &s()->lock : nullptr; }
    bool poll(goroutine*& wake) {
        if (!c.send_)
            return s()->recv_now(c.value, wake);
        if (s()->closed()) {
            c.closed_ = true;
            return true;
        }
        if (!s()->send_now(*c.value, wake))
            return false;
        c.value.reset();
        return true;
    }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        c.w_ = {};
        c.w_.g = g;
        c.w_.sel = sel;
        c.w_.case_index = index;
        if (c.send_) {
            c.w_.src = &*c.value;
            s()->senders().push_back(&c.w_);
        } else {
            c.w_.dst = &c.value;
            s()->receivers().push_back(&c.w_);
        }
    }
    void unlink() noexcept { (c.send_ ? s()->senders() : s()->receivers()).remove(&c.w_); }
    // Before a select: a receive case reports only what it got, and nothing of
    // an earlier select is left.
    void start() noexcept {
        if (!c.send_)
            c.value.reset();
        c.closed_ = false;
        c.w_ = {};
    }
    // After winning: a claimed send moved the value out; a closed send panics;
    // a send whose value threw as it moved (chan.hpp) rethrows, keeping it.
    void finish_won() {
        if (c.send_) {
            if (c.closed_ || c.w_.closed)
                throw panic_error("send on closed channel (in select)");
            c.w_.rethrow_error();
            c.value.reset();
        }
    }
};

template <class T>
class [[nodiscard]] dynamic_select_awaiter {
public:
    dynamic_select_awaiter(std::vector<select_case<T>>& cases, std::source_location site)
        : cases_(cases), site_(site), order_(cases.size()), locks_(cases.size()) {
        for (auto& c : cases_)
            dynamic_node<T>{c}.start();
    }
    dynamic_select_awaiter(const dynamic_select_awaiter&) = delete;
    dynamic_select_awaiter& operator=(const dynamic_select_awaiter&) = delete;
    ~dynamic_select_awaiter() {
        if (parked_)
            engine().unlink_all();
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        winner_ = engine().begin(h, sel_, site_, false);
        parked_ = winner_ < 0;
        return parked_;
    }
    // The index of the case that won.
    std::size_t await_resume() {
        if (parked_) {
            parked_ = false;
            winner_ = sel_.winner;
            engine().unlink_all();
        }
        dynamic_node<T>{cases_[static_cast<std::size_t>(winner_)]}.finish_won();
        return static_cast<std::size_t>(winner_);
    }

private:
    auto engine() {
        auto visit = [this](std::size_t i, auto&& f) {
            dynamic_node<T> node{cases_[i]};
            f(node);
        };
        return select_engine<decltype(visit)>{visit, order_, locks_, cases_.size()};
    }

    std::vector<select_case<T>>& cases_;
    std::source_location site_;
    select_state sel_;
    std::vector<std::uint32_t> order_;
    std::vector<spinlock*> locks_;
    int winner_ = -1;
    bool parked_ = false;
};

}  // namespace detail

// co_await select(cases) over a std::vector<select_case<T>>: returns the index
// of the case that won (see select_case::value for what it got or kept).
// The vector must not change while the select waits. An empty vector, or only
// nil cases, blocks forever. This form refers to nothing but the vector (its
// send cases own their values), so it may also be stored and awaited later.
template <class T>
struct [[nodiscard]] select<std::vector<select_case<T>>> : detail::dynamic_select_awaiter<T> {
    select(std::vector<select_case<T>>& cases, std::source_location site = std::source_location::current())
        : detail::dynamic_select_awaiter<T>(cases, site) {}
};
template <class T>
select(std::vector<select_case<T>>&) -> select<std::vector<select_case<T>>>;

}  // namespace ringo
