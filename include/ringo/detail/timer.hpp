// ringo/detail/timer.hpp - the one timer that every timed thing is built on:
// sleeps, the channels of timer/ticker/after, after_func and context
// deadlines (a deadline is an after_func that cancels, as in Go).
//
// A timer is a node of its home executor's heap (detail/timer_heap.hpp) plus
// one state word. arm(), stop() and release() may be called from any thread
// and follow one protocol:
//
//   * All state (the word, the deadline, the period, the home) is guarded by
//     the timer's lock, which its owner supplies (a timer channel shares its
//     channel's lock, so that disarming and discarding a fired value are one
//     step).
//   * Only the home executor's thread touches the heap. A change made on that
//     thread updates the heap at once; a change made elsewhere sets `posted`
//     and posts the timer to the home's mailbox (executor::post), which
//     brings the heap in line with the state. Either way the home's count of
//     armed timers (num_timers(), deadlock detection) changes at once.
//     Entering the heap is O(1): the timer is staged there and sifted into
//     order only once a staged deadline may be due (detail/timer_heap.hpp),
//     so a timer stopped before then - an after() in a select that another
//     case won - costs no heap operation.
//   * The home keeps the timer alive while it references it: while it is
//     armed, in the heap, posted, or firing. The next arm() goes to the same
//     home, from any thread, while its runtime lives; after that it adopts
//     the caller's executor.
//   * release() is the owner's last call: it may stop the timer first, and
//     dispose (the owner's "free me") runs exactly once, when the home no
//     longer references the timer - at once if it does not. So no thread can
//     free a timer that its home still reaches, whatever thread releases it.
//
// When a timer is due, its home calls fire(self, now, generation) unlocked;
// `generation` is the state word's generation at the moment it fired, so an
// owner can tell (under the lock) whether a stop() or reset() came after.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

#include <ringo/detail/posted_work.hpp>
#include <ringo/detail/spinlock.hpp>

namespace ringo::detail {

class executor;

using steady_clock = std::chrono::steady_clock;  // ringo::clock (time.hpp)

class timer {
public:
    using fire_fn = void (*)(timer& self, steady_clock::time_point now, std::uint64_t generation) noexcept;
    using dispose_fn = void (*)(timer& self) noexcept;

    // The timer is guarded by its own lock, or by `shared` (which must
    // outlive it). `dispose` may be null for a timer that one task owns and
    // arms (a sleep): the task frees it itself, once it is stopped on the
    // timer's home thread or its fire callback has woken the task.
    explicit timer(fire_fn fire, dispose_fn dispose = nullptr) noexcept : timer(own_lock_, fire, dispose) {}
    timer(spinlock& shared, fire_fn fire, dispose_fn dispose = nullptr) noexcept
        : lock_(shared), fire_(fire), dispose_(dispose) {
        sync_.run = &on_posted;
        sync_.self = this;
    }
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

    // Arms the timer to fire at `when`, then every `period` if period > 0;
    // re-arms it if armed. True if it was armed. Any thread; a timer that no
    // executor references adopts the caller's (panic_error naming `what`
    // outside run()). The lock must not be held.
    bool arm(steady_clock::time_point when, steady_clock::duration period, const char* what);
    // arm() for a timer that no other thread can reach yet (just made, or a
    // sleep's): the same, without taking the lock. Returns nothing: it was
    // not armed.
    void arm_unshared(steady_clock::time_point when, steady_clock::duration period, const char* what);
    // Disarms it. True if it was armed. Any thread; the lock must not be held.
    bool stop() noexcept;

    // The same, for an owner that holds lock() and changes its own state in
    // the same step; it calls settle(change) once it has unlocked.
    struct change {
        executor* post_to = nullptr;  // post the timer to this mailbox
        bool dispose = false;         // call dispose: nothing references it
    };
    bool arm_locked(steady_clock::time_point when, steady_clock::duration period, const char* what,
                    change& c);
    bool stop_locked(change& c) noexcept;
    void settle(const change& c) noexcept;

    // The owner hands the timer's lifetime over: stops it unless
    // `keep_armed`, and dispose runs once no executor references it (at once
    // if none does) - exactly once, so call release() once and never arm
    // the timer again. An owner that keeps the object alive by other means
    // (a stop_func of an after_func) may still call stop(). Any thread; the
    // lock must not be held.
    void release(bool keep_armed = false) noexcept;

    // Under the lock: the current generation (changed by every arm and stop).
    std::uint64_t generation_locked() const noexcept { return state_ >> generation_shift; }

    // Teardown (executor::detach_timers): the home has ended and lets go of
    // the timer for good; disarms it. Home thread.
    void detach() noexcept;

private:
    friend class timer_heap;
    friend class executor_loop;

    // state_ bits (guarded by lock_); the generation counts in the bits
    // above generation_shift.
    static constexpr std::uint64_t armed = 1;     // should fire at when_
    static constexpr std::uint64_t in_heap = 2;   // home's heap holds it (at timer_heap::when_of), staged or sifted
    static constexpr std::uint64_t posted = 4;    // queued in home's mailbox
    static constexpr std::uint64_t firing = 8;    // home is running fire_
    static constexpr std::uint64_t released = 16; // the owner called release()
    static constexpr std::uint64_t referenced = armed | in_heap | posted | firing;
    static constexpr unsigned generation_shift = 8;
    static constexpr std::uint64_t one_generation = std::uint64_t{1} << generation_shift;
    static constexpr std::uint32_t not_in_heap = std::numeric_limits<std::uint32_t>::max();

    // Home thread, lock held: makes the heap match the state, lets go of the
    // timer if nothing references it. True if it must now be disposed.
    bool reconcile_locked() noexcept;
    // Lock held: after a change, what the caller must do once unlocked.
    void after_change_locked(change& c) noexcept;
    void disarm_locked() noexcept;
    // Home thread: its heap entry came due at `now` (executor loop).
    void on_due(steady_clock::time_point now) noexcept;
    static void on_posted(posted_work* w) noexcept;

    spinlock own_lock_;        // unless it shares its owner's
    // Home thread only (beside the lock, in its padding): the index of its
    // heap entry (which holds the deadline it is in at) in the heap's array,
    // in the heap proper or among the staged entries behind it; not_in_heap
    // unless `in_heap`.
    std::uint32_t heap_index_ = not_in_heap;
    spinlock& lock_;           // set once
    const fire_fn fire_;       // set once
    const dispose_fn dispose_; // set once

    // Guarded by lock_.
    std::uint64_t state_ = 0;  // bits above, generation << generation_shift
    // The executor whose heap it uses: valid while it references the timer
    // (see `referenced`), or else while home_era_ == runtimes_ended.
    executor* home_ = nullptr;
    std::uint64_t home_era_ = 0;
    steady_clock::time_point when_{};
    steady_clock::duration period_{};

    // Posted to home's mailbox by another thread (while `posted`).
    struct mailbox_entry : posted_work {
        timer* self = nullptr;
    } sync_;
};

}  // namespace ringo::detail
