// Slabs of frame blocks in 2 MiB regions (see frame_heap.hpp).
#include "frame_heap.hpp"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <mutex>
#include <new>

#include <ringo/detail/intrusive_list.hpp>
#include <ringo/detail/spinlock.hpp>

namespace ringo::detail::frame_heap {
namespace {

constexpr std::size_t slab_size = 32 * 1024;
constexpr std::size_t region_size = 2 * 1024 * 1024;
constexpr std::size_t slabs_per_region = region_size / slab_size;
constexpr std::uint64_t all_slabs_free = ~std::uint64_t(0);
static_assert(slabs_per_region == 64, "free_mask has one bit per slab");
// Every slab starts with its header, its blocks after it.
constexpr std::size_t header_size = 64;

struct region;

// A slab's header, in the slab. Guarded by the heap's lock.
struct slab {
    explicit slab(region* r) noexcept : home(r) {}
    list_hook<slab> hook;        // on its class's list of slabs with blocks given back
    region* home;                // the region it is in
    free_block* free = nullptr;  // blocks given back, ready for take()
    std::uint32_t live = 0;      // blocks handed out and not given back (a run counts whole)
    bool listed = false;         // on that list
};
static_assert(sizeof(slab) <= header_size);

// A region's header, outside it (malloc): a kept empty region's memory may
// be taken back by the kernel. Guarded by the heap's lock.
struct region {
    explicit region(char* b) noexcept : base(b) {}
    list_hook<region> hook;                    // on the list of regions with a free slab
    char* const base;                          // 2 MiB, aligned to that
    std::uint64_t free_mask = all_slabs_free;  // bit i: slab i is free
};

char* base_of(const region* r) noexcept { return r->base; }
slab* slab_of(const void* p) noexcept {
    return reinterpret_cast<slab*>(reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t(slab_size - 1));
}
region* region_of(const slab* s) noexcept { return s->home; }
std::size_t blocks_per_slab(std::size_t c) noexcept { return (slab_size - header_size) / ((c + 1) * granule); }

struct heap_state {
    spinlock lock;
    // Guarded by lock.
    std::array<intrusive_list<slab, &slab::hook>, classes> with_free{};  // per class: slabs holding given-back blocks
    intrusive_list<region, &region::hook> with_free_slab;  // regions with a free slab; wholly free ones at the back
    std::size_t empty_regions = 0;                        // kept regions with no slab in use (max_empty_regions)
    // Written under lock, read without it (in_use_bytes).
    std::atomic<std::size_t> slabs_in_use{0};  // slabs serving a class
};

// Constant-initialized and trivially destructible: usable from any thread
// until the process ends, also from other objects' destructors.
constinit heap_state heap;

// Maps a region aligned to its size, advised for huge pages. Lock held.
region* map_region() {
    void* p = ::mmap(nullptr, 2 * region_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::bad_alloc();
    auto start = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t base = (start + region_size - 1) & ~std::uintptr_t(region_size - 1);
    if (base != start)
        ::munmap(p, base - start);
    if (std::uintptr_t end = base + region_size; end != start + 2 * region_size)
        ::munmap(reinterpret_cast<void*>(end), start + 2 * region_size - end);
    auto* b = reinterpret_cast<char*>(base);
    region* r;
    try {
        r = new region(b);
    } catch (...) {
        ::munmap(b, region_size);
        throw;
    }
    ::madvise(b, region_size, MADV_HUGEPAGE);  // a hint: without THP, 4 KiB pages
    heap.with_free_slab.push_back(r);
    ++heap.empty_regions;
    return r;
}

// A free slab, from a region in use if one has room. Lock held.
slab* new_slab() {
    region* r = heap.with_free_slab.front();
    if (r == nullptr)
        r = map_region();
    if (r->free_mask == all_slabs_free)
        --heap.empty_regions;
    unsigned i = static_cast<unsigned>(std::countr_zero(r->free_mask));
    r->free_mask &= ~(std::uint64_t(1) << i);
    if (r->free_mask == 0)
        heap.with_free_slab.remove(r);
    heap.slabs_in_use.fetch_add(1, std::memory_order_relaxed);
    return new (base_of(r) + i * slab_size) slab(r);
}

// Regions kept mapped once no slab of theirs is in use (their memory is
// released to the kernel lazily, MADV_FREE): a burst of tasks that comes
// again finds them without a page fault.
constexpr std::size_t max_empty_regions = 64;

// Regions that give() left empty, to advise or unmap once unlocked; linked
// through their hooks.
struct emptied {
    region* to_keep = nullptr;
    region* to_unmap = nullptr;
};

// s has no block out any more: it goes back to its region. A region left
// with no slab in use leaves the list: it is kept (see max_empty_regions)
// or unmapped, by the caller, once unlocked.
void release_slab(slab* s, emptied& out) noexcept {
    heap.slabs_in_use.fetch_sub(1, std::memory_order_relaxed);
    region* r = region_of(s);
    auto i = static_cast<unsigned>((reinterpret_cast<char*>(s) - base_of(r)) / slab_size);
    bool was_full = r->free_mask == 0;
    r->free_mask |= std::uint64_t(1) << i;
    if (r->free_mask != all_slabs_free) {
        if (was_full)
            heap.with_free_slab.push_front(r);
        return;
    }
    if (!was_full)
        heap.with_free_slab.remove(r);
    bool keep = heap.empty_regions < max_empty_regions;
    heap.empty_regions += keep;
    region*& list = keep ? out.to_keep : out.to_unmap;
    r->hook.next = list;
    list = r;
}

// Unlocked: releases the memory of the regions give() emptied, then lists
// the kept ones again (only now: a slab taken before the advice would lose
// what was written to it).
void settle(emptied& e) noexcept {
    for (region* r = e.to_keep; r != nullptr; r = r->hook.next)
        ::madvise(base_of(r), region_size, MADV_FREE);  // fails before Linux 4.5: then it stays resident
    while (region* r = e.to_unmap) {
        e.to_unmap = r->hook.next;
        ::munmap(base_of(r), region_size);
        delete r;
    }
    if (e.to_keep == nullptr)
        return;
    std::lock_guard guard(heap.lock);
    while (region* r = e.to_keep) {
        e.to_keep = r->hook.next;
        heap.with_free_slab.push_back(r);  // wholly free ones are used last
    }
}

}  // namespace

grant take(std::size_t c, std::size_t want) {
    grant g;
    std::lock_guard guard(heap.lock);
    auto& with_free = heap.with_free[c];
    while (g.count < want && !with_free.empty()) {
        slab* s = with_free.front();
        while (g.count < want && s->free != nullptr) {
            free_block* b = s->free;
            s->free = b->next;
            b->next = g.chain;
            g.chain = b;
            ++g.count;
            ++s->live;
        }
        if (s->free == nullptr) {
            with_free.remove(s);
            s->listed = false;
        }
    }
    if (g.count > 0)
        return g;
    slab* s = new_slab();
    g.run = reinterpret_cast<char*>(s) + header_size;
    g.count = blocks_per_slab(c);
    s->live = static_cast<std::uint32_t>(g.count);
    return g;
}

void give(std::size_t c, free_block* chain) noexcept {
    if (chain == nullptr)
        return;
    emptied e;
    {
        std::lock_guard guard(heap.lock);
        auto& with_free = heap.with_free[c];
        while (chain != nullptr) {
            free_block* b = chain;
            chain = b->next;
            slab* s = slab_of(b);
            if (--s->live == 0) {  // its other given-back blocks go with it
                if (s->listed)
                    with_free.remove(s);
                release_slab(s, e);
                continue;
            }
            b->next = s->free;
            s->free = b;
            if (!s->listed) {
                with_free.push_front(s);
                s->listed = true;
            }
        }
    }
    settle(e);
}

std::size_t in_use_bytes() noexcept { return heap.slabs_in_use.load(std::memory_order_relaxed) * slab_size; }

}  // namespace ringo::detail::frame_heap
