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
// The algorithm is Go's selectgo (detail::select_engine, whose functions
// carry Go's names and comments), over cases that each satisfy
// detail::select_case_node:
//   - generate permuted order: a random poll order (select_biased: written);
//   - pass 1 - look for something already waiting: poll the cases in poll
//     order and complete the first ready one; first each under its own lock
//     alone (the fast path, one lock when something is ready), then, if none
//     was, under every case's lock, taken in address order (the lock order);
//   - pass 2 - enqueue on all chans: still nothing ready, so link a wait node
//     on every case, all sharing one select_state, and park. Unlike Go, in
//     poll order, not lock order, so that of two cases on one channel neither
//     is always first in its queue. The first counterpart to claim that state
//     completes the select (detail/waiter.hpp);
//   - pass 3 - dequeue from unsuccessful chans: once woken, take the locks
//     again and unlink the losing nodes.
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

// The wait node of a case (Go's scase): what the engine calls on it, for
// every kind of case - recv and send (below), the dynamic select's case
// (dynamic_node), an I/O operation (io_op.hpp), a semaphore acquisition
// (semaphore.hpp). A node lives in its select's awaiter, in the coroutine frame
// (the dynamic select's wait node: in its select_case).
template <class N>
concept select_case_node =
    requires(N& n, const N& cn, goroutine*& wake, goroutine* g, select_state* sel, int index) {
        // The lock that guards what the case waits on (a channel's), by which
        // the cases are sorted into the lock order; null disables the case (a
        // nil channel).
        { cn.lock() } noexcept -> std::same_as<spinlock*>;
        // Pass 1, lock held: completes the case now if it can (true), setting
        // `wake` to a task to wake once unlocked. May throw (a move of T) with
        // nothing done.
        { n.poll(wake) } -> std::same_as<bool>;
        // Pass 2, lock held: links a wait node for the parked task g as case
        // `index` of `sel`; whoever claims `sel` through it completes the case.
        { n.enqueue(g, sel, index) } noexcept;
        // Pass 3, lock held: unlinks the node if it is still queued (the case
        // lost; the winner's counterpart unlinked the winning node).
        { n.unlink() } noexcept;
    } &&
    // After the case won, no lock held: its result (the case's result_type,
    // or an rvalue reference to one); throws what the case failed with.
    requires(N& n) { n.result(); };

template <class N>
decltype(auto) case_result(N& node) {
    return node.result();
}

// The parts of a channel case's node shared by the static and dynamic select.
template <class T>
void enqueue_case(chan_waiter<T>& w, goroutine* g, select_state* sel, int index) noexcept {
    w.g = g;
    w.sel = sel;
    w.case_index = index;
}
// Poll of a send case: a closed channel completes it (`closed`: panics in result).
template <class T>
bool poll_send_case(chan_state<T>& s, T& v, bool& closed, goroutine*& wake) {
    if (s.closed()) {
        closed = true;
        return true;
    }
    return s.send_now(v, wake);
}
// Result of a send case that won: panics if it chose or was woken by a closed
// channel; rethrows what its value threw as it moved (chan.hpp).
// `w`: the case's wait node, null if it never parked.
template <class T>
void check_send_case(bool closed, const chan_waiter<T>* w) {
    if (closed || (w != nullptr && w->closed))
        throw panic_error("send on closed channel (in select)");
    if (w != nullptr)
        w->rethrow_error();
}

template <class C>
struct case_node;

template <class T>
struct case_node<recv_case<T>> {
    chan_state<T>* s;
    std::optional<T> slot;  // the received value, when this case wins
    std::optional<chan_waiter<T>> w;  // constructed when the select parks

    explicit case_node(recv_case<T> c) noexcept : s(c.s) {}
    spinlock* lock() const noexcept { return s != nullptr ? &s->lock : nullptr; }
    bool may_succeed() const noexcept { return s->recv_may_succeed(); }
    bool poll(goroutine*& wake) { return s->recv_now(slot, wake); }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        chan_waiter<T>& node = w.emplace();
        enqueue_case(node, g, sel, index);
        node.dst = &slot;
        s->enqueue_receiver(node);
    }
    void unlink() noexcept {
        if (w)
            s->unlink_receiver(*w);
    }
    std::optional<T>&& result() noexcept { return std::move(slot); }
};

template <class T>
struct case_node<send_case<T>> {
    send_case<T> c;
    std::optional<chan_waiter<T>> w;  // constructed when the select parks
    bool closed = false;  // chose a closed channel: panics on resume

    explicit case_node(send_case<T>&& sc) : c(std::move(sc)) {}
    spinlock* lock() const noexcept { return c.s != nullptr ? &c.s->lock : nullptr; }
    bool may_succeed() const noexcept { return c.s->send_may_succeed(); }
    bool poll(goroutine*& wake) { return poll_send_case(*c.s, *c.value(), closed, wake); }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        chan_waiter<T>& node = w.emplace();
        enqueue_case(node, g, sel, index);
        node.src = c.value();
        c.s->enqueue_sender(node);
    }
    void unlink() noexcept {
        if (w)
            c.s->unlink_sender(*w);
    }
    std::monostate result() const {
        check_send_case(closed, w ? &*w : nullptr);
        return {};
    }
};

// Go's selectgo, over any set of case nodes; `visit(i, f)` calls f(node i).
// Unlike Go, pass 1 first polls each case under its own lock alone, and pass
// 2 enqueues in poll order rather than lock order (see the header comment).
template <class Visit>
struct select_engine {
    Visit visit;
    std::span<std::uint32_t> pollorder;
    std::span<spinlock*> lockorder;  // the cases' locks, sorted by address
    std::size_t n;

    // generate permuted order (select_biased: the written order)
    // An inside-out Fisher-Yates shuffle whose swap indexes j, uniform in
    // [0, i], are the successive mixed-radix digits of one 64-bit random
    // fraction x: j = floor(x * (i + 1)), x = frac(x * (i + 1)). Each digit
    // costs one multiplication and no fastrand() call; a new fraction is drawn
    // once the product of the radixes used would pass 2^32, so every digit
    // keeps 32 bits or more of precision (bias under 2^-32 per digit). Four
    // cases take one draw, twelve take one, thirteen take two.
    void permute(bool biased) noexcept {
        __extension__ using u128 = unsigned __int128;
        std::uint64_t x = 0;
        std::uint64_t used = std::uint64_t(1) << 33;  // forces a draw at the first digit
        for (std::uint32_t i = 0; i < pollorder.size(); ++i) {
            pollorder[i] = i;
            if (biased || i == 0)
                continue;
            std::uint64_t radix = i + 1;
            if (used > (std::uint64_t(1) << 32) / radix) {
                x = fastrand();
                used = 1;
            }
            used *= radix;
            u128 m = static_cast<u128>(x) * radix;
            auto j = static_cast<std::uint32_t>(m >> 64);
            x = static_cast<std::uint64_t>(m);
            pollorder[i] = pollorder[j];
            pollorder[j] = i;
        }
    }

    // sort the cases by lock address to get the locking order
    void sort_lockorder() {
        for (std::size_t i = 0; i < n; ++i)
            visit(i, [&](select_case_node auto& node) { lockorder[i] = node.lock(); });
        // Insertion sort: selects have few cases. Nil channels (null) sort first.
        for (std::size_t i = 1; i < n; ++i)
            for (std::size_t j = i; j > 0 && lockorder[j] < lockorder[j - 1]; --j)
                std::swap(lockorder[j], lockorder[j - 1]);
    }

    // lock all the channels involved in the select (each once)
    void sellock() const noexcept {
        for (std::size_t i = 0; i < n; ++i)
            if (lockorder[i] != nullptr && (i == 0 || lockorder[i] != lockorder[i - 1]))
                lockorder[i]->lock();
    }
    void selunlock() const noexcept {
        for (std::size_t i = n; i-- > 0;)
            if (lockorder[i] != nullptr && (i == 0 || lockorder[i] != lockorder[i - 1]))
                lockorder[i]->unlock();
    }

    // pass 1 - look for something already waiting
    // (every lock held by the caller): the first ready case in poll order, or -1.
    int pass1_poll(goroutine*& wake) {
        for (std::uint32_t i : pollorder) {
            bool ready = false;
            visit(i, [&](auto& node) { ready = node.lock() != nullptr && node.poll(wake); });
            if (ready)
                return static_cast<int>(i);
        }
        return -1;
    }

    // pass 1 - look for something already waiting
    // (no lock held): polls each case under its own lock alone. A case found
    // ready completes as the single channel operation it is, so the common
    // case (something is ready) takes one lock, not N.
    int pass1_poll_each() {
        for (std::uint32_t i : pollorder) {
            bool ready = false;
            goroutine* to_wake = nullptr;
            visit(i, [&](auto& node) {
                if (spinlock* l = node.lock()) {
                    // A case observably not ready is skipped unlocked: false
                    // from the probe is linearizable (chan_state.hpp), and a
                    // blocking select rechecks every case under all its locks.
                    if constexpr (requires { node.may_succeed(); })
                        if (!node.may_succeed())
                            return;
                    std::lock_guard guard(*l);  // a throwing move of T leaves it unlocked
                    ready = node.poll(to_wake);
                }
            });
            if (ready) {
                if (to_wake != nullptr)
                    wake_now(to_wake);
                return static_cast<int>(i);
            }
        }
        return -1;
    }

    // pass 2 - enqueue on all chans
    // (every lock held), in poll order: a counterpart takes the first node
    // queued on its channel, so with several cases on one channel the written
    // order would always win (select_biased keeps it).
    void pass2_enqueue(goroutine* g, select_state& sel) noexcept {
        for (std::uint32_t i : pollorder)
            visit(i, [&](auto& node) {
                if (node.lock() != nullptr)
                    node.enqueue(g, &sel, static_cast<int>(i));
            });
    }

    // pass 3 - dequeue from unsuccessful chans
    // otherwise they stack up on quiet channels
    // (after the wake-up, or when a parked select is destroyed).
    void pass3_dequeue() noexcept {
        sellock();  // lockorder is still sorted from selectgo_park()
        for (std::size_t i = 0; i < n; ++i)
            visit(i, [&](auto& node) {
                if (node.lock() != nullptr)
                    node.unlink();
            });
        selunlock();
    }

    // selectgo, in two halves. The first: the poll order, and pass 1 without
    // the locks held together. Returns the winner, or -1 if none was ready.
    int selectgo_poll(bool biased) {
        permute(biased);
        return pass1_poll_each();
    }
    // The second, after selectgo_poll found nothing ready: passes 1 and 2
    // under every lock. Returns the winner (>= 0), or -1 once parked on every
    // case; then `sel` names the winner when the task is woken, and the
    // caller runs pass 3.
    int selectgo_park(std::coroutine_handle<> h, select_state& sel, const std::source_location& site) {
        // Nothing was ready a moment ago: poll again under every lock (a case
        // may have become ready meanwhile), and enqueue if still nothing.
        sort_lockorder();
        sellock();
        goroutine* to_wake = nullptr;
        int winner;
        try {
            winner = pass1_poll(to_wake);
        } catch (...) {  // a throwing move of T: nothing was done, nothing enqueued
            selunlock();
            throw;
        }
        if (winner >= 0) {
            selunlock();
            if (to_wake != nullptr)
                wake_now(to_wake);
            return winner;
        }
        // wait for someone to wake us up
        pass2_enqueue(park(h, task_state::select, site, "ringo::select"), sel);
        selunlock();
        return -1;
    }

    // Pass 1 alone (try_select: a select with a default case). Returns the
    // winner or -1.
    int try_select() {
        permute(false);
        return pass1_poll_each();
    }
};

// What a select awaiter keeps besides its nodes, and its steps: the first
// half of selectgo in await_ready (a ready case completes the select without
// suspending the coroutine), the second when it suspends, pass 3 when it
// resumes or is destroyed while parked (runtime teardown; the awaiter calls
// cancel() before its nodes go).
struct select_run {
    explicit select_run(std::source_location at) noexcept : site(at) {}

    std::source_location site;
    select_state sel;
    int winner = -1;
    bool parked = false;

    template <class Engine>
    bool ready(Engine engine, bool biased) {
        winner = engine.selectgo_poll(biased);
        return winner >= 0;
    }
    // After ready() said false.
    template <class Engine>
    bool suspend(Engine engine, std::coroutine_handle<> h) {
        winner = engine.selectgo_park(h, sel, site);
        parked = winner < 0;
        return parked;
    }
    // The winning case, once resumed (or completed without parking).
    template <class Engine>
    std::size_t resume(Engine engine) noexcept {
        if (parked) {
            parked = false;
            winner = sel.winner;
            engine.pass3_dequeue();
        }
        return static_cast<std::size_t>(winner);
    }
    template <class Engine>
    void cancel(Engine engine) noexcept {
        if (parked)
            engine.pass3_dequeue();
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

// The awaiter of a select over a fixed set of cases (its nodes in a tuple).
template <bool Biased, class... Cases>
class [[nodiscard]] select_awaiter {
    static constexpr std::size_t N = sizeof...(Cases);
    static_assert(N > 0, "select needs at least one case");
    static_assert((select_case_node<case_node<Cases>> && ...));

public:
    using result_type = select_result<Cases...>;

    select_awaiter(std::source_location site, Cases&&... cs) : nodes_(std::move(cs)...), run_(site) {}
    select_awaiter(const select_awaiter&) = delete;
    select_awaiter& operator=(const select_awaiter&) = delete;
    ~select_awaiter() { run_.cancel(engine()); }

    bool await_ready() { return run_.ready(engine(), Biased); }
    bool await_suspend(std::coroutine_handle<> h) { return run_.suspend(engine(), h); }
    result_type await_resume() { return result_of(run_.resume(engine())); }

    // try_select: pass 1 only.
    std::optional<result_type> try_now() {
        int winner = engine().try_select();
        if (winner < 0)
            return std::nullopt;
        return result_of(static_cast<std::size_t>(winner));
    }

private:
    auto engine() {
        auto visit = [this](std::size_t i, auto&& f) { visit_index(nodes_, i, f); };
        return select_engine<decltype(visit)>{visit, order_, locks_, N};
    }

    // record the successful case
    template <std::size_t I = 0>
    result_type result_of(std::size_t winner) {
        if constexpr (I < N) {
            if (winner != I)
                return result_of<I + 1>(winner);
            return result_type::template make<I>(case_result(std::get<I>(nodes_)));
        } else {
            __builtin_unreachable();
        }
    }

    select_storage<Cases...> nodes_;
    select_run run_;
    std::array<std::uint32_t, N> order_{};
    std::array<spinlock*, N> locks_{};
};

// What select's rvalue operator co_await returns: the select's own awaiter,
// by reference (the select temporary outlives the suspension).
template <class A>
struct awaiter_ref {
    A* a;
    bool await_ready() { return a->await_ready(); }
    bool await_suspend(std::coroutine_handle<> h) { return a->await_suspend(h); }
    decltype(auto) await_resume() { return a->await_resume(); }
};

// What select and select_biased share: awaitable only as a temporary.
template <bool Biased, class... Cases>
class select_temporary : private select_awaiter<Biased, Cases...> {
public:
    using typename select_awaiter<Biased, Cases...>::result_type;

    awaiter_ref<select_awaiter<Biased, Cases...>> operator co_await() && noexcept { return {this}; }
    // A stored select's send cases may refer to temporaries that are gone.
    void operator co_await() & = delete;

protected:
    select_temporary(std::source_location site, Cases&&... cs) : select_awaiter<Biased, Cases...>(site, std::move(cs)...) {}
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
struct [[nodiscard]] select : detail::select_temporary<false, Cases...> {
    static_assert((detail::is_case_v<Cases> && ...), "select takes ringo::recv(ch) / ringo::send(ch, v) cases");

    select(Cases... cs, std::source_location site = std::source_location::current())
        : detail::select_temporary<false, Cases...>(site, std::move(cs)...) {}
};
template <class... Cases>
select(Cases...) -> select<Cases...>;

// co_await select_biased(cases...): as select, but the first ready case in
// written order wins (no random choice). Awaitable only as a temporary.
template <class... Cases>
    requires(detail::is_case_v<Cases> && ...)
struct [[nodiscard]] select_biased : detail::select_temporary<true, Cases...> {
    select_biased(Cases... cs, std::source_location site = std::source_location::current())
        : detail::select_temporary<true, Cases...>(site, std::move(cs)...) {}
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

// A select_case as the engine's node (select_case_node).
template <class T>
struct dynamic_node {
    select_case<T>& c;
    chan_state<T>* s() const noexcept { return c.ref_.get(); }
    spinlock* lock() const noexcept { return s() != nullptr ? &s()->lock : nullptr; }
    bool may_succeed() const noexcept { return c.send_ ? s()->send_may_succeed() : s()->recv_may_succeed(); }
    bool poll(goroutine*& wake) {
        if (!c.send_)
            return s()->recv_now(c.value, wake);
        if (!poll_send_case(*s(), *c.value, c.closed_, wake))
            return false;
        if (!c.closed_)
            c.value.reset();
        return true;
    }
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        enqueue_case(c.w_, g, sel, index);
        if (c.send_) {
            c.w_.src = &*c.value;
            s()->enqueue_sender(c.w_);
        } else {
            c.w_.dst = &c.value;
            s()->enqueue_receiver(c.w_);
        }
    }
    void unlink() noexcept { c.send_ ? s()->unlink_sender(c.w_) : s()->unlink_receiver(c.w_); }
    // After winning: a claimed send moved the value out; a closed send panics;
    // a send whose value threw as it moved (chan.hpp) rethrows, keeping it.
    void result() {
        if (c.send_) {
            check_send_case(c.closed_, &c.w_);
            c.value.reset();
        }
    }
    // Before a select: a receive case reports only what it got, and nothing of
    // an earlier select is left.
    void start() noexcept {
        if (!c.send_)
            c.value.reset();
        c.closed_ = false;
        c.w_ = {};
    }
};

// The awaiter of a select over a runtime vector of cases.
template <class T>
class [[nodiscard]] dynamic_select_awaiter {
    static_assert(select_case_node<dynamic_node<T>>);

public:
    dynamic_select_awaiter(std::vector<select_case<T>>& cases, std::source_location site)
        : cases_(cases), run_(site), order_(cases.size()), locks_(cases.size()) {
        for (auto& c : cases_)
            dynamic_node<T>{c}.start();
    }
    dynamic_select_awaiter(const dynamic_select_awaiter&) = delete;
    dynamic_select_awaiter& operator=(const dynamic_select_awaiter&) = delete;
    ~dynamic_select_awaiter() { run_.cancel(engine()); }

    bool await_ready() { return run_.ready(engine(), false); }
    bool await_suspend(std::coroutine_handle<> h) { return run_.suspend(engine(), h); }
    // The index of the case that won.
    std::size_t await_resume() {
        std::size_t winner = run_.resume(engine());
        dynamic_node<T>{cases_[winner]}.result();
        return winner;
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
    select_run run_;
    std::vector<std::uint32_t> order_;
    std::vector<spinlock*> locks_;
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
