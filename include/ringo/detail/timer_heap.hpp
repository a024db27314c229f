// ringo/detail/timer_heap.hpp - an executor's timers: a 4-ary min-heap of
// deadlines. The executor sleeps until the earliest one (one kernel timeout
// for all of them, never one SQE per timer). Home thread only: the entries'
// heap fields belong to it (detail/timer.hpp says how other threads ask for
// a change).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <ringo/detail/timer.hpp>

namespace ringo::detail {

class timer_heap {
public:
    bool empty() const noexcept { return nodes_.empty(); }
    std::size_t size() const noexcept { return nodes_.size(); }
    timer* top() const noexcept { return nodes_.front(); }
    steady_clock::time_point top_when() const noexcept { return nodes_.front()->heap_when_; }

    // Puts t in the heap at `when`, or moves it there if it is in already.
    void update(timer* t, steady_clock::time_point when) {
        t->heap_when_ = when;
        if (t->heap_index_ == timer::not_in_heap) {
            t->heap_index_ = static_cast<std::uint32_t>(nodes_.size());
            nodes_.push_back(t);
        }
        sift_down(sift_up(t->heap_index_));
    }

    void remove(timer* t) noexcept {
        std::uint32_t i = t->heap_index_;
        if (i == timer::not_in_heap)
            return;
        t->heap_index_ = timer::not_in_heap;
        timer* last = nodes_.back();
        nodes_.pop_back();
        if (last == t)
            return;
        place(i, last);
        sift_down(sift_up(i));
    }

    timer* pop() noexcept {
        timer* t = nodes_.front();
        remove(t);
        return t;
    }

private:
    static constexpr std::uint32_t arity = 4;

    void place(std::uint32_t i, timer* t) noexcept {
        nodes_[i] = t;
        t->heap_index_ = i;
    }
    std::uint32_t sift_up(std::uint32_t i) noexcept {
        timer* t = nodes_[i];
        while (i > 0) {
            std::uint32_t parent = (i - 1) / arity;
            if (nodes_[parent]->heap_when_ <= t->heap_when_)
                break;
            place(i, nodes_[parent]);
            i = parent;
        }
        place(i, t);
        return i;
    }
    void sift_down(std::uint32_t i) noexcept {
        timer* t = nodes_[i];
        auto size = static_cast<std::uint32_t>(nodes_.size());
        for (;;) {
            std::uint32_t first = i * arity + 1;
            if (first >= size)
                break;
            std::uint32_t best = first;
            for (std::uint32_t c = first + 1; c < first + arity && c < size; ++c)
                if (nodes_[c]->heap_when_ < nodes_[best]->heap_when_)
                    best = c;
            if (t->heap_when_ <= nodes_[best]->heap_when_)
                break;
            place(i, nodes_[best]);
            i = best;
        }
        place(i, t);
    }

    std::vector<timer*> nodes_;
};

}  // namespace ringo::detail
