// ringo/duration.hpp - Go's duration syntax: time.ParseDuration and
// Duration.String() for std::chrono::nanoseconds.
//
//   auto d = ringo::parse_duration("1h30m");          // 5400s
//   std::string s = ringo::format_duration(1500ms);   // "1.5s"
//   std::string err;
//   if (!ringo::parse_duration("1x", err))            // err == R"(time: unknown unit "x" in duration "1x")"
//
// Both follow Go exactly, byte for byte, including the edges of int64
// nanoseconds (Go's time.Duration): "-9223372036854775808ns" parses and
// format_duration(nanoseconds::min()) is "-2562047h47m16.854775808s", so
// parse_duration(format_duration(d)) == d for every d.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ringo {

// Go's time.ParseDuration. A duration is an optional sign followed by one or
// more decimal numbers, each with an optional fraction and a unit: "300ms",
// "-1.5h", "2h45m", ".5s", "5.s". Units: ns, us, µs (U+00B5), μs (U+03BC),
// ms, s, m, h. "0" (optionally signed) is the only number allowed without a
// unit. Integer parts are accumulated exactly; a fraction is scaled into its
// unit as Go does (a float64 product, truncated, so "0.3333333333333333333h"
// is exactly 20m), digits past 19 are ignored. A total outside int64
// nanoseconds is an error. Returns nullopt on any error. Allocates nothing.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) noexcept;

// The same, and on failure sets `error` to Go's message (otherwise `error`
// is left untouched):
//   time: invalid duration "x"                   (bad syntax or overflow)
//   time: missing unit in duration "1"
//   time: unknown unit "x" in duration "1x"
// Quoted text is escaped as Go's time package does: `"` and `\` get a
// backslash, bytes below 0x20 or above 0x7f are written as \xNN.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s, std::string& error);

// Go's Duration.String(): "0s"; under a second one unit with a fraction
// ("1ns", "1.1µs" with U+00B5, "2.2ms"); otherwise [Nh][Nm]N[.frac]s with
// the leading zero units left out ("3.3s", "4m5s", "2h0m0s"); a fraction
// never has trailing zeros; negatives start with '-'. Allocates only the
// returned string (which fits std::string's small buffer up to 15 bytes).
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace ringo
