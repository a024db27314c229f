// ringo/detail/frame_alloc.hpp - coroutine frame allocation.
//
// Task frames are allocated and freed at a high rate (every go() and every
// nested task). Frames up to 1 KiB are recycled through a small per-thread
// cache of free blocks, per 16-byte size class, so a spawn usually costs no
// malloc. A thread that frees more than it allocates (tasks
// started on one executor end on another) hands its excess, in batches, to a
// shared pool that an allocating thread takes from before it calls malloc.
// Both are bounded (4,096 blocks per class each: a program uses a few
// classes, so a thread keeps a few MiB at most). Thread-safe. Under
// AddressSanitizer the cache is bypassed so that use-after-free of a frame is
// still caught.
#pragma once

#include <cstddef>

namespace ringo::detail {

void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;

// Base of every promise type: routes frame allocation through the cache.
struct frame_allocated {
    static void* operator new(std::size_t n) { return frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

}  // namespace ringo::detail
