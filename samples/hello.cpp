// hello: spawn a few tasks, collect their results, show the task dump.
#include <ringo/ringo.hpp>

#include <cstdio>
#include <vector>

ringo::task<int> square(int x) {
    co_await ringo::yield();
    co_return x * x;
}

ringo::task<void> worker(int id, std::vector<int>& out) {
    int v = co_await square(id);
    out[id] = v;
}

ringo::task<int> hello_main() {
    std::vector<int> results(5);
    for (int i = 0; i < 5; ++i)
        ringo::go(worker, i, std::ref(results));
    std::printf("%zu tasks alive:\n%s", ringo::num_tasks(), ringo::dump_tasks().c_str());
    while (ringo::num_tasks() > 1)
        co_await ringo::yield();
    for (int i = 0; i < 5; ++i)
        std::printf("square(%d) = %d\n", i, results[i]);
    co_return 0;
}

int main() { return ringo::run(hello_main()); }
