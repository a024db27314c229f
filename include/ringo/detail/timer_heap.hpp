// ringo/detail/timer_heap.hpp - an executor's timers: a 4-ary min-heap of
// deadlines. The executor sleeps until the earliest one (one kernel timeout
// for all of them, never one SQE per timer). Executor thread only, except
// the sync request fields, which any thread may post through the executor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace ringo {
using clock = std::chrono::steady_clock;
}

namespace ringo::detail {

enum class timer_event {
    fire,    // its deadline passed: it was popped from the heap
    sync,    // another thread changed it (post_timer_sync): bring the heap in line
    detach,  // the executor is shutting down: it leaves the heap for good
};

struct timer_node {
    static constexpr std::uint32_t not_in_heap = std::numeric_limits<std::uint32_t>::max();

    // Set once.
    void (*on_event)(timer_node* self, timer_event e, clock::time_point now) noexcept = nullptr;

    // Executor thread only.
    clock::time_point when{};
    std::uint32_t heap_index = not_in_heap;

    // Any thread (posting a sync request).
    timer_node* sync_next = nullptr;
    std::atomic<bool> sync_posted{false};

    bool in_heap() const noexcept { return heap_index != not_in_heap; }
};

class timer_heap {
public:
    bool empty() const noexcept { return nodes_.empty(); }
    std::size_t size() const noexcept { return nodes_.size(); }
    timer_node* top() const noexcept { return nodes_.front(); }

    void push(timer_node* n, clock::time_point when) {
        n->when = when;
        n->heap_index = static_cast<std::uint32_t>(nodes_.size());
        nodes_.push_back(n);
        sift_up(n->heap_index);
    }

    void remove(timer_node* n) noexcept {
        std::uint32_t i = n->heap_index;
        if (i == timer_node::not_in_heap)
            return;
        n->heap_index = timer_node::not_in_heap;
        timer_node* last = nodes_.back();
        nodes_.pop_back();
        if (last == n)
            return;
        place(i, last);
        sift_down(sift_up(i));
    }

    timer_node* pop() noexcept {
        timer_node* n = nodes_.front();
        remove(n);
        return n;
    }

    // Moves n to `when`, inserting it if it is not in the heap.
    void update(timer_node* n, clock::time_point when) {
        if (!n->in_heap()) {
            push(n, when);
            return;
        }
        n->when = when;
        sift_down(sift_up(n->heap_index));
    }

    std::vector<timer_node*> take_all() noexcept {
        for (timer_node* n : nodes_)
            n->heap_index = timer_node::not_in_heap;
        return std::exchange(nodes_, {});
    }

private:
    static constexpr std::uint32_t arity = 4;

    void place(std::uint32_t i, timer_node* n) noexcept {
        nodes_[i] = n;
        n->heap_index = i;
    }
    std::uint32_t sift_up(std::uint32_t i) noexcept {
        timer_node* n = nodes_[i];
        while (i > 0) {
            std::uint32_t parent = (i - 1) / arity;
            if (nodes_[parent]->when <= n->when)
                break;
            place(i, nodes_[parent]);
            i = parent;
        }
        place(i, n);
        return i;
    }
    void sift_down(std::uint32_t i) noexcept {
        timer_node* n = nodes_[i];
        auto size = static_cast<std::uint32_t>(nodes_.size());
        for (;;) {
            std::uint32_t first = i * arity + 1;
            if (first >= size)
                break;
            std::uint32_t best = first;
            for (std::uint32_t c = first + 1; c < first + arity && c < size; ++c)
                if (nodes_[c]->when < nodes_[best]->when)
                    best = c;
            if (n->when <= nodes_[best]->when)
                break;
            place(i, nodes_[best]);
            i = best;
        }
        place(i, n);
    }

    std::vector<timer_node*> nodes_;
};

}  // namespace ringo::detail
