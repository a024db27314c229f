// The Go -> ringo cheat sheet's forms, written as a user would (lambdas,
// captures, temporaries bound to named locals), compiled with -Werror and
// run. Each form that does not do what the cheat sheet says adds a failure.
#include <ringo/ringo.hpp>

#include <csignal>
#include <memory>
#include <span>
#include <string>
#include <vector>

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

    // The rest of the sync column.
    ringo::rw_mutex rw;
    {
        auto shared = co_await rw.lock_shared();
    }
    {
        auto exclusive = co_await rw.lock();
    }
    ringo::cond cv(mu);
    bool ready = false;
    ringo::go([&]() -> ringo::task<> {
        auto guard = co_await mu.lock();
        ready = true;
        cv.signal();
    });
    {
        auto guard = co_await mu.lock();
        while (!ready)
            co_await cv.wait();
    }
    ringo::once once;
    int inits = 0;
    auto init = [&inits] { ++inits; };
    co_await once.call(init);
    co_await once.call(init);
    expect(inits == 1);
    ringo::semaphore sem(2);
    std::error_code aerr = co_await sem.acquire(ringo::background(), 2);
    expect(!aerr && !sem.try_acquire(1));
    sem.release(2);
    ringo::singleflight<int> sf;
    auto compute = []() -> ringo::task<int> { co_return 42; };
    int once_v = co_await sf.run("k", compute);
    auto [shared_v, shared] = co_await sf.run_shared("k2", compute);
    expect(once_v == 42 && shared_v == 42 && !shared);
    ringo::errgroup limited;
    limited.set_limit(1);
    auto job = [total]() -> ringo::task<> { co_await add(total, 1); };
    co_await limited.go_wait(job);
    std::error_code lerr = co_await limited.wait();
    expect(!lerr);

    // Non-blocking channel operations and the dynamic select.
    ringo::chan<int> nb(1);
    int three = 3;
    expect(nb.try_send(three) && !nb.try_send(4));
    auto tr = nb.try_recv();
    expect(tr.state == ringo::recv_state::ok && tr.value == 3);
    std::vector<ringo::select_case<int>> cases;
    cases.push_back(ringo::select_case<int>::send(nb, 5));
    cases.push_back(ringo::select_case<int>::recv(other));
    std::size_t won = co_await ringo::select(cases);
    expect(won == 0);

    // A ticker, a blocking call, sleep with a context.
    ringo::ticker tk(1ms);
    auto tick = co_await tk.c().recv();
    expect(tick.has_value());
    tk.stop();
    auto slow = [] { return 7; };
    expect(co_await ringo::blocking(slow) == 7);
    std::error_code slept = co_await ringo::sleep_for(ringo::background(), 1ms);
    expect(!slept);

    // TCP and signals.
    auto [ln, lerr2] = co_await ringo::net::listen("127.0.0.1:0");
    expect(!lerr2);
    std::string addr = ln.addr();
    ringo::go([ln = std::move(ln)]() mutable -> ringo::task<> {
        auto [conn, aerr2] = co_await ln.accept(ringo::background());
        if (aerr2)
            co_return;
        char buf[16];
        auto [n, rerr] = co_await conn.read(ringo::background(), std::as_writable_bytes(std::span(buf)));
        if (!rerr)
            (void)co_await conn.write_all(ringo::background(), std::as_bytes(std::span(buf, n)));
        conn.close();
    });
    auto [conn, derr] = co_await ringo::net::dial(ringo::background(), addr);
    expect(!derr);
    std::string hello = "hello";
    auto [wn, werr] = co_await conn.write_all(ringo::background(), hello);
    conn.shutdown_write();
    char back[16];
    auto [rn, rerr2] = co_await conn.read(ringo::background(), std::as_writable_bytes(std::span(back)));
    expect(!werr && wn == 5 && !rerr2 && std::string(back, rn) == "hello");
    auto sigs = ringo::signals::notify({SIGUSR1});
    ringo::signals::stop(sigs);
    auto [sctx, sstop] = ringo::signals::notify_context(ringo::background(), {SIGUSR2});
    sstop();
    expect(sctx.err() == ringo::errc::canceled);
    co_return 0;
}

}  // namespace

int forms_failures() {
    int status = ringo::run_main(forms());
    return failures + (status == 0 ? 0 : 1);
}
