// server: an app HTTP server and a debug HTTP server run under one errgroup,
// with a context that SIGINT/SIGTERM cancels. When either server fails or a
// signal arrives, both shut down gracefully: they stop accepting, let the
// requests in flight finish within --grace, and the program exits 0 (1 if a
// server failed).
//
//   ./dev sample server [--app 127.0.0.1:8080] [--debug 127.0.0.1:8081] [--grace 5s]
//   curl localhost:8080/            curl localhost:8080/work?ms=500
//   curl localhost:8081/debug/tasks (the task dump)   curl localhost:8081/debug/fail
#include <ringo/ringo.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "flags.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct request {
    std::string method, path;
    bool keep_alive = true;
};

struct response {
    int status = 200;
    std::string body;
};

// Reads one request (headers, and a Content-Length body, discarded) from c.
// `pending` keeps bytes read past the request, for keep-alive.
ringo::task<std::pair<request, std::error_code>> read_request(ringo::context ctx, ringo::net::conn& c,
                                                              std::string& pending) {
    request req;
    std::size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
        if (pending.size() > 64 * 1024)
            co_return std::pair{req, std::make_error_code(std::errc::message_size)};
        char buf[4096];
        auto [n, err] = co_await c.read(ctx, std::as_writable_bytes(std::span(buf)));
        if (err)
            co_return std::pair{req, err};
        pending.append(buf, n);
    }
    std::string_view head(pending.data(), end);
    std::size_t line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1)
        co_return std::pair{req, std::make_error_code(std::errc::bad_message)};
    req.method = line.substr(0, sp1);
    req.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.keep_alive = line.substr(sp2 + 1) == "HTTP/1.1";
    std::size_t body = 0;
    for (std::size_t pos = line_end; pos < head.size();) {
        std::size_t next = head.find("\r\n", pos + 2);
        std::string_view h = head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
        std::string lower(h);
        for (char& ch : lower)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (lower.starts_with("content-length:"))
            body = std::strtoul(lower.c_str() + 15, nullptr, 10);
        else if (lower.starts_with("connection:"))
            req.keep_alive = lower.find("close") == std::string::npos;
        pos = next == std::string_view::npos ? head.size() : next;
    }
    pending.erase(0, end + 4);
    while (pending.size() < body) {  // the body, which these handlers ignore
        char buf[4096];
        auto [n, err] = co_await c.read(ctx, std::as_writable_bytes(std::span(buf)));
        if (err)
            co_return std::pair{req, err};
        pending.append(buf, n);
    }
    pending.erase(0, body);
    co_return std::pair{req, std::error_code()};
}

using handler = ringo::task<response> (*)(ringo::context, request, ringo::cancel_func);

// Serves one connection: requests are read with `idle` (cancelled when the
// shutdown starts) and handled with `hard` (cancelled only when the grace
// period is over), so a request in flight finishes.
ringo::task<void> serve_conn(ringo::context idle, ringo::context hard, ringo::net::conn c, handler h,
                             ringo::cancel_func fail) {
    std::string pending;
    for (;;) {
        auto [req, err] = co_await read_request(idle, c, pending);
        if (err)
            break;
        response resp = co_await h(hard, req, fail);
        bool keep = req.keep_alive && !idle.err();
        const char* reason = resp.status == 200 ? "OK" : resp.status == 404 ? "Not Found" : "Method Not Allowed";
        std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason +
                          "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(resp.body.size()) +
                          (keep ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + resp.body;
        auto [n, werr] = co_await c.write_all(hard, out);
        if (werr || !keep)
            break;
    }
}

// Accepts until ctx is done, then drains the connections within `grace`.
ringo::task<std::error_code> serve(ringo::context ctx, std::string name, ringo::net::listener ln, handler h,
                                   nanoseconds grace, ringo::cancel_func fail) {
    std::printf("%s listening on %s\n", name.c_str(), ln.addr().c_str());
    std::fflush(stdout);
    auto [hard, hard_cancel] = ringo::with_cancel(ringo::without_cancel(ctx));
    ringo::wait_group conns;
    std::error_code result;
    for (;;) {
        auto [c, err] = co_await ln.accept(ctx);
        if (err) {
            if (!ctx.err())
                result = err;  // a real failure, not the shutdown
            break;
        }
        conns.go([idle = ctx, hard = hard, c = std::move(c), h, fail]() mutable -> ringo::task<void> {
            co_await serve_conn(idle, hard, std::move(c), h, fail);
        });
    }
    ln.close();  // stop accepting
    auto drained = ringo::signal_chan(0);
    ringo::go([&conns, drained]() -> ringo::task<void> {
        co_await conns.wait();
        drained.close();
    });
    auto r = co_await ringo::select(ringo::recv(drained), ringo::recv(ringo::after(grace)));
    if (r.index() == 1) {
        std::printf("%s: grace period over, cancelling the requests still in flight\n", name.c_str());
        hard_cancel();
        co_await drained.recv();
    }
    std::printf("%s stopped\n", name.c_str());
    std::fflush(stdout);
    co_return result;
}

ringo::task<response> app(ringo::context ctx, request req, ringo::cancel_func) {
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

ringo::task<response> debug(ringo::context, request req, ringo::cancel_func fail) {
    if (req.path == "/debug/tasks")
        co_return response{200, ringo::dump_tasks()};
    if (req.path == "/debug/fail") {
        fail();  // makes the debug server return an error: the group shuts down
        co_return response{200, "failing the debug server\n"};
    }
    co_return response{404, "not found\n"};
}

ringo::task<int> server_main(std::string app_addr, std::string debug_addr, nanoseconds grace) {
    auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGINT, SIGTERM});
    auto [app_ln, err1] = co_await ringo::net::listen(app_addr);
    auto [debug_ln, err2] = co_await ringo::net::listen(debug_addr);
    if (err1 || err2) {
        std::fprintf(stderr, "server: listen: %s\n", (err1 ? err1 : err2).message().c_str());
        co_return 1;
    }
    ringo::errgroup g(ctx);
    ringo::context gctx = g.get_context();
    auto [debug_ctx, fail_debug] = ringo::with_cancel(gctx);
    g.go([gctx, ln = std::move(app_ln), grace]() mutable -> ringo::task<std::error_code> {
        co_return co_await serve(gctx, "app", std::move(ln), app, grace, {});
    });
    g.go([gctx, debug_ctx = debug_ctx, fail_debug = fail_debug, ln = std::move(debug_ln), grace]() mutable
             -> ringo::task<std::error_code> {
        std::error_code e = co_await serve(debug_ctx, "debug", std::move(ln), debug, grace, fail_debug);
        if (!e && !gctx.err())  // stopped, but not by the group: /debug/fail
            e = std::make_error_code(std::errc::operation_canceled);
        co_return e;
    });
    std::error_code err = co_await g.wait();
    if (err) {
        std::printf("server: shut down after a failure: %s\n", err.message().c_str());
        co_return 1;
    }
    std::printf("server: shut down cleanly (%s)\n", ctx.err() ? "signal" : "done");
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string app_addr = "127.0.0.1:8080", debug_addr = "127.0.0.1:8081";
    nanoseconds grace = 5s;
    // flags.hpp handles numbers and durations; the two addresses are parsed here.
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if ((a == "--app" || a == "--debug") && i + 1 < argc)
            (a == "--app" ? app_addr : debug_addr) = argv[++i];
        else
            rest.push_back(argv[i]);
    }
    flags::parse(static_cast<int>(rest.size()), rest.data(),
                 "server: app + debug HTTP servers under one errgroup, graceful shutdown on SIGINT/SIGTERM\n"
                 "  --app ADDR       app server address (default 127.0.0.1:8080)\n"
                 "  --debug ADDR     debug server address: /debug/tasks, /debug/fail (default 127.0.0.1:8081)",
                 {{"grace", "how long requests in flight may take to finish (default 5s)", nullptr, &grace}});
    return ringo::run_main(server_main(app_addr, debug_addr, grace));
}
