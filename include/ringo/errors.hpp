// ringo/errors.hpp - ringo's error codes and the exception for misuse.
//
// Runtime failures are std::error_code values (Go's `error`); ringo's own
// codes are ringo::errc. Programming errors (what Go reports with a panic)
// throw ringo::panic_error, whose message names the misuse.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <stdexcept>
#include <string>
#include <system_error>

namespace ringo {

enum class errc {
    canceled = 1,       // the operation's context was cancelled
    deadline_exceeded,  // the operation's context passed its deadline
    eof,                // the peer closed the stream (io.EOF)
    closed,             // the resource was closed under the operation
    bad_address,        // a network address that does not parse (want "host:port")
    bad_port,           // an address whose port is not a number from 0 to 65535 ("host:99999")
    no_such_host,       // name resolution found no address for the host (EAI_NONAME, EAI_NODATA)
};

// The category of ringo::errc; name() is "ringo".
const std::error_category& ringo_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), ringo_category()};
}

// A programming error: send on a closed channel, closing twice, using ringo
// outside run(), ... Like a Go panic, it is not meant to be handled in normal
// flow; what() says exactly what was misused.
struct panic_error : std::logic_error {
    using std::logic_error::logic_error;
};

}  // namespace ringo

template <>
struct std::is_error_code_enum<ringo::errc> : std::true_type {};
