// The Go -> ringo cheat sheet's forms, written as a user would (lambdas,
// captures, temporaries bound to named locals), compiled with -Werror and
// run. Each form that does not do what the cheat sheet says adds a failure.
#include <ringo/ringo.hpp>

#include <csignal>
#include <memory>
#include <string>

using namespace std::chrono_literals;

namespace {

int failures = 0;
void expect(bool ok) { failures += ok ? 0 : 1; }

ringo::task<int> square(int x) { co_return x * x; }
ringo::task<> nothing() { co_return; }
ringo::task<> add(std::shared_ptr<int> total, int n) {
    *total += n;
    co_return;
}

ringo::task<int> forms() {
    // go in every form.
    auto total = std::make_shared<int>(0);
    auto worker = [total]() -> ringo::task<> { return add(total, 1); };
    ringo::go(nothing);
    ringo::go(nothing());
    ringo::go(worker);
    ringo::go(add, total, 10);
    ringo::go([total]() -> ringo::task<> { co_await add(total, 100); });
    ringo::go([total] { *total += 1000; });
    ringo::wait_group wg;
    wg.go([total]() -> ringo::task<> { co_await add(total, 10000); });
    co_await wg.wait();
    while (ringo::num_tasks() > 1)
        co_await ringo::yield();
    expect(*total == 11111);
    expect(co_await square(3) == 9);

    // Channels and select.
    ringo::chan<int> ch(1), other(0);
    co_await ch.send(1);
    auto r = co_await ringo::select(ringo::recv(ch), ringo::recv(other), ringo::recv(ringo::after(1h)));
    expect(r.index() == 0 && r.get<0>() == 1);
    int v = 2;
    auto t = ringo::try_select(ringo::send(ch, v), ringo::recv(other));
    expect(t && t->index() == 0);
    auto b = co_await ringo::select_biased(ringo::recv(ch), ringo::recv(ringo::after(1h)));
    expect(b.index() == 0);

    // Timers: after_func with capturing lambdas.
    int fired = 0;
    auto stop = ringo::after_func(1h, [&fired] { ++fired; });
    expect(stop());
    auto soon = ringo::after_func(1ms, [&fired]() -> ringo::task<> {
        ++fired;
        co_return;
    });
    co_await ringo::sleep_for(5ms);
    expect(fired == 1);
    ringo::timer tm(1h);
    expect(tm.stop());

    // Context.
    auto [ctx, cancel] = ringo::with_cancel(ringo::background());
    auto [tctx, tcancel] = ringo::with_timeout(ctx, 1h);
    auto on_cancel = ringo::after_func(ctx, [&fired] { ++fired; });
    static const ringo::context_key<std::string> name;
    auto named = ringo::with_value(tctx, name, "ringo");
    expect(named.value(name) != nullptr && *named.value(name) == "ringo");
    cancel();
    auto [got, err] = co_await ringo::recv(tctx, other);
    expect(!got && err == ringo::errc::canceled);
    std::error_code serr = co_await ringo::send(tctx, other, 3);
    expect(serr == ringo::errc::canceled);
    co_await ringo::sleep_for(1ms);
    expect(fired == 2);
    tcancel();

    // errgroup and sync.
    ringo::errgroup g(ringo::background());
    g.set_limit(2);
    for (int i = 0; i < 4; ++i)
        g.go([total]() -> ringo::task<> { co_await add(total, 1); });
    std::error_code gerr = co_await g.wait();
    expect(!gerr && *total == 11115);
    ringo::mutex mu;
    {
        auto guard = co_await mu.lock();
    }
    expect(mu.try_lock());
    mu.unlock();
    (void)soon;
    co_return 0;
}

}  // namespace

int forms_failures() {
    int status = ringo::run_main(forms());
    return failures + (status == 0 ? 0 : 1);
}
