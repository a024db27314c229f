// ringo/detail/spinlock.hpp - the lock of a channel (and other primitives).
//
// Critical sections are a few pointer moves, never a suspension, so a
// test-and-test-and-set lock that spins briefly and then yields the thread is
// the right tool; an uncontended lock()/unlock() pair is one atomic exchange
// and one store. Contended, a waiter backs off exponentially between looks
// (mpmc_4x4_cap64_t2: 119-126 -> 69-72 ns/msg against spinning on the
// line). Satisfies Lockable.
#pragma once

#include <atomic>
#include <thread>

namespace ringo::detail {

class spinlock {
public:
    void lock() noexcept {
        if (!locked_.exchange(true, std::memory_order_acquire)) [[likely]]
            return;
        lock_contended();
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    // Contended: waits with exponential backoff (1, 2, 4 ... 64 pauses)
    // before each new look, so that waiters neither pull the line away from
    // the holder while it works nor all retry at once when it unlocks; after
    // 16 rounds it yields the thread (the holder may have been preempted).
    [[gnu::noinline]] void lock_contended() noexcept {
        unsigned backoff = 1;
        for (unsigned rounds = 0;; ++rounds) {
            if (rounds < 16) {
                for (unsigned i = 0; i < backoff; ++i)
                    pause();
                if (backoff < 64)
                    backoff *= 2;
            } else {
                std::this_thread::yield();
            }
            if (!locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire))
                return;
        }
    }
    static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    std::atomic<bool> locked_{false};
};

}  // namespace ringo::detail
