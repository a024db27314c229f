// Per-thread cache of coroutine frames, with a shared transfer pool (see
// detail/frame_alloc.hpp).
#include <ringo/detail/frame_alloc.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <new>
#include <utility>

#include <ringo/detail/spinlock.hpp>

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

constexpr std::size_t granule = 16;
constexpr std::size_t classes = 64;                 // frames up to 1 KiB are cached
constexpr std::size_t max_cached_per_class = 4096;  // bounds what an idle thread keeps
constexpr std::size_t batch = 128;                  // blocks moved to or from the pool at once
constexpr std::size_t max_pooled_batches = 32;      // bounds the pool: 4,096 blocks per class

// A free block (every block is at least one 16-byte granule). `next` links
// the blocks of one chain; the first block of a batch in the pool also links
// the pool's next batch.
struct free_block {
    explicit free_block(free_block* n) noexcept : next(n) {}
    free_block* next;
    free_block* next_batch;  // set only while first of a pooled batch
};

void delete_chain(free_block* b) noexcept {
    while (b != nullptr)
        ::operator delete(std::exchange(b, b->next));
}

// The transfer pool: frames freed on one executor (a task that was stolen,
// or woken elsewhere, ends there) in excess of its cache go here in batches
// of `batch`, and an executor whose cache is empty takes a batch back
// before it calls malloc. Without it those frees all went to malloc,
// contending on the allocating thread's arena lock. Thread-safe: `lock`
// guards `batches`; `size` (batches pooled) is also read without it, as a
// hint, so an empty pool costs an allocation no lock.
struct pool_class {
    spinlock lock;
    free_block* batches = nullptr;
    std::atomic<std::size_t> size{0};
};

struct transfer_pool {
    std::array<pool_class, classes> by_class;

    // Takes ownership of a chain of exactly `batch` blocks.
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
        delete_chain(chain);
    }

    // A hint (no lock): whether put() would keep a batch now.
    bool has_room(std::size_t c) const noexcept {
        return by_class[c].size.load(std::memory_order_relaxed) < max_pooled_batches;
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

    ~transfer_pool() {
        for (pool_class& p : by_class)
            while (p.batches != nullptr)
                delete_chain(std::exchange(p.batches, p.batches->next_batch));
    }
};

transfer_pool pool;

// One thread's cache. `head[c]` holds up to max_cached_per_class blocks;
// beyond that frees collect in `outgoing[c]` until a batch is full, which
// goes to the pool. Owning thread only.
struct frame_cache {
    std::array<free_block*, classes> head{};
    std::array<std::size_t, classes> count{};
    std::array<free_block*, classes> outgoing{};
    std::array<std::size_t, classes> outgoing_count{};

    ~frame_cache() {
        for (std::size_t c = 0; c < classes; ++c) {
            delete_chain(head[c]);
            delete_chain(outgoing[c]);
        }
    }
};

thread_local frame_cache cache;

std::size_t class_of(std::size_t n) { return (n - 1) / granule; }

// The slow paths, out of line so that the hits stay a few instructions.
[[gnu::noinline]] void* refill_and_alloc(frame_cache& fc, std::size_t c) {
    free_block* b = pool.take(c);
    if (b == nullptr)
        return ::operator new((c + 1) * granule);
    fc.head[c] = b->next;
    fc.count[c] = batch - 1;
    return b;
}

[[gnu::noinline]] void spill(frame_cache& fc, void* p, std::size_t c) noexcept {
    if (!pool.has_room(c)) {
        ::operator delete(p);
        return;
    }
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

}  // namespace ringo::detail
