// Spawns tasks that report over a channel; exits 0 only if every result arrived.
#include <ringo/ringo.hpp>

#include <cstdio>

ringo::task<void> square(int x, ringo::send_chan<int> out) { co_await out.send(x * x); }

ringo::task<int> consumer_main() {
    ringo::chan<int> results(0);
    for (int i = 1; i <= 10; ++i)
        ringo::go(square, i, ringo::send_chan<int>(results));
    int sum = 0;
    for (int i = 0; i < 10; ++i)
        sum += *(co_await results.recv());
    std::printf("consumer: sum of squares 1..10 = %d\n", sum);
    co_return sum == 385 ? 0 : 1;
}

int main() { return ringo::run(consumer_main()); }
