// server: an app HTTP server and a debug HTTP server run under one errgroup,
// shut down like Go's http.Server.Shutdown when SIGINT/SIGTERM arrives or a
// server fails, and hardened against hostile clients as net/http is.
//
//   ./dev sample server [--app 127.0.0.1:8080] [--debug 127.0.0.1:8081] [--grace 5s]
//       [--read-header-timeout 10s] [--idle-timeout 2m] [--write-timeout 30s] [--max-header-bytes 1048576]
//   curl localhost:8080/            curl localhost:8080/work?ms=500
//   curl localhost:8081/debug/tasks (the task dump)   curl localhost:8081/debug/fail
//
// Hostile clients (samples/http.hpp reads the requests):
// - accept errors that are temporary (EMFILE, ENFILE, ENOBUFS, ENOMEM,
//   ECONNABORTED: out of descriptors, say) back off 5 ms, doubling to 1 s,
//   and retry, logged once per burst; the connections already open are
//   served meanwhile, as Go's http.Server does;
// - a request head must arrive within --read-header-timeout of its first
//   byte (slowloris) and fit --max-header-bytes (431 otherwise); a
//   keep-alive connection waits --idle-timeout for its next request;
//   writing a response may take --write-timeout (measured here from the
//   handler's return: Go's WriteTimeout also counts the handler);
// - a bad request line or Content-Length (negative, overflowing, twice)
//   gets 400 and a close, a Transfer-Encoding other than identity 501 and a
//   close; bodies are discarded in 16 KiB reads, never buffered.
//
// Shutdown (the first SIGINT/SIGTERM, a listener failing, /debug/fail):
// prints `signal terminated: shutting down (grace 5s, N requests in flight)`,
// closes the listeners and the idle connections at once, lets the requests
// in flight finish until --grace is over, then cancels them: their handlers
// see a cancelled context, and the response they build (`work cancelled`)
// still goes out with its own short write deadline. It ends with
// `done: N finished, M cut`. Further signals are reported, not fatal. Exit
// status 0, or 1 if a server failed.
#include <ringo/ringo.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "flags.hpp"
#include "http.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct config {
    nanoseconds grace = 5s;
    nanoseconds read_header_timeout = 10s;
    nanoseconds idle_timeout = 120s;
    nanoseconds write_timeout = 30s;
    long max_header_bytes = 1 << 20;  // Go's DefaultMaxHeaderBytes
};

// The response to a request cut at the grace deadline gets this long to go out.
constexpr nanoseconds cut_write_timeout = 500ms;

// Counts both servers share (any thread; relaxed: they are only reported).
std::atomic<int> in_flight{0};       // requests read and not yet answered
std::atomic<int> finished{0};        // answered after the shutdown began
std::atomic<int> cut{0};             // cancelled or cut by the grace deadline
std::atomic<bool> debug_failed{false};  // /debug/fail was called

struct response {
    int status = 200;
    std::string body;
};

using handler = ringo::task<response> (*)(ringo::context, http::request, ringo::cancel_func);

// One server's connections share these. `idle` is cancelled when the
// shutdown begins, `hard` when the grace period is over; `shutdown` begins
// the shutdown of both servers.
struct conn_env {
    ringo::context idle, hard;
    handler h;
    ringo::cancel_func shutdown;
    const config* cfg;
};

// Writes a response within the write timeout; once the grace period is
// over (`hard` cancelled: the handler's "cancelled" response), within a
// short deadline of its own instead of the cancelled context.
ringo::task<std::error_code> write_response(ringo::context hard, ringo::net::conn& c, const std::string& out,
                                            nanoseconds write_timeout) {
    bool late = static_cast<bool>(hard.err());
    ringo::context base = late ? ringo::without_cancel(hard) : hard;
    auto [wctx, cancel] = ringo::with_timeout(base, late ? cut_write_timeout : write_timeout);
    auto [n, err] = co_await c.write_all(wctx, out);
    cancel();
    co_return err;
}

// Closes after a refusal as Go's closeWriteAndWait does: half close, then
// read (and drop) what the client still sends, up to 256 KiB within 500 ms,
// so that closing with unread bytes does not reset the connection before
// the client has read the refusal.
ringo::task<void> linger_close(ringo::net::conn& c) {
    c.shutdown_write();
    auto [ctx, cancel] = ringo::with_timeout(ringo::background(), 500ms);
    for (std::size_t total = 0; total < 256 * 1024;) {
        char buf[16 * 1024];
        auto [n, err] = co_await c.read(ctx, std::as_writable_bytes(std::span(buf)));
        if (err)
            break;
        total += n;
    }
    cancel();
}

// Serves one connection: keep-alive requests (pipelined ones included),
// until the client leaves, a timeout passes, a request is refused, or the
// shutdown closes it (at once while it is idle, else after its response).
ringo::task<void> serve_conn(conn_env env, ringo::net::conn c) {
    std::string pending;
    const config& cfg = *env.cfg;
    http::limits lim{cfg.read_header_timeout, cfg.idle_timeout, static_cast<std::size_t>(cfg.max_header_bytes)};
    for (bool between = false;; between = true) {
        http::read_result r = co_await http::read_request(env.idle, env.hard, c, pending, lim, between);
        if (r.err)
            break;
        if (r.status != 0) {  // refused: answer and close
            std::string out = http::format_response(r.status, std::string(http::reason(r.status)) + "\n", false);
            if (!co_await write_response(env.hard, c, out, cfg.write_timeout))
                co_await linger_close(c);
            break;
        }
        in_flight.fetch_add(1, std::memory_order_relaxed);
        response resp = co_await env.h(env.hard, r.req, env.shutdown);
        bool keep = r.req.keep_alive && !env.idle.err();
        bool late = static_cast<bool>(env.hard.err());
        std::string out = http::format_response(resp.status, resp.body, keep);
        std::error_code werr = co_await write_response(env.hard, c, out, cfg.write_timeout);
        in_flight.fetch_sub(1, std::memory_order_relaxed);
        if (env.idle.err())
            (late || (werr && env.hard.err()) ? cut : finished).fetch_add(1, std::memory_order_relaxed);
        if (werr || !keep)
            break;
    }
}

// Accept errors that say "not now" rather than "never": Go's temporary ones.
bool temporary(std::error_code e) {
    if (e.category() != std::system_category())
        return false;
    int v = e.value();
    return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM || v == ECONNABORTED;
}

// Accepts until the shutdown, backing off on temporary errors; then drains
// the connections within the grace period and cuts the rest. Returns a
// listener failure (after beginning the shutdown of both servers).
ringo::task<std::error_code> serve(ringo::context ctx, std::string name, ringo::net::listener ln, handler h,
                                   ringo::cancel_func shutdown, const config& cfg) {
    std::printf("%s listening on %s\n", name.c_str(), ln.addr().c_str());
    std::fflush(stdout);
    auto [hard, hard_cancel] = ringo::with_cancel(ringo::without_cancel(ctx));
    conn_env env{ctx, hard, h, shutdown, &cfg};
    ringo::wait_group conns;
    std::error_code result;
    nanoseconds backoff{0};
    int failures = 0;  // in this burst of temporary errors
    for (;;) {
        auto [c, err] = co_await ln.accept(ctx);
        if (err && ctx.err())
            break;  // the shutdown
        if (err && temporary(err)) {
            backoff = std::min<nanoseconds>(backoff == nanoseconds(0) ? 5ms : 2 * backoff, 1s);
            if (failures++ == 0) {
                std::printf("%s: accept: %s; retrying (backing off from 5ms to 1s)\n", name.c_str(),
                            err.message().c_str());
                std::fflush(stdout);
            }
            if (co_await ringo::sleep_for(ctx, backoff))
                break;
            continue;
        }
        if (err) {
            std::printf("%s: accept: %s\n", name.c_str(), err.message().c_str());
            result = err;
            shutdown();  // both servers drain within the same grace period
            break;
        }
        if (failures != 0) {
            std::printf("%s: accepting again after %d failed accepts\n", name.c_str(), failures);
            std::fflush(stdout);
            failures = 0;
            backoff = nanoseconds(0);
        }
        conns.go([env, c = std::move(c)]() mutable -> ringo::task<void> { co_await serve_conn(env, std::move(c)); });
    }
    ln.close();  // stop accepting; the idle connections see ctx cancelled
    auto drained = ringo::signal_chan(0);
    ringo::go([&conns, drained]() -> ringo::task<void> {
        co_await conns.wait();
        drained.close();
    });
    auto r = co_await ringo::select(ringo::recv(drained), ringo::recv(ringo::after(cfg.grace)));
    if (r.index() == 1) {
        std::printf("%s: grace period over, cancelling the requests still in flight\n", name.c_str());
        std::fflush(stdout);
        hard_cancel();
        co_await drained.recv();
    }
    std::printf("%s stopped\n", name.c_str());
    std::fflush(stdout);
    co_return result;
}

ringo::task<response> app(ringo::context ctx, http::request req, ringo::cancel_func) {
    if (req.method != "GET")
        co_return response{405, "GET only\n"};
    if (req.path == "/")
        co_return response{200, "hello from ringo\n"};
    if (req.path.starts_with("/work?ms=")) {
        auto ms = std::chrono::milliseconds(std::strtol(req.path.c_str() + 9, nullptr, 10));
        if (std::error_code e = co_await ringo::sleep_for(ctx, ms))
            co_return response{200, "work cancelled: " + e.message() + "\n"};
        co_return response{200, "worked " + std::to_string(ms.count()) + " ms\n"};
    }
    co_return response{404, "not found\n"};
}

ringo::task<response> debug(ringo::context, http::request req, ringo::cancel_func shutdown) {
    if (req.path == "/debug/tasks")
        co_return response{200, ringo::dump_tasks()};
    if (req.path == "/debug/fail") {
        debug_failed = true;  // the exit status will say so
        shutdown();
        co_return response{200, "failing the debug server\n"};
    }
    co_return response{404, "not found\n"};
}

// "terminated", "interrupt": the signal's name as Go prints it.
std::string signal_name(int sig) {
    if (sig == SIGINT)
        return "interrupt";
    std::string s = ::strsignal(sig);
    if (!s.empty())
        s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

// Begins the shutdown at the first signal; reports the later ones (which
// neither kill the process nor shorten the grace period) until `end`.
ringo::task<void> watch_signals(ringo::recv_chan<int> sigs, ringo::recv_chan<std::monostate> end,
                                ringo::cancel_func shutdown, nanoseconds grace) {
    for (bool first = true;; first = false) {
        auto r = co_await ringo::select(ringo::recv(sigs), ringo::recv(end));
        if (r.index() == 1)
            break;
        std::optional<int> sig = r.get<0>();
        if (!sig)
            break;
        if (first)
            std::printf("signal %s: shutting down (grace %s, %d requests in flight)\n", signal_name(*sig).c_str(),
                        ringo::format_duration(grace).c_str(), in_flight.load(std::memory_order_relaxed));
        else
            std::printf("signal %s: already shutting down (%d requests in flight)\n", signal_name(*sig).c_str(),
                        in_flight.load(std::memory_order_relaxed));
        std::fflush(stdout);
        shutdown();
    }
    ringo::signals::stop(sigs);
}

ringo::task<int> server_main(std::string app_addr, std::string debug_addr, config cfg) {
    auto [app_ln, err1] = co_await ringo::net::listen(app_addr);
    if (err1) {
        std::fprintf(stderr, "server: listen %s: %s\n", app_addr.c_str(), err1.message().c_str());
        co_return 1;
    }
    auto [debug_ln, err2] = co_await ringo::net::listen(debug_addr);
    if (err2) {
        std::fprintf(stderr, "server: listen %s: %s\n", debug_addr.c_str(), err2.message().c_str());
        co_return 1;
    }
    auto [root, shutdown] = ringo::with_cancel(ringo::background());
    auto end = ringo::signal_chan(0);
    ringo::wait_group watcher;
    auto sigs = ringo::signals::notify({SIGINT, SIGTERM});
    watcher.go([sigs, end, shutdown = shutdown, grace = cfg.grace]() -> ringo::task<void> {
        co_await watch_signals(sigs, end, shutdown, grace);
    });
    ringo::errgroup g(root);
    ringo::context gctx = g.get_context();  // also cancelled when a server fails
    const config* c = &cfg;
    g.go([gctx, ln = std::move(app_ln), shutdown = shutdown, c]() mutable -> ringo::task<std::error_code> {
        co_return co_await serve(gctx, "app", std::move(ln), app, shutdown, *c);
    });
    g.go([gctx, ln = std::move(debug_ln), shutdown = shutdown, c]() mutable -> ringo::task<std::error_code> {
        co_return co_await serve(gctx, "debug", std::move(ln), debug, shutdown, *c);
    });
    std::error_code err = co_await g.wait();
    end.close();
    co_await watcher.wait();
    std::printf("done: %d finished, %d cut\n", finished.load(), cut.load());
    if (err || debug_failed) {
        std::printf("server: shut down after a failure: %s\n",
                    err ? err.message().c_str() : "/debug/fail");
        co_return 1;
    }
    std::printf("server: shut down cleanly\n");
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string app_addr = "127.0.0.1:8080", debug_addr = "127.0.0.1:8081";
    config cfg;
    flags::set fs("server: app + debug HTTP servers under one errgroup, graceful shutdown on SIGINT/SIGTERM");
    fs.string_var("app", app_addr, "app server `address`");
    fs.string_var("debug", debug_addr, "debug server `address`: /debug/tasks, /debug/fail");
    fs.duration_var("grace", cfg.grace, "how long requests in flight may take to finish", flags::range::non_negative);
    fs.duration_var("read-header-timeout", cfg.read_header_timeout, "a request head must arrive within",
                    flags::range::positive);
    fs.duration_var("idle-timeout", cfg.idle_timeout, "a keep-alive connection waits for its next request",
                    flags::range::positive);
    fs.duration_var("write-timeout", cfg.write_timeout, "writing a response may take", flags::range::positive);
    fs.int_var("max-header-bytes", cfg.max_header_bytes, "the largest request head");
    fs.parse_or_exit(argc, argv);
    if (cfg.max_header_bytes <= 0) {
        std::fprintf(stderr, "server: -max-header-bytes must be positive\n");
        return 2;
    }
    return ringo::run_main(server_main(app_addr, debug_addr, cfg));
}
