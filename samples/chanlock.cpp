// chanlock: a mutex built from a channel of capacity 1 - lock is a send,
// unlock a receive, try_lock a try_send, and lock-with-timeout a select
// against time.After. Workers increment a shared counter under it.
//
//   ./dev sample chanlock [--workers 8] [--rounds 1000] [--hold 5ms] [--timeout 2ms]
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>

#include "flags.hpp"

namespace {

using namespace std::chrono_literals;

class chan_mutex {
public:
    [[nodiscard]] auto lock() const { return slot_.send(std::monostate{}); }  // co_await m.lock()
    bool try_lock() const { return slot_.try_send(std::monostate{}); }
    // True if the lock was taken within d.
    ringo::task<bool> lock_for(std::chrono::nanoseconds d) const {
        auto r = co_await ringo::select(ringo::send(slot_, std::monostate{}), ringo::recv(ringo::after(d)));
        co_return r.index() == 0;
    }
    void unlock() const {
        if (slot_.try_recv().state != ringo::recv_state::ok)
            throw ringo::panic_error("chan_mutex: unlock of unlocked mutex");
    }

private:
    ringo::signal_chan slot_{1};
};

struct stats {
    long counter = 0, locked = 0, tried = 0, try_failed = 0, timed_out = 0;
};

// With threads > 1 the workers run in parallel: everything they share is
// touched only under the lock (their try_lock counts are kept locally and
// added under it at the end).
ringo::task<void> worker(int id, long rounds, chan_mutex& mu, stats& st, ringo::wait_group& wg) {
    long tried = 0, try_failed = 0;
    for (long i = 0; i < rounds; ++i) {
        if (id % 2 == 0) {
            co_await mu.lock();
            ++st.locked;
        } else {
            ++tried;
            if (!mu.try_lock()) {
                ++try_failed;
                co_await ringo::yield();
                continue;
            }
        }
        long seen = st.counter;
        co_await ringo::yield();  // other workers run while we hold the lock
        st.counter = seen + 1;    // not lost: nobody else got in
        mu.unlock();
    }
    co_await mu.lock();
    st.tried += tried;
    st.try_failed += try_failed;
    mu.unlock();
    wg.done();
}

ringo::task<int> chanlock_main(long workers, long rounds, std::chrono::nanoseconds hold, std::chrono::nanoseconds timeout) {
    chan_mutex mu;
    stats st;
    ringo::wait_group wg;
    wg.add(static_cast<int>(workers));
    for (long w = 0; w < workers; ++w)
        ringo::go(worker, static_cast<int>(w), rounds, std::ref(mu), std::ref(st), std::ref(wg));
    co_await wg.wait();
    long expected = st.locked + (st.tried - st.try_failed);
    std::printf("counter = %ld (lock: %ld, try_lock: %ld of %ld succeeded) -> %s\n", st.counter, st.locked,
                st.tried - st.try_failed, st.tried, st.counter == expected ? "no update lost" : "LOST UPDATES");

    // Lock with a timeout: a holder keeps the lock for `hold`; we wait `timeout`.
    co_await mu.lock();
    ringo::go([&mu, hold]() -> ringo::task<void> {
        co_await ringo::sleep_for(hold);
        mu.unlock();
    });
    auto start = ringo::clock::now();
    bool got = co_await mu.lock_for(timeout);
    std::printf("lock_for(%.1f ms) while held for %.1f ms: %s after %.1f ms\n", flags::ms(timeout), flags::ms(hold),
                got ? "acquired" : "timed out", flags::ms(ringo::clock::now() - start));
    if (got)
        mu.unlock();
    got = co_await mu.lock_for(hold + timeout);
    std::printf("lock_for(%.1f ms): %s\n", flags::ms(hold + timeout), got ? "acquired" : "timed out");
    co_return st.counter == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    long workers = 8, rounds = 1000;
    std::chrono::nanoseconds hold = 5ms, timeout = 2ms;
    flags::set fs("chanlock: a mutex made of a capacity-1 channel, with try_lock and lock-with-timeout");
    fs.int_var("workers", workers, "workers incrementing the counter");
    fs.int_var("rounds", rounds, "increments per worker");
    fs.duration_var("hold", hold, "how long the holder keeps the lock in the timeout demo", flags::range::non_negative);
    fs.duration_var("timeout", timeout, "lock_for timeout in the demo", flags::range::non_negative);
    fs.parse_or_exit(argc, argv);
    if (workers < 1 || rounds < 1) {
        std::fprintf(stderr, "chanlock: -workers and -rounds must be positive\n");
        return 2;
    }
    return ringo::run_main(chanlock_main(workers, rounds, hold, timeout));
}
