// ringo/detail/timer_heap.hpp - an executor's timers: a 4-ary min-heap of
// deadlines. The executor sleeps until the earliest one (one kernel timeout
// for all of them, never one SQE per timer). Home thread only: the entries'
// heap fields belong to it (detail/timer.hpp says how other threads ask for
// a change).
//
// Each entry holds its deadline next to the timer's address (as Go's
// timerWhen does), so a sift compares deadlines within the array and reads
// no timer: with many timers pending, a timer's memory is cold, and only
// the timers a sift moves are written (their heap index).
//
// Staging: a timer that enters is not sifted into the heap at once but
// appended behind it, staged (O(1)), with a lower bound of the staged
// deadlines kept aside. They all move into the heap proper once that bound
// is due (pop_due), so no timer fires later or in another order than if it
// had entered the heap at once; one that leaves before then (a stop, or an
// after() in a select that another case won) costs O(1) and no heap
// operation. earliest() includes the bound, so the executor never sleeps
// past a staged deadline.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <ringo/detail/timer.hpp>

namespace ringo::detail {

class timer_heap {
public:
    // No timer, staged or in the heap proper.
    bool empty() const noexcept { return nodes_.empty(); }

    // No timer is due before this (max() if empty). A lower bound: a staged
    // timer that left or moved later since may still count.
    steady_clock::time_point earliest() const noexcept {
        if (heap_size_ == 0)
            return staged_min_;
        return std::min(staged_min_, nodes_.front().when);
    }

    // The deadline t is in at; t is in (staged or sifted).
    steady_clock::time_point when_of(const timer* t) const noexcept { return nodes_[t->heap_index_].when; }

    // Puts t in at `when` (staged), or moves it there if it is in already.
    void update(timer* t, steady_clock::time_point when) {
        if (t->heap_index_ == timer::not_in_heap) {
            nodes_.push_back({when, t});
            t->heap_index_ = static_cast<std::uint32_t>(nodes_.size() - 1);
        } else {
            nodes_[t->heap_index_].when = when;
        }
        if (t->heap_index_ >= heap_size_)
            staged_min_ = std::min(staged_min_, when);
        else
            sift_down(sift_up(t->heap_index_));
    }

    void remove(timer* t) noexcept {
        std::uint32_t i = t->heap_index_;
        if (i == timer::not_in_heap)
            return;
        t->heap_index_ = timer::not_in_heap;
        if (i >= heap_size_) {  // staged: the last staged one takes its slot
            entry last = nodes_.back();
            nodes_.pop_back();
            if (last.t != t)
                place(i, last);
            if (heap_size_ == nodes_.size())
                staged_min_ = steady_clock::time_point::max();
            return;
        }
        // The heap's last one fills the hole at i; the last staged one, if
        // any, fills the heap's old last slot (now the first staged one).
        --heap_size_;
        entry last_in_heap = nodes_[heap_size_];
        entry last = nodes_.back();
        nodes_.pop_back();
        if (heap_size_ < nodes_.size())
            place(heap_size_, last);
        if (last_in_heap.t != t) {
            place(i, last_in_heap);
            sift_down(sift_up(i));
        }
    }

    // Takes out the earliest timer due at `now`, or returns null: one at a
    // time, in deadline order, including any that entered meanwhile.
    timer* pop_due(steady_clock::time_point now) noexcept {
        if (staged_min_ <= now)
            unstage();
        if (heap_size_ == 0 || nodes_.front().when > now)
            return nullptr;
        timer* t = nodes_.front().t;
        remove(t);
        return t;
    }

    // Takes out any timer (teardown), or returns null if empty.
    timer* pop_any() noexcept {
        if (nodes_.empty())
            return nullptr;
        timer* t = nodes_.back().t;
        remove(t);
        return t;
    }

private:
    struct entry {
        steady_clock::time_point when;
        timer* t;
    };

    static constexpr std::uint32_t arity = 4;

    // The slow paths are out of line, so that staging and unstaging stay a
    // few instructions.

    // Moves every staged timer into the heap proper: one sift each, or one
    // bottom-up heap construction when they outnumber the heap's timers.
    [[gnu::noinline]] void unstage() noexcept {
        auto size = static_cast<std::uint32_t>(nodes_.size());
        if (size - heap_size_ > heap_size_) {
            heap_size_ = size;
            if (size > 1)
                for (std::uint32_t i = (size - 2) / arity + 1; i-- > 0;)  // from the last parent up
                    sift_down(i);
        } else {
            while (heap_size_ < size)
                sift_up(heap_size_++);
        }
        staged_min_ = steady_clock::time_point::max();
    }

    void place(std::uint32_t i, entry e) noexcept {
        nodes_[i] = e;
        e.t->heap_index_ = i;
    }
    [[gnu::noinline]] std::uint32_t sift_up(std::uint32_t i) noexcept {
        entry e = nodes_[i];
        while (i > 0) {
            std::uint32_t parent = (i - 1) / arity;
            if (nodes_[parent].when <= e.when)
                break;
            place(i, nodes_[parent]);
            i = parent;
        }
        place(i, e);
        return i;
    }
    [[gnu::noinline]] void sift_down(std::uint32_t i) noexcept {
        entry e = nodes_[i];
        for (;;) {
            std::uint32_t first = i * arity + 1;
            if (first >= heap_size_)
                break;
            std::uint32_t best = first;
            for (std::uint32_t c = first + 1; c < first + arity && c < heap_size_; ++c)
                if (nodes_[c].when < nodes_[best].when)
                    best = c;
            if (e.when <= nodes_[best].when)
                break;
            place(i, nodes_[best]);
            i = best;
        }
        place(i, e);
    }

    // [0, heap_size_): the heap proper; [heap_size_, size()): the staged
    // timers, unordered. An entry's timer's heap_index_ is its index here.
    std::vector<entry> nodes_;
    std::uint32_t heap_size_ = 0;
    // <= every staged deadline; max() while none is staged.
    steady_clock::time_point staged_min_ = steady_clock::time_point::max();
};

}  // namespace ringo::detail
