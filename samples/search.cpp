// search: Rob Pike's "Google Search" from "Go Concurrency Patterns". Each
// query fans out to web, image and video backends; each backend has
// --replicas replicas and the first reply wins; whatever has not answered
// within --timeout is reported as timed out.
//
//   ./dev sample search [--queries 5] [--replicas 2] [--timeout 80ms] [--slowest 100ms]
#include <ringo/ringo.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "flags.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct reply {
    std::string text;
};

// A fake backend: answers after a random delay in [0, slowest).
ringo::task<void> backend(std::string kind, int replica, std::string query, nanoseconds delay,
                          ringo::send_chan<reply> out) {
    co_await ringo::sleep_for(delay);
    // Buffered for every replica: the losers' replies are dropped, nobody blocks.
    (void)out.try_send(reply{kind + " result for \"" + query + "\" (replica " + std::to_string(replica) + ", " +
                             std::to_string(delay / 1ms) + " ms)"});
}

ringo::task<int> search_main(long queries, long replicas, nanoseconds timeout, nanoseconds slowest) {
    std::mt19937 rng(42);
    std::uniform_int_distribution<long> delay_ms(0, std::max<long>(0, slowest / 1ms - 1));
    const char* kinds[] = {"web", "image", "video"};
    long answered = 0, timed_out = 0;
    for (long q = 0; q < queries; ++q) {
        std::string query = "golang " + std::to_string(q);
        auto start = ringo::clock::now();
        // One channel per kind; every replica of that kind writes into it.
        std::vector<ringo::chan<reply>> first;
        for (const char* kind : kinds) {
            first.emplace_back(static_cast<std::size_t>(replicas));
            for (long r = 0; r < replicas; ++r)
                ringo::go(backend, std::string(kind), static_cast<int>(r), query,
                          nanoseconds(delay_ms(rng) * 1'000'000), ringo::send_chan<reply>(first.back()));
        }
        // Collect the first reply of each kind until the deadline.
        auto deadline = ringo::after(timeout);
        std::vector<std::string> results(3);
        int pending = 3;
        while (pending > 0) {
            auto r = co_await ringo::select(ringo::recv(first[0]), ringo::recv(first[1]), ringo::recv(first[2]),
                                            ringo::recv(deadline));
            std::size_t i = r.index();
            if (i == 3)
                break;
            results[i] = std::move(i == 0 ? *r.get<0>() : i == 1 ? *r.get<1>() : *r.get<2>()).text;
            first[i] = {};  // got this kind: disable its case (a nil channel)
            --pending;
        }
        auto took = ringo::clock::now() - start;
        std::printf("search \"%s\" (%.1f ms):\n", query.c_str(), flags::ms(took));
        for (int k = 0; k < 3; ++k) {
            if (results[k].empty()) {
                std::printf("  %-5s timed out after %.0f ms\n", kinds[k], flags::ms(timeout));
                ++timed_out;
            } else {
                std::printf("  %s\n", results[k].c_str());
                ++answered;
            }
        }
    }
    std::printf("%ld answered, %ld timed out, %ld replicas per backend\n", answered, timed_out, replicas);
    co_await ringo::sleep_for(slowest);  // let the slow replicas finish (their replies are dropped)
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    long queries = 5, replicas = 2;
    nanoseconds timeout = 80ms, slowest = 100ms;
    flags::set fs("search: fan-out to replicated backends with a time.After deadline");
    fs.int_var("queries", queries, "queries to run");
    fs.int_var("replicas", replicas, "replicas per backend; the first reply wins");
    fs.duration_var("timeout", timeout, "deadline per query", flags::range::non_negative);
    fs.duration_var("slowest", slowest, "backends answer within [0, slowest)", flags::range::positive);
    fs.parse_or_exit(argc, argv);
    if (queries < 1 || replicas < 1) {
        std::fprintf(stderr, "search: -queries and -replicas must be positive\n");
        return 2;
    }
    return ringo::run_main(search_main(queries, replicas, timeout, slowest));
}
