// samples/http.hpp - the server sample's HTTP/1.x, as small as it can be
// while hostile clients cannot hold it: reading one request head within a
// byte limit and a deadline, validating it, discarding its body in bounded
// chunks, and formatting a response. Not an HTTP library: no chunked
// bodies (501), no header values kept but the few the server uses.
#pragma once

#include <ringo/ringo.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace http {

struct request {
    std::string method, path;
    bool keep_alive = true;
    std::uint64_t content_length = 0;  // the body's size, discarded by read_request
};

struct limits {
    std::chrono::nanoseconds read_header_timeout;  // from the request's first byte to its blank line
    std::chrono::nanoseconds idle_timeout;         // keep-alive: wait for the next request's first byte
    std::size_t max_header_bytes;                  // request line and headers
};

// What read_request found: a request (status 0), a request to refuse with
// `status` and close (400, 431, 501), or the connection ended (err: EOF,
// reset, a timeout, the context cancelled) with nothing to answer.
struct read_result {
    request req;
    int status = 0;
    std::error_code err;
};

inline const char* reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

inline std::string format_response(int status, std::string_view body, bool keep_alive) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                      (keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
    out.append(body);
    return out;
}

namespace detail {

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& ch : out)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// "GET /path HTTP/1.1": a token method, a path without spaces, a 1.x version.
inline bool parse_request_line(std::string_view line, request& req) {
    std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == 0 || sp2 == sp1 || sp2 == sp1 + 1)
        return false;
    std::string_view method = line.substr(0, sp1), path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    auto token = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; };
    auto visible = [](char c) { return c > ' ' && c < 0x7f; };
    if (!std::all_of(method.begin(), method.end(), token) || !std::all_of(path.begin(), path.end(), visible) ||
        (version != "HTTP/1.1" && version != "HTTP/1.0"))
        return false;
    req.method = method;
    req.path = path;
    req.keep_alive = version == "HTTP/1.1";
    return true;
}

// A decimal Content-Length that fits 63 bits: no sign, no spaces inside.
inline bool parse_length(std::string_view v, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return !v.empty() && ec == std::errc() && end == v.data() + v.size() && out <= INT64_MAX;
}

}  // namespace detail

// Parses a request head (without its blank line): 0 and req, or the status
// to refuse it with: 400 for a malformed line or Content-Length, 501 for a
// Transfer-Encoding other than identity (a chunked body would otherwise be
// read as the next request: the request smuggling shape).
inline int parse_head(std::string_view head, request& req) {
    std::size_t eol = head.find("\r\n");
    if (!detail::parse_request_line(head.substr(0, eol), req))
        return 400;
    bool have_length = false;
    while (eol != std::string_view::npos) {
        std::size_t start = eol + 2;
        eol = head.find("\r\n", start);
        std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' || line.front() == '\t')
            return 400;  // not "Name: value" (obsolete line folding included)
        std::string name = detail::lower(line.substr(0, colon));
        std::string_view value = detail::trim(line.substr(colon + 1));
        if (name == "content-length") {
            std::uint64_t n = 0;
            if (have_length || !detail::parse_length(value, n))
                return 400;  // -1, 1e9, 99999999999999999999, or two of them
            have_length = true;
            req.content_length = n;
        } else if (name == "transfer-encoding") {
            if (detail::lower(value) != "identity")
                return 501;
        } else if (name == "connection") {
            std::string v = detail::lower(value);
            if (v.find("close") != std::string::npos)
                req.keep_alive = false;
            else if (v.find("keep-alive") != std::string::npos)
                req.keep_alive = true;
        }
    }
    return 0;
}

// Discards n body bytes: first from `pending`, then read in 16 KiB chunks
// into a buffer on the frame, so a huge body costs no memory. Each read has
// its own `quiet` deadline: a body that stops arriving ends the connection.
inline ringo::task<std::error_code> discard_body(ringo::context ctx, ringo::net::conn& c, std::string& pending,
                                                 std::uint64_t n, std::chrono::nanoseconds quiet) {
    std::uint64_t from_pending = std::min<std::uint64_t>(n, pending.size());
    pending.erase(0, from_pending);
    n -= from_pending;
    while (n > 0) {
        char buf[16 * 1024];
        std::size_t want = std::min<std::uint64_t>(n, sizeof buf);
        auto [rctx, cancel] = ringo::with_timeout(ctx, quiet);
        auto [got, err] = co_await c.read(rctx, std::as_writable_bytes(std::span(buf, want)));
        cancel();
        if (err)
            co_return err;
        n -= got;
    }
    co_return std::error_code();
}

// Reads one request: its head (at most lim.max_header_bytes, within
// lim.read_header_timeout of its first byte) and its body (discarded).
// `pending` holds the bytes read past the previous request (pipelining).
// Between requests (`between`: a keep-alive connection), the wait for the
// first byte is bounded by lim.idle_timeout and ends when `idle` is
// cancelled (the shutdown closes idle connections at once); from the first
// byte on, only `active` cancels it (the grace period's end).
inline ringo::task<read_result> read_request(ringo::context idle, ringo::context active, ringo::net::conn& c,
                                             std::string& pending, const limits& lim, bool between) {
    read_result r;
    char buf[16 * 1024];
    if (pending.empty()) {
        auto [ictx, cancel] = ringo::with_timeout(idle, between ? lim.idle_timeout : lim.read_header_timeout);
        auto [n, err] = co_await c.read(ictx, std::as_writable_bytes(std::span(buf)));
        cancel();
        if (err) {
            r.err = err;
            co_return r;
        }
        pending.append(buf, n);
    }
    // The head's deadline counts from its first byte, read by now; its timer
    // is armed only if the head needs more reads (not for the common single
    // read, nor for pipelined requests already in `pending`).
    ringo::clock::time_point deadline = ringo::clock::now() + lim.read_header_timeout;
    ringo::context hctx;
    ringo::cancel_func cancel;
    bool armed = false;
    std::size_t end, scanned = 0;  // the blank line is not before `scanned`: each byte is searched once
    while ((end = pending.find("\r\n\r\n", scanned)) == std::string::npos) {
        scanned = pending.size() < 3 ? 0 : pending.size() - 3;
        if (pending.size() > lim.max_header_bytes) {
            r.status = 431;
            break;
        }
        if (!armed) {
            auto [dctx, dcancel] = ringo::with_deadline(active, deadline);
            hctx = dctx;
            cancel = dcancel;
            armed = true;
        }
        auto [n, err] = co_await c.read(hctx, std::as_writable_bytes(std::span(buf)));
        if (err) {
            r.err = err;
            break;
        }
        pending.append(buf, n);
    }
    if (armed)
        cancel();
    if (r.err || r.status != 0)
        co_return r;
    if (end > lim.max_header_bytes) {
        r.status = 431;
        co_return r;
    }
    r.status = parse_head(std::string_view(pending.data(), end), r.req);
    if (r.status != 0)
        co_return r;
    pending.erase(0, end + 4);
    r.err = co_await discard_body(active, c, pending, r.req.content_length, lim.read_header_timeout);
    co_return r;
}

}  // namespace http
