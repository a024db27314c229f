// ringo/net.hpp - TCP on the ring: listen, accept, dial, read, write.
//
//   auto [ln, err] = co_await ringo::net::listen("127.0.0.1:0");   // port 0: any free port
//   std::printf("listening on %s\n", ln.addr().c_str());
//   auto [conn, err2] = co_await ln.accept(ctx);
//   std::byte buf[4096];
//   auto [n, err3] = co_await conn.read(ctx, buf);               // errc::eof at the end
//   auto [m, err4] = co_await conn.write_all(ctx, std::span(buf, n));
//   auto [c, err5] = co_await ringo::net::dial(ctx, "example.org:80");   // names resolved off the executor
//
// Every operation runs on io_uring and takes a context. When the context is
// cancelled first, ringo asks the kernel to cancel the operation and still
// waits for its own completion: if it completed anyway, its real result is
// returned (bytes read are not lost, an accepted connection is not leaked);
// otherwise ctx.err(). Addresses: "host:port", "[ipv6]:port", ":port" (all
// IPv4 interfaces); a bad one is errc::bad_address.
//
// Errors. listen and dial return, besides the kernel's own errors
// (std::system_category: "Address already in use", "Connection refused"):
// errc::bad_address (not host:port), errc::bad_port (":99999", ":http": the
// port must be a number from 0 to 65535), errc::no_such_host (getaddrinfo
// found no address for the name), and for the resolver's other failures a
// code of resolver_category() whose message is gai_strerror's ("Temporary
// failure in name resolution"). A std::error_code cannot carry the address,
// so name it when reporting, as Go's net.OpError does:
//   std::fprintf(stderr, "listen %s: %s\n", address.c_str(), err.message().c_str());
//   // listen 127.0.0.1:8080: Address already in use
//
// conn and listener are
// move-only owners: destroying or closing one closes its socket, and the
// operations still in flight on it end with errc::closed.
//
// Threads: a conn or listener may be used from tasks on any executors at
// once (reads, writes, accepts, the address queries, shutdown_write), and
// closed from any executor or by its destruction, while operations run
// elsewhere. Moving, assigning or destroying the object itself must not race
// other uses of that object. Closing never lets an operation touch another
// socket: the descriptor is released only once no operation started on it
// is in flight anywhere, so its number is not reused under one.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <ringo/context.hpp>
#include <ringo/task.hpp>

namespace ringo::net {

namespace detail {
struct socket_state;

// The most one ring operation moves: an SQE's length is 32 bits and its
// result an int, so larger buffers go in chunks (read returns at most one,
// write_all loops over them).
inline constexpr std::size_t max_io_chunk = 0x7fffffff;
constexpr std::uint32_t io_chunk(std::size_t size) noexcept {
    return static_cast<std::uint32_t>(size < max_io_chunk ? size : max_io_chunk);
}

// What conn and listener share: owning one socket. Destroying or closing it
// closes the socket; operations in flight on it end with errc::closed.
class socket_owner {
public:
    socket_owner() noexcept = default;
    explicit socket_owner(int fd);  // adopts fd
    socket_owner(socket_owner&&) noexcept = default;
    socket_owner& operator=(socket_owner&& o) noexcept;
    ~socket_owner();

    // Closes the socket, from any thread: operations in flight on any
    // executor are cancelled and end with errc::closed (one that completed
    // anyway returns its real result); operations started after it return
    // errc::closed. The descriptor itself is closed once the last of them
    // has completed. Idempotent.
    void close() noexcept;
    // The descriptor, valid until close() (or -1 when empty).
    int native_handle() const noexcept;
    explicit operator bool() const noexcept { return s_ != nullptr; }

protected:
    std::shared_ptr<socket_state> s_;
};
}  // namespace detail

// A TCP connection.
class conn : public detail::socket_owner {
public:
    using socket_owner::socket_owner;  // conn() is empty; conn(fd) adopts a connected socket

    // Reads up to min(buf.size(), max_io_chunk) bytes: {n, {}} with n > 0,
    // or {0, errc::eof} once the peer has closed its side.
    [[nodiscard]] task<std::pair<std::size_t, std::error_code>> read(
        context ctx, std::span<std::byte> buf, std::source_location site = std::source_location::current());
    // Writes some of buf (maybe not all, at most max_io_chunk): {n, err}.
    [[nodiscard]] task<std::pair<std::size_t, std::error_code>> write(
        context ctx, std::span<const std::byte> buf, std::source_location site = std::source_location::current());
    // Writes all of buf unless an error (or ctx) stops it: {bytes written, err}.
    [[nodiscard]] task<std::pair<std::size_t, std::error_code>> write_all(
        context ctx, std::span<const std::byte> buf, std::source_location site = std::source_location::current());
    [[nodiscard]] task<std::pair<std::size_t, std::error_code>> write_all(
        context ctx, std::string_view text, std::source_location site = std::source_location::current()) {
        return write_all(std::move(ctx), std::as_bytes(std::span(text.data(), text.size())), site);
    }
    // Half close: the peer reads EOF; this side may still read.
    void shutdown_write() noexcept;

    std::string local_addr() const;
    std::string remote_addr() const;
};

// A listening TCP socket. close() stops listening; a pending accept ends
// with errc::closed.
class listener : public detail::socket_owner {
public:
    using socket_owner::socket_owner;  // listener(fd) adopts a listening socket

    // The next connection, or ctx.err() / errc::closed.
    [[nodiscard]] task<std::pair<conn, std::error_code>> accept(
        context ctx, std::source_location site = std::source_location::current());
    // The bound address, e.g. "127.0.0.1:40123" or "[::1]:40123".
    std::string addr() const;
};

// The category of getaddrinfo's EAI_* codes (name "getaddrinfo"), for the
// resolver failures other than errc::no_such_host.
const std::error_category& resolver_category() noexcept;

// Listens on address ("127.0.0.1:0", "[::1]:8080", ":8080", "localhost:0").
[[nodiscard]] task<std::pair<listener, std::error_code>> listen(std::string address);
// Connects to address; names are resolved on a helper thread (blocking()).
[[nodiscard]] task<std::pair<conn, std::error_code>> dial(context ctx, std::string address,
                                                         std::source_location site = std::source_location::current());

}  // namespace ringo::net
