// ringo/detail/spinlock.hpp - the lock of a channel (and other primitives).
//
// Critical sections are a few pointer moves, never a suspension, so a
// test-and-test-and-set lock that spins briefly and then yields the thread is
// the right tool; an uncontended lock()/unlock() pair is one atomic exchange
// and one store. Satisfies Lockable.
#pragma once

#include <atomic>
#include <thread>

namespace ringo::detail {

class spinlock {
public:
    void lock() noexcept {
        for (;;) {
            if (!locked_.exchange(true, std::memory_order_acquire))
                return;
            for (unsigned spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
                if (spins < 64)
                    pause();
                else
                    std::this_thread::yield();
            }
        }
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    std::atomic<bool> locked_{false};
};

}  // namespace ringo::detail
