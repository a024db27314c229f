// Per-thread cache of coroutine frames, with a shared transfer pool, in
// front of the frame heap (see detail/frame_alloc.hpp and frame_heap.hpp).
#include <ringo/detail/frame_alloc.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <new>
#include <utility>

#include <ringo/detail/spinlock.hpp>

#include "frame_heap.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define RINGO_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_FRAME_CACHE 0
#endif
#endif
#ifndef RINGO_FRAME_CACHE
#define RINGO_FRAME_CACHE 1
#endif

namespace ringo::detail {
namespace {

using frame_heap::classes;  // frames up to 1 KiB are cached
using frame_heap::free_block;
using frame_heap::granule;
constexpr std::size_t max_cached_per_class = 4096;  // bounds what an idle thread keeps
constexpr std::size_t batch = 128;                  // blocks moved to or from the pool at once
constexpr std::size_t max_pooled_batches = 32;      // bounds the pool: 4,096 blocks per class

// The transfer pool: frames freed on one executor (a task that was stolen,
// or woken elsewhere, ends there) in excess of its cache go here in batches
// of `batch`, and an executor whose cache is empty takes a batch back
// before it asks the frame heap. Warm blocks are reused first, and moving a
// batch costs one uncontended lock. Thread-safe: `lock` guards `batches`;
// `size` (batches pooled) is also read without it, as a hint, so an empty
// pool costs an allocation no lock.
struct pool_class {
    spinlock lock;
    free_block* batches = nullptr;
    std::atomic<std::size_t> size{0};
};

struct transfer_pool {
    std::array<pool_class, classes> by_class;

    // Takes ownership of a chain of exactly `batch` blocks; a full pool
    // gives it to the frame heap.
    void put(std::size_t c, free_block* chain) noexcept {
        pool_class& p = by_class[c];
        if (p.size.load(std::memory_order_relaxed) < max_pooled_batches) {
            std::lock_guard l(p.lock);
            if (p.size.load(std::memory_order_relaxed) < max_pooled_batches) {
                chain->next_batch = p.batches;
                p.batches = chain;
                p.size.store(p.size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
                return;
            }
        }
        frame_heap::give(c, chain);
    }

    // A chain of `batch` blocks, or nullptr.
    free_block* take(std::size_t c) noexcept {
        pool_class& p = by_class[c];
        if (p.size.load(std::memory_order_relaxed) == 0)
            return nullptr;
        std::lock_guard l(p.lock);
        free_block* chain = p.batches;
        if (chain != nullptr) {
            p.batches = chain->next_batch;
            p.size.store(p.size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        }
        return chain;
    }
};

// Constant-initialized and trivially destructible, as the heap is: a frame
// freed while the process ends (a static's destructor) still finds it.
constinit transfer_pool pool;

// One thread's cache. `head[c]` holds up to max_cached_per_class blocks;
// beyond that frees collect in `outgoing[c]` until a batch is full, which
// goes to the pool. `run[c]` is the rest of a fresh run of blocks from the
// frame heap (`run_left[c]` of them, not touched yet), carved one at a time
// when `head[c]` and the pool are empty. Owning thread only.
struct frame_cache {
    std::array<free_block*, classes> head{};
    std::array<std::size_t, classes> count{};
    std::array<free_block*, classes> outgoing{};
    std::array<std::size_t, classes> outgoing_count{};
    std::array<char*, classes> run{};
    std::array<std::size_t, classes> run_left{};
    bool armed = false;  // release_at_exit is registered

    // The thread ends: everything it holds goes back to the frame heap. A
    // frame freed later in the thread's exit (another thread_local's
    // destructor) goes to the outgoing batch, as if the cache were full.
    void release() noexcept {
        for (std::size_t c = 0; c < classes; ++c) {
            for (; run_left[c] > 0; --run_left[c], run[c] += (c + 1) * granule)
                head[c] = new (run[c]) free_block(head[c]);
            frame_heap::give(c, std::exchange(head[c], nullptr));
            frame_heap::give(c, std::exchange(outgoing[c], nullptr));
            outgoing_count[c] = 0;
            count[c] = max_cached_per_class;
        }
    }
};

// Constant-initialized and trivially destructible, so that a hit reaches it
// with no initialization check (release_at_exit does the cleanup).
constinit thread_local frame_cache cache;

// Returns the thread's cache at its exit. Touched once per thread, when the
// cache first gets a block (a miss, or a free): that registers its
// destructor.
struct cache_releaser {
    bool armed = false;
    ~cache_releaser() {
        if (armed)
            cache.release();
    }
};
thread_local cache_releaser release_at_exit;

[[gnu::noinline]] void arm_release(frame_cache& fc) noexcept {
    fc.armed = true;
    release_at_exit.armed = true;
}

std::size_t class_of(std::size_t n) { return (n - 1) / granule; }

// The slow paths, out of line so that the hits stay a few instructions.
// A miss takes a batch from the pool, else carves the current run, else
// asks the frame heap for blocks given back or a fresh run.
[[gnu::noinline]] void* refill_and_alloc(frame_cache& fc, std::size_t c) {
    if (!fc.armed)
        arm_release(fc);
    if (free_block* b = pool.take(c)) {
        fc.head[c] = b->next;
        fc.count[c] = batch - 1;
        return b;
    }
    if (fc.run_left[c] == 0) {
        frame_heap::grant g = frame_heap::take(c, batch);
        if (g.chain != nullptr) {
            fc.head[c] = g.chain->next;
            fc.count[c] = g.count - 1;
            return g.chain;
        }
        fc.run[c] = g.run;
        fc.run_left[c] = g.count;
    }
    --fc.run_left[c];
    return std::exchange(fc.run[c], fc.run[c] + (c + 1) * granule);
}

[[gnu::noinline]] void spill(frame_cache& fc, void* p, std::size_t c) noexcept {
    fc.outgoing[c] = new (p) free_block(fc.outgoing[c]);
    if (++fc.outgoing_count[c] == batch) {
        pool.put(c, std::exchange(fc.outgoing[c], nullptr));
        fc.outgoing_count[c] = 0;
    }
}

}  // namespace

void* frame_alloc(std::size_t n) {
    if constexpr (RINGO_FRAME_CACHE) {
        std::size_t c = class_of(n);
        if (c < classes) {
            frame_cache& fc = cache;
            free_block* b = fc.head[c];
            if (b == nullptr) [[unlikely]]
                return refill_and_alloc(fc, c);
            fc.head[c] = b->next;
            --fc.count[c];
            return b;
        }
    }
    return ::operator new(n);
}

void frame_free(void* p, std::size_t n) noexcept {
    if constexpr (RINGO_FRAME_CACHE) {
        std::size_t c = class_of(n);
        if (c < classes) {
            frame_cache& fc = cache;
            if (fc.count[c] < max_cached_per_class) [[likely]] {
                if (!fc.armed) [[unlikely]]
                    arm_release(fc);
                fc.head[c] = new (p) free_block(fc.head[c]);
                ++fc.count[c];
            } else {
                spill(fc, p, c);
            }
            return;
        }
    }
    ::operator delete(p);
}

std::size_t frame_memory_bytes() noexcept {
    if constexpr (RINGO_FRAME_CACHE)
        return frame_heap::in_use_bytes();
    else
        return 0;
}

}  // namespace ringo::detail
