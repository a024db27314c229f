// ringo/chan.hpp - Go channels: chan<T>, send_chan<T> (chan<- T), recv_chan<T> (<-chan T).
//
//   ringo::chan<int> ch(16);          // make(chan int, 16); chan<int>{0} or (0): unbuffered
//   co_await ch.send(42);             // ch <- 42   (panic_error if ch is closed)
//   std::optional<int> v = co_await ch.recv();   // v, ok := <-ch  (nullopt: closed and drained)
//   ch.close();
//
// Semantics are Go's: FIFO; an unbuffered send completes only when a receiver
// takes the value; receivers drain buffered values after close, then get
// nullopt; close wakes every receiver and every blocked sender (whose send
// throws panic_error). A default-constructed channel is nil: send and receive
// on it block forever, close panics. Handles are cheap to copy (shared
// reference), compare equal when they refer to the same channel, and may be
// used from any task on any runtime thread. Move-only T works.
//
// A T whose move constructor may throw (ringo never copies a T): a move that
// throws during a hand-off leaves the channel unlocked, usable and
// consistent, with no waiter lost and no value leaked:
//   - A send whose value throws as it moves to a parked receiver or into the
//     buffer fails with that exception (co_await send, try_send, a select send
//     case), as if it had not happened: the receiver stays parked, the value
//     stays with the sender (as T's move constructor left it: intact if that
//     constructor gives the strong guarantee).
//   - A receive that throws while taking a parked sender's value or the
//     buffer's head fails with that exception, as if it had not happened: the
//     sender stays parked with its value, the buffered value stays first.
//   - One hand-off cannot be undone: a receive from a full buffer takes the
//     head, then moves a parked sender's value into the freed slot. If that
//     second move throws, the receive succeeds and that sender's send (or
//     select) throws the exception instead; its value stays with it.
//   - A parked select as the counterpart stays parked, free to complete on
//     another case.
// Returning the received value to the caller moves it once more; if that move
// throws, the value is lost, as with any function that returns by value.
//
// g++ 12 (Debian 12's compiler) destroys a braced aggregate temporary written
// inside a co_await expression twice: `co_await ch.send(msg{1, "text"})`
// frees msg's string twice (clang is fine). Name the value first:
//   msg m{1, "text"};
//   co_await ch.send(std::move(m));
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <coroutine>
#include <cstddef>
#include <mutex>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>
#include <variant>

#include <ringo/detail/chan_state.hpp>
#include <ringo/detail/goroutine.hpp>
#include <ringo/errors.hpp>

namespace ringo {

enum class recv_state { ok, would_block, closed };

template <class T>
struct recv_result {
    std::optional<T> value;  // engaged iff state == ok
    recv_state state;
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

// A counted reference to a channel's state; null for a nil channel.
template <class T>
class chan_ref {
public:
    chan_ref() noexcept = default;
    explicit chan_ref(chan_state<T>* s) noexcept : s_(s) {}
    chan_ref(const chan_ref& o) noexcept : s_(o.s_) {
        if (s_ != nullptr)
            s_->retain();
    }
    chan_ref(chan_ref&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    chan_ref& operator=(chan_ref o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~chan_ref() {
        if (s_ != nullptr)
            s_->release();
    }
    chan_state<T>* get() const noexcept { return s_; }
    friend bool operator==(const chan_ref&, const chan_ref&) = default;

    // A new counted reference to s (null stays null).
    static chan_ref share(chan_state<T>* s) noexcept {
        if (s != nullptr)
            s->retain();
        return chan_ref(s);
    }

private:
    chan_state<T>* s_ = nullptr;
};

// recv_now / send_now for callers that hold `s.lock` by hand: if T's move
// constructor throws, the lock is released before the exception leaves.
template <class T>
bool recv_now_or_unlock(chan_state<T>& s, std::optional<T>& out, goroutine*& wake) noexcept(nothrow_hand_off<T>) {
    if constexpr (nothrow_hand_off<T>) {
        return s.recv_now(out, wake);
    } else {
        try {
            return s.recv_now(out, wake);
        } catch (...) {
            s.lock.unlock();
            throw;
        }
    }
}
template <class T>
bool send_now_or_unlock(chan_state<T>& s, T& v, goroutine*& wake) noexcept(nothrow_hand_off<T>) {
    if constexpr (nothrow_hand_off<T>) {
        return s.send_now(v, wake);
    } else {
        try {
            return s.send_now(v, wake);
        } catch (...) {
            s.lock.unlock();
            throw;
        }
    }
}

// park() for an awaiter that holds `lock`: if park throws (outside a ringo
// task), the lock is released before the exception leaves.
inline goroutine* park_or_unlock(spinlock& lock, std::coroutine_handle<> h, task_state state,
                                 const std::source_location& site, const char* what) {
    try {
        return park(h, state, site, what);
    } catch (...) {
        lock.unlock();
        throw;
    }
}

// co_await ch.recv(). The fast path runs in await_ready: a value (or the
// close) already there completes the receive without suspending the
// coroutine. Otherwise await_ready returns with the channel's lock still
// held, and await_suspend - which the coroutine machinery calls next, with no
// code in between - parks under it, so nothing slips in between the check
// and the wait. The wait node is constructed only then.
template <class T>
class [[nodiscard]] recv_awaiter {
public:
    recv_awaiter(chan_state<T>* s, std::source_location site) noexcept : s_(s), site_(site) {}
    recv_awaiter(const recv_awaiter&) = delete;
    recv_awaiter& operator=(const recv_awaiter&) = delete;
    ~recv_awaiter() {
        if (node_ && node_->queued) [[unlikely]]  // destroyed while parked (runtime teardown)
            unlink();
    }

    // True if the receive completed; false with s_->lock held (unless nil).
    bool await_ready() {
        if (s_ == nullptr)
            return false;
        goroutine* to_wake = nullptr;
        s_->lock.lock();
        if (!recv_now_or_unlock(*s_, result_, to_wake))
            return false;
        s_->lock.unlock();
        if (to_wake != nullptr)
            wake_now(to_wake);
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
        if (s_ == nullptr) {  // nil channel: blocks forever
            park(h, task_state::chan_receive, site_, "chan::recv");
            return;
        }
        chan_waiter<T>& node = node_.emplace();
        node.g = park_or_unlock(s_->lock, h, task_state::chan_receive, site_, "chan::recv");
        node.dst = &result_;
        s_->enqueue_receiver(node);
        s_->lock.unlock();
    }
    std::optional<T> await_resume() noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(result_); }

private:
    void unlink() noexcept {
        std::lock_guard lock(s_->lock);
        s_->unlink_receiver(*node_);
    }

    chan_state<T>* s_;
    std::source_location site_;
    std::optional<T> result_;
    std::optional<chan_waiter<T>> node_;  // engaged once the receive parks
};

// co_await ch.send(v). Owns the value until a receiver or the buffer takes it.
// The fast path runs in await_ready, and a send that must wait parks under
// the lock await_ready took, as recv_awaiter's does.
template <class T>
class [[nodiscard]] send_awaiter {
public:
    send_awaiter(chan_state<T>* s, T v, std::source_location site) : s_(s), value_(std::move(v)), site_(site) {}
    send_awaiter(const send_awaiter&) = delete;
    send_awaiter& operator=(const send_awaiter&) = delete;
    ~send_awaiter() {
        if (node_ && node_->queued) [[unlikely]]
            unlink();
    }

    // True if the send completed (or found the channel closed: await_resume
    // throws); false with s_->lock held (unless nil).
    bool await_ready() {
        if (s_ == nullptr)
            return false;
        goroutine* to_wake = nullptr;
        s_->lock.lock();
        if (s_->closed()) [[unlikely]] {
            s_->lock.unlock();
            node_.emplace().closed = true;
            return true;
        }
        if (!send_now_or_unlock(*s_, value_, to_wake))
            return false;
        s_->lock.unlock();
        if (to_wake != nullptr)
            wake_now(to_wake);
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
        if (s_ == nullptr) {
            park(h, task_state::chan_send, site_, "chan::send");
            return;
        }
        chan_waiter<T>& node = node_.emplace();
        node.g = park_or_unlock(s_->lock, h, task_state::chan_send, site_, "chan::send");
        node.src = &value_;
        s_->enqueue_sender(node);
        s_->lock.unlock();
    }
    void await_resume() const {
        if (!node_)  // sent without parking
            return;
        if (node_->closed)
            throw panic_error("send on closed channel");
        node_->rethrow_error();
    }

private:
    void unlink() noexcept {
        std::lock_guard lock(s_->lock);
        s_->unlink_sender(*node_);
    }

    chan_state<T>* s_;
    T value_;
    std::source_location site_;
    std::optional<chan_waiter<T>> node_;  // engaged once the send parks (or finds the channel closed)
};

template <class T>
bool try_send(chan_state<T>* s, T& v) {
    if (s == nullptr || !s->send_may_succeed())  // open and full: no lock needed
        return false;
    goroutine* to_wake = nullptr;
    bool sent;
    {
        std::lock_guard lock(s->lock);
        if (s->closed())
            throw panic_error("send on closed channel");
        sent = s->send_now(v, to_wake);
    }
    if (to_wake != nullptr)
        wake_now(to_wake);
    return sent;
}

template <class T>
recv_result<T> try_recv(chan_state<T>* s) {
    recv_result<T> r{std::nullopt, recv_state::would_block};
    if (s == nullptr || !s->recv_may_succeed())  // open and empty: no lock needed
        return r;
    goroutine* to_wake = nullptr;
    bool done;
    {
        std::lock_guard lock(s->lock);
        done = s->recv_now(r.value, to_wake);
    }
    if (to_wake != nullptr)
        wake_now(to_wake);
    if (done)
        r.state = r.value ? recv_state::ok : recv_state::closed;
    return r;
}

template <class T>
void close(chan_state<T>* s) {
    if (s == nullptr)
        throw panic_error("close of nil channel");
    chan_waiter<T>* woken;
    {
        std::lock_guard lock(s->lock);
        woken = s->close_locked();
    }
    wake_all(woken);
}

template <class T>
std::size_t len(chan_state<T>* s) {
    if (s == nullptr)
        return 0;
    std::lock_guard lock(s->lock);
    return s->len();
}

template <class T>
class chan_handle;
// The state a channel handle refers to; null for a nil channel.
template <class T>
chan_state<T>* state_of(const chan_handle<T>& c) noexcept;

// What chan, send_chan and recv_chan share: a counted reference to the
// channel's state (null: nil), the length, the capacity and the nil test.
template <class T>
class chan_handle {
public:
    using value_type = T;

    // The number of values buffered (Go's len(ch)). Nil: 0.
    std::size_t len() const { return detail::len(ref_.get()); }
    // The buffer's capacity (Go's cap(ch)). Nil: 0.
    std::size_t cap() const noexcept { return ref_.get() != nullptr ? ref_.get()->cap() : 0; }
    // False for a nil channel.
    explicit operator bool() const noexcept { return ref_.get() != nullptr; }

protected:
    chan_handle() noexcept = default;
    explicit chan_handle(chan_ref<T> ref) noexcept : ref_(std::move(ref)) {}

    // Handles compare equal when they refer to the same channel.
    bool same_channel(const chan_handle& o) const noexcept { return ref_ == o.ref_; }

    chan_ref<T> ref_;

private:
    friend chan_state<T>* state_of<T>(const chan_handle<T>&) noexcept;
};

template <class T>
chan_state<T>* state_of(const chan_handle<T>& c) noexcept {
    return c.ref_.get();
}

}  // namespace detail

// A bidirectional channel handle (Go's `chan T`).
template <class T>
class chan : public detail::chan_handle<T> {
    using detail::chan_handle<T>::ref_;

public:
    // A nil channel.
    chan() noexcept = default;
    // make(chan T, capacity); 0 makes an unbuffered channel.
    explicit chan(std::size_t capacity) : detail::chan_handle<T>(detail::chan_ref<T>(new detail::chan_state<T>(capacity))) {}

    // co_await ch.send(v): blocks until a receiver or the buffer takes v.
    // Throws panic_error if the channel is or gets closed. Nil: blocks forever.
    [[nodiscard]] detail::send_awaiter<T> send(T v, std::source_location site = std::source_location::current()) const {
        return {ref_.get(), std::move(v), site};
    }
    // co_await ch.recv(): the next value, or nullopt once closed and drained.
    // Nil: blocks forever.
    [[nodiscard]] detail::recv_awaiter<T> recv(std::source_location site = std::source_location::current()) const noexcept {
        return {ref_.get(), site};
    }
    // Sends without blocking: false if it would block (v untouched). v is
    // moved from only on success. Throws panic_error if closed. Nil: false.
    bool try_send(T& v) const { return detail::try_send(ref_.get(), v); }
    bool try_send(T&& v) const { return detail::try_send(ref_.get(), v); }
    // Receives without blocking: {value, ok} / {nullopt, would_block} / {nullopt, closed}.
    recv_result<T> try_recv() const { return detail::try_recv(ref_.get()); }
    // Closes the channel. Throws panic_error if nil or already closed.
    void close() const { detail::close(ref_.get()); }

    // len(), cap(), explicit operator bool: see detail::chan_handle.
    friend bool operator==(const chan& a, const chan& b) noexcept { return a.same_channel(b); }
};

// The send-only view of a channel (Go's `chan<- T`). Members as chan's.
template <class T>
class send_chan : public detail::chan_handle<T> {
    using detail::chan_handle<T>::ref_;

public:
    send_chan() noexcept = default;
    send_chan(const chan<T>& c) noexcept  // implicit, as in Go
        : detail::chan_handle<T>(detail::chan_ref<T>::share(detail::state_of(c))) {}

    [[nodiscard]] detail::send_awaiter<T> send(T v, std::source_location site = std::source_location::current()) const {
        return {ref_.get(), std::move(v), site};
    }
    bool try_send(T& v) const { return detail::try_send(ref_.get(), v); }
    bool try_send(T&& v) const { return detail::try_send(ref_.get(), v); }
    void close() const { detail::close(ref_.get()); }
    friend bool operator==(const send_chan& a, const send_chan& b) noexcept { return a.same_channel(b); }
};

// The receive-only view of a channel (Go's `<-chan T`). Members as chan's.
template <class T>
class recv_chan : public detail::chan_handle<T> {
    using detail::chan_handle<T>::ref_;

public:
    recv_chan() noexcept = default;
    recv_chan(const chan<T>& c) noexcept  // implicit, as in Go
        : detail::chan_handle<T>(detail::chan_ref<T>::share(detail::state_of(c))) {}

    [[nodiscard]] detail::recv_awaiter<T> recv(std::source_location site = std::source_location::current()) const noexcept {
        return {ref_.get(), site};
    }
    recv_result<T> try_recv() const { return detail::try_recv(ref_.get()); }
    friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept { return a.same_channel(b); }

    // For ringo's own producers (timers, signals): adopts a state reference.
    explicit recv_chan(detail::chan_ref<T> ref) noexcept : detail::chan_handle<T>(std::move(ref)) {}
};

// chan<void>-style signalling.
using signal_chan = chan<std::monostate>;

}  // namespace ringo
