// The README's first example, as a user writes it, plus the cheat sheet's
// forms (forms.cpp). Exits 0 only if every result arrived.
#include <ringo/ringo.hpp>

#include <cstdio>

int forms_failures();  // forms.cpp: runs the cheat sheet's forms, counts what went wrong

namespace {

int sum = 0;

ringo::task<void> worker(int id, ringo::send_chan<int> out) {
    co_await out.send(id * id);
}

ringo::task<int> main_task() {
    ringo::chan<int> results(0);
    for (int i = 0; i < 3; ++i)
        ringo::go(worker, i, ringo::send_chan<int>(results));
    for (int i = 0; i < 3; ++i) {
        int v = *co_await results.recv();
        std::printf("%d\n", v);
        sum += v;
    }
    co_return 0;
}

}  // namespace

int main() {
    int status = ringo::run_main(main_task());
    int failures = forms_failures();
    std::printf("consumer: sum of squares 0..2 = %d, %d form(s) failed\n", sum, failures);
    return status == 0 && sum == 5 && failures == 0 ? 0 : 1;
}
