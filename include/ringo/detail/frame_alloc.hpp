// ringo/detail/frame_alloc.hpp - coroutine frame allocation (also channel
// states, context nodes and timer nodes: objects that come and go with tasks).
//
// Task frames are allocated and freed at a high rate (every go() and every
// nested task). Frames up to 1 KiB are recycled through a small per-thread
// cache of free blocks, per 16-byte size class, so a spawn usually costs no
// lock and no malloc. A thread that frees more than it allocates (tasks
// started on one executor end on another) hands its excess, in batches, to a
// shared pool that an allocating thread takes from first. Both are bounded
// (4,096 blocks per class each: a program uses a few classes, so a thread's
// cache holds a few MiB at most, though the slabs its blocks sit in stay in
// use with them). Behind them, the blocks come from ringo's frame
// heap (lib/frame_heap.hpp): slabs in 2 MiB regions, advised for
// transparent huge pages, so that 100,000 new frames cost a few page faults
// rather than thousands, and no malloc; slabs and regions go back as their
// blocks do. Thread-safe. Under AddressSanitizer the cache and the heap are
// bypassed (plain operator new), so that use-after-free of a frame is still
// caught.
#pragma once

#include <cstddef>

namespace ringo::detail {

void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;

// The bytes of the frame heap's slabs in use now (32 KiB each, counted
// whole, cached blocks included, as malloc counts a chunk that the cache
// holds). They are mapped outside malloc's heap, so mallinfo2 does not see
// them: benchmarks and tests that count a program's heap add this.
std::size_t frame_memory_bytes() noexcept;

// Base of every promise type (and of chan_state): routes allocation through
// the cache. A class deriving from it needs `::new (p) T` for placement new.
struct frame_allocated {
    static void* operator new(std::size_t n) { return frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

}  // namespace ringo::detail
