// test/lifetime.hpp - a value type that counts its constructions, copies,
// moves and destructions, to prove ringo neither leaks nor double-destroys.
#pragma once

#include <atomic>

namespace test {

struct counts {
    std::atomic<int> constructed{0}, copied{0}, moved{0}, destroyed{0};
    int alive() const { return constructed + copied + moved - destroyed; }
    void reset() { constructed = copied = moved = destroyed = 0; }
};
inline counts lifetime_counts;

struct lifetime {
    int value = 0;
    bool valid = true;  // false once moved from or destroyed

    explicit lifetime(int v = 0) : value(v) { ++lifetime_counts.constructed; }
    lifetime(const lifetime& o) : value(o.value), valid(o.valid) { ++lifetime_counts.copied; }
    lifetime(lifetime&& o) noexcept : value(o.value), valid(o.valid) {
        o.valid = false;
        ++lifetime_counts.moved;
    }
    lifetime& operator=(const lifetime& o) {
        value = o.value;
        valid = o.valid;
        return *this;
    }
    lifetime& operator=(lifetime&& o) noexcept {
        value = o.value;
        valid = o.valid;
        o.valid = false;
        return *this;
    }
    ~lifetime() {
        ++lifetime_counts.destroyed;
        valid = false;
    }
};

}  // namespace test
