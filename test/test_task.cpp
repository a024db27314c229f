// task<T>: laziness, values, exceptions, lifetimes, constant stack depth.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <ringo/ringo.hpp>

#include "lifetime.hpp"

using ringo::task;
using test::lifetime;
using test::lifetime_counts;

#ifdef RINGO_TEST_FULL_DEPTH
constexpr int depth = 1'000'000;
#else
constexpr int depth = 1000;  // sanitizers keep a stack frame per symmetric transfer
#endif

namespace {

task<int> answer() { co_return 42; }
task<void> nothing() { co_return; }
task<int> fail() {
    throw std::runtime_error("boom");
    co_return 0;
}
task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

task<lifetime> make_lifetime(int v) { co_return lifetime{v}; }
task<lifetime> pass_through(int v) {
    lifetime l = co_await make_lifetime(v);
    co_return l;
}

task<std::pair<int, std::string>> pair_of(int n) { co_return std::pair{n, std::to_string(n)}; }

task<int> count_down(int n) {
    if (n == 0)
        co_return 0;
    co_return 1 + co_await count_down(n - 1);
}

task<int> sync_step(int x) { co_return x + 1; }

}  // namespace

TEST_SUITE("task") {

TEST_CASE("a task is lazy and yields its value") {
    bool started = false;
    auto body = [&]() -> task<int> {
        started = true;
        co_return 7;
    };
    int got = ringo::run([&]() -> task<int> {
        task<int> t = body();
        CHECK_FALSE(started);
        int v = co_await std::move(t);
        CHECK(started);
        co_return v;
    }());
    CHECK(got == 7);
}

TEST_CASE("values, void and move-only results flow through co_await") {
    auto r = ringo::run([]() -> task<int> {
        int a = co_await answer();
        co_await nothing();
        std::unique_ptr<int> p = co_await boxed(5);
        co_return a + *p;
    }());
    CHECK(r == 47);
}

TEST_CASE("an exception propagates to the awaiter and out of run") {
    int caught = ringo::run([]() -> task<int> {
        try {
            co_await fail();
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()) == "boom");
            co_return 1;
        }
        co_return 0;
    }());
    CHECK(caught == 1);
    CHECK_THROWS_WITH_AS(ringo::run(fail()), "boom", std::runtime_error);
}

TEST_CASE("a value returned through nested tasks is moved, never copied or leaked") {
    lifetime_counts.reset();
    int v = ringo::run([]() -> task<int> {
        lifetime l = co_await pass_through(9);
        CHECK(l.valid);
        co_return l.value;
    }());
    CHECK(v == 9);
    CHECK(lifetime_counts.copied == 0);
    CHECK(lifetime_counts.alive() == 0);
}

TEST_CASE("structured bindings from co_await") {
    auto s = ringo::run([]() -> task<std::string> {
        auto [n, text] = co_await pair_of(12);
        CHECK(n == 12);
        co_return text;
    }());
    CHECK(s == "12");
}

TEST_CASE("a task destroyed without being awaited frees its frame and arguments") {
    lifetime_counts.reset();
    {
        auto t = [](lifetime l) -> task<int> { co_return l.value; }(lifetime{3});
        CHECK(lifetime_counts.alive() >= 1);
    }
    CHECK(lifetime_counts.alive() == 0);
}

TEST_CASE("a deep chain of synchronously completing awaits runs in constant stack") {
    int n = ringo::run(count_down(depth));
    CHECK(n == depth);
    int sum = ringo::run([]() -> task<int> {
        int x = 0;
        for (int i = 0; i < depth; ++i)
            x = co_await sync_step(x);
        co_return x;
    }());
    CHECK(sum == depth);
}

TEST_CASE("a task can be moved and reassigned") {
    int r = ringo::run([]() -> task<int> {
        task<int> a = answer();
        task<int> b;
        CHECK_FALSE(b);
        b = std::move(a);
        CHECK_FALSE(a);
        CHECK(b);
        co_return co_await std::move(b);
    }());
    CHECK(r == 42);
}

}  // TEST_SUITE
