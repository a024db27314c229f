// Per-thread cache of coroutine frames (see detail/frame_alloc.hpp).
#include <ringo/detail/frame_alloc.hpp>

#include <array>
#include <utility>
#include <new>

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

constexpr std::size_t granule = 64;
constexpr std::size_t classes = 16;                 // frames up to 1 KiB are cached
constexpr std::size_t max_cached_per_class = 4096;  // bounds what an idle thread keeps

struct free_block {
    free_block* next;
};

struct frame_cache {
    std::array<free_block*, classes> head{};
    std::array<std::size_t, classes> count{};

    ~frame_cache() {
        for (free_block* b : head)
            while (b != nullptr)
                ::operator delete(std::exchange(b, b->next));
    }
};

thread_local frame_cache cache;

std::size_t class_of(std::size_t n) { return (n - 1) / granule; }

}  // namespace

void* frame_alloc(std::size_t n) {
    if constexpr (RINGO_FRAME_CACHE) {
        std::size_t c = class_of(n);
        if (c < classes) {
            if (free_block* b = cache.head[c]) {
                cache.head[c] = b->next;
                --cache.count[c];
                return b;
            }
            return ::operator new((c + 1) * granule);
        }
    }
    return ::operator new(n);
}

void frame_free(void* p, std::size_t n) noexcept {
    if constexpr (RINGO_FRAME_CACHE) {
        std::size_t c = class_of(n);
        if (c < classes) {
            if (cache.count[c] < max_cached_per_class) {
                cache.head[c] = new (p) free_block{cache.head[c]};
                ++cache.count[c];
            } else {
                ::operator delete(p);
            }
            return;
        }
    }
    ::operator delete(p);
}

}  // namespace ringo::detail
