// The frame allocator (detail/frame_alloc.hpp): its cache, pool and heap
// hand out distinct blocks that keep what is written to them, on any thread,
// and the memory of a burst goes back. Under AddressSanitizer the allocator
// is plain operator new, and the memory checks are skipped.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <ringo/ringo.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define FRAME_HEAP_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FRAME_HEAP_ON 0
#endif
#endif
#ifndef FRAME_HEAP_ON
#define FRAME_HEAP_ON 1
#endif

using ringo::detail::frame_alloc;
using ringo::detail::frame_free;
using ringo::detail::frame_memory_bytes;

namespace {

struct block {
    unsigned char* p;
    std::size_t n;
    std::uint32_t tag;
};

// Writes b's tag into its first and last 8 bytes (every block has 16).
void fill(const block& b) {
    std::uint64_t t = b.tag;
    std::memcpy(b.p, &t, 8);
    std::memcpy(b.p + b.n - 8, &t, 8);
}
bool intact(const block& b) {
    std::uint64_t head = 0, tail = 0;
    std::memcpy(&head, b.p, 8);
    std::memcpy(&tail, b.p + b.n - 8, 8);
    return head == b.tag && tail == b.tag;
}

// The number of blocks that overlap the next one in address order.
std::size_t count_overlaps(std::vector<block> v) {
    std::sort(v.begin(), v.end(), [](const block& a, const block& b) { return a.p < b.p; });
    std::size_t overlaps = 0;
    for (std::size_t i = 1; i < v.size(); ++i)
        overlaps += v[i - 1].p + v[i - 1].n > v[i].p;
    return overlaps;
}

std::vector<block> allocate(std::size_t count, std::uint32_t first_tag) {
    static constexpr std::size_t sizes[] = {16, 24, 200, 208, 336, 1000, 1024, 1025, 4096};
    std::vector<block> v;
    v.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t n = sizes[i % std::size(sizes)];
        block b{static_cast<unsigned char*>(frame_alloc(n)), n, first_tag + static_cast<std::uint32_t>(i)};
        fill(b);
        v.push_back(b);
    }
    return v;
}

std::size_t count_damaged(const std::vector<block>& v) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](const block& b) { return !intact(b); }));
}

void free_all(const std::vector<block>& v) {
    for (const block& b : v)
        frame_free(b.p, b.n);
}

// 100,000 tasks parked at once, then released; `during` is read while they
// are parked.
ringo::task<void> burst(std::size_t& during) {
    constexpr int n = 100'000;
    ringo::chan<int> release(0);
    ringo::wait_group wg;
    for (int i = 0; i < n; ++i)
        wg.go([release]() -> ringo::task<void> { co_await release.recv(); });
    co_await ringo::yield();
    during = frame_memory_bytes();
    release.close();
    co_await wg.wait();
}

}  // namespace

TEST_CASE("blocks of every size are distinct, aligned and keep their contents, freed in any order") {
    for (int round = 0; round < 3; ++round) {  // later rounds reuse what earlier ones gave back
        std::vector<block> v = allocate(60'000, 0);
        CHECK(std::count_if(v.begin(), v.end(), [](const block& b) { return reinterpret_cast<std::uintptr_t>(b.p) % 16 != 0; }) == 0);
        CHECK(count_damaged(v) == 0);
        CHECK(count_overlaps(v) == 0);
        std::shuffle(v.begin(), v.end(), std::mt19937(static_cast<unsigned>(round)));
        // Half go back, new ones take their places; none may land on a live one.
        std::vector<block> kept(v.begin(), v.begin() + 30'000);
        free_all(std::vector<block>(v.begin() + 30'000, v.end()));
        std::vector<block> more = allocate(30'000, 1'000'000);
        CHECK(count_damaged(kept) == 0);
        CHECK(count_damaged(more) == 0);
        std::vector<block> live = kept;
        live.insert(live.end(), more.begin(), more.end());
        CHECK(count_overlaps(live) == 0);
        free_all(kept);
        free_all(more);
    }
}

TEST_CASE("blocks freed on other threads are reused safely and a burst's memory goes back") {
    std::size_t before = frame_memory_bytes();
    constexpr int threads = 4;
    constexpr std::size_t per_thread = 100'000;
    std::vector<std::vector<block>> made(threads);
    std::size_t peak = 0;
    for (int round = 0; round < 3; ++round) {
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t)  // each allocates its share
            workers.emplace_back([&, t] { made[t] = allocate(per_thread, static_cast<std::uint32_t>(t * per_thread)); });
        for (auto& w : workers)
            w.join();
        peak = std::max(peak, frame_memory_bytes());
        std::vector<block> all;
        for (auto& m : made)
            all.insert(all.end(), m.begin(), m.end());
        CHECK(count_overlaps(std::move(all)) == 0);
        workers.clear();
        std::vector<std::size_t> damaged(threads);
        for (int t = 0; t < threads; ++t)  // each checks and frees another's, while allocating anew
            workers.emplace_back([&, t] {
                const std::vector<block>& theirs = made[(t + 1) % threads];
                damaged[t] = count_damaged(theirs);
                std::vector<block> fresh = allocate(per_thread / 4, 5'000'000);
                damaged[t] += count_damaged(fresh) + count_damaged(theirs);
                free_all(theirs);
                free_all(fresh);
            });
        for (auto& w : workers)
            w.join();
        for (int t = 0; t < threads; ++t)
            CHECK(damaged[t] == 0);
    }
    std::size_t after = frame_memory_bytes();
    INFO("before ", before, ", peak ", peak, ", after ", after);
#if FRAME_HEAP_ON
    // The blocks that the threads held went back to the heap when they ended;
    // what is left is the shared pool (at most 4,096 blocks per class, about
    // 12 MB here) and the slabs its blocks pin.
    CHECK(peak - before >= threads * per_thread * 200);
    CHECK(after - before <= (peak - before) / 4);
#else
    CHECK(after == 0);  // plain operator new: the heap is never used
#endif
}

TEST_CASE("a burst of tasks takes its frames from the heap and gives them back") {
    std::size_t before = frame_memory_bytes();
    std::size_t during = 0;
    ringo::run(burst(during));
    std::size_t after = frame_memory_bytes();
    INFO("before ", before, ", during ", during, ", after ", after);
#if FRAME_HEAP_ON
    CHECK(during - before >= std::size_t(100'000) * 100);  // two frames a task, well over 100 bytes
    CHECK(after - before <= (during - before) / 4);
#else
    CHECK(during == 0);
#endif
}
