// ringo/singleflight.hpp - x/sync/singleflight for tasks: one call per key
// at a time, its result shared by every caller that arrives meanwhile.
//
// Also included by ringo/sync.hpp.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <coroutine>
#include <exception>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <ringo/detail/goroutine.hpp>
#include <ringo/detail/invoke.hpp>
#include <ringo/detail/outcome.hpp>
#include <ringo/detail/spinlock.hpp>
#include <ringo/detail/sync_waiter.hpp>
#include <ringo/task.hpp>

namespace ringo {

// x/sync/singleflight: co_await sf.run(key, fn) runs fn (moved into the
// task's frame) once per key at a time; callers that arrive while it runs
// wait and share its result (a copy each) or its exception. forget(key) lets
// the next call run fn again even if one is in flight.
//   int v = co_await sf.run("k", fetch);
//   auto [v, shared] = co_await sf.run_shared("k", fetch);   // Go's v, err, shared := g.Do(...)
// As for every awaited callable, bind a capturing lambda to a named local
// first (g++ 12 destroys one written inside the co_await twice).
template <class T>
class singleflight {
public:
    // What run_shared() gives: the value, and Go's `shared` - true if the
    // result was given to more than one caller (the one that ran fn
    // included, when others joined it).
    struct result {
        T value;
        bool shared;
    };

private:
    // One call in flight for a key, shared by its leader and the callers
    // that joined it.
    struct call {
        bool done = false;                 // guarded by the singleflight's lock
        int dups = 0;                      // callers that joined; guarded by the singleflight's lock
        detail::sync_queue waiters;        // guarded by the singleflight's lock
        detail::outcome<T> result;         // written by the leader before done, then read-only
    };

    auto wait_for(call& c, std::source_location site) {
        struct [[nodiscard]] awaiter {
            singleflight& sf;
            call& c;
            std::source_location site;
            detail::sync_waiter node;  // unlinks itself if destroyed while queued

            awaiter(singleflight& s, call& cl, std::source_location at) : sf(s), c(cl), site(at) {}
            awaiter(const awaiter&) = delete;
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> h) {
                std::lock_guard lock(sf.lock_);
                if (c.done)
                    return false;
                node.park_in(h, detail::task_state::singleflight, site, "ringo::singleflight::run", sf.lock_,
                             c.waiters);
                return true;
            }
            void await_resume() noexcept { node.dequeued(); }
        };
        return awaiter{*this, c, site};
    }


public:
    // co_await sf.run(key, fn): fn's result (or exception), from this call
    // or from the one in flight for key.
    template <class F>
    [[nodiscard]] task<T> run(std::string key, F fn, std::source_location site = std::source_location::current()) {
        return do_call<T>(std::move(key), std::move(fn), site);
    }

    // As run(), and also says whether the result was shared (Go's Do).
    template <class F>
    [[nodiscard]] task<result> run_shared(std::string key, F fn,
                                          std::source_location site = std::source_location::current()) {
        return do_call<result>(std::move(key), std::move(fn), site);
    }

    // The next run(key) starts a new call instead of joining the one in flight.
    void forget(const std::string& key) {
        std::lock_guard lock(lock_);
        calls_.erase(key);
    }

private:
    // Out is T (run) or result (run_shared).
    template <class R>
    static R make(const T& value, bool shared) {
        if constexpr (std::is_same_v<R, result>)
            return result{value, shared};
        else
            return value;
    }

    template <class Out, class F>
    task<Out> do_call(std::string key, F fn, std::source_location site) {
        std::shared_ptr<call> c;
        bool leader = false;
        {
            std::lock_guard lock(lock_);
            auto [it, inserted] = calls_.try_emplace(key);
            if (inserted)
                it->second = std::make_shared<call>();
            else
                ++it->second->dups;
            c = it->second;
            leader = inserted;
        }
        if (!leader) {
            co_await wait_for(*c, site);
            co_return make<Out>(c->result.get(), true);  // or rethrows the leader's exception
        }
        try {
            c->result.set_value(co_await detail::invoke_awaited(fn));
        } catch (...) {
            c->result.set_exception(std::current_exception());
        }
        detail::sync_waiter* waiters;
        bool shared;
        {
            std::lock_guard lock(lock_);
            if (auto it = calls_.find(key); it != calls_.end() && it->second == c)
                calls_.erase(it);
            c->done = true;
            shared = c->dups > 0;  // final: nobody joins a done call
            waiters = c->waiters.take_all();
        }
        detail::wake_list(waiters);
        co_return make<Out>(c->result.get(), shared);
    }

    detail::spinlock lock_;
    std::unordered_map<std::string, std::shared_ptr<call>> calls_;  // guarded by lock_
};

}  // namespace ringo
