// The memory behind the frame cache (frame_alloc.cpp): slabs of frame-sized
// blocks carved from 2 MiB regions that the kernel may back with one huge
// page each.
//
// Why: a block that misses the cache came from malloc, one chunk per block,
// and memory touched for the first time costs a page fault per 4 KiB page
// (about 10 us each in a VM). A program with 100,000 tasks alive at once
// spent most of its time there and in malloc's bins. Here a region is
// mapped with mmap and advised MADV_HUGEPAGE (transparent huge pages, where
// the system allows them: then one fault maps 2 MiB), a block costs a few
// instructions, and carving touches no block before its first use.
//
// Layout: a region is 64 slabs of 32 KiB, each aligned to its size; a slab
// serves one size class, and a block's slab is its address rounded down to
// 32 KiB (its header holds the slab's bookkeeping). A slab whose blocks
// have all come back is returned to its region. A region with no slab in use
// is kept mapped, up to 64 of them (128 MiB), its memory released lazily
// (MADV_FREE: the kernel takes the pages back when it needs them, and a
// burst that comes again before that reuses them without page faults);
// beyond those it is unmapped. So what a program holds after a burst is
// those regions, the caches in front of the heap (frame_alloc.cpp), and the
// slabs that a live block still pins.
//
// Thread-safety: every function is thread-safe (one lock; callers move
// blocks in batches, so it is taken once per batch or per slab).
#pragma once

#include <cstddef>

namespace ringo::detail::frame_heap {

constexpr std::size_t granule = 16;  // block sizes are multiples of it
constexpr std::size_t classes = 64;  // blocks up to 1 KiB: class c holds (c + 1) * granule bytes

// A free block: `next` links a chain; frame_alloc.cpp's pool also links
// whole batches through `next_batch` of a chain's first block.
struct free_block {
    explicit free_block(free_block* n) noexcept : next(n) {}
    free_block* next;
    free_block* next_batch;
};

// Blocks for a cache: a chain of blocks returned earlier (`chain`, `count`
// of them) or, when none is left, a fresh run of `count` contiguous,
// never-touched blocks starting at `run`. Throws std::bad_alloc if the
// system has no memory.
struct grant {
    free_block* chain = nullptr;
    char* run = nullptr;
    std::size_t count = 0;
};
grant take(std::size_t c, std::size_t want);

// Returns a chain of blocks of class c (linked through `next`), each
// handed out by take(). Never fails.
void give(std::size_t c, free_block* chain) noexcept;

// The bytes of the slabs serving a size class now (32 KiB each, whole), as
// malloc counts the chunks in use.
std::size_t in_use_bytes() noexcept;

}  // namespace ringo::detail::frame_heap
