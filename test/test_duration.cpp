// Durations: parse_duration and format_duration against Go's own test
// tables (parseDurationTests, parseDurationErrorTests and durationTests in
// Go's src/time/time_test.go), Go's error messages, and round trips.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <ringo/duration.hpp>

using std::chrono::nanoseconds;

namespace {

constexpr std::int64_t ns = 1, us = 1000 * ns, ms = 1000 * us, s = 1000 * ms, m = 60 * s, h = 60 * m;
constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t min_ns = std::numeric_limits<std::int64_t>::min();

struct parse_case {
    std::string_view in;
    std::int64_t want;
};

// Go's parseDurationTests.
constexpr parse_case parse_cases[] = {
    // simple
    {"0", 0},
    {"5s", 5 * s},
    {"30s", 30 * s},
    {"1478s", 1478 * s},
    // sign
    {"-5s", -5 * s},
    {"+5s", 5 * s},
    {"-0", 0},
    {"+0", 0},
    // decimal
    {"5.0s", 5 * s},
    {"5.6s", 5 * s + 600 * ms},
    {"5.s", 5 * s},
    {".5s", 500 * ms},
    {"1.0s", 1 * s},
    {"1.00s", 1 * s},
    {"1.004s", 1 * s + 4 * ms},
    {"1.0040s", 1 * s + 4 * ms},
    {"100.00100s", 100 * s + 1 * ms},
    // different units
    {"10ns", 10 * ns},
    {"11us", 11 * us},
    {"12\u00b5s", 12 * us},  // U+00B5 micro sign
    {"12\u03bcs", 12 * us},  // U+03BC Greek mu
    {"13ms", 13 * ms},
    {"14s", 14 * s},
    {"15m", 15 * m},
    {"16h", 16 * h},
    // composite durations
    {"3h30m", 3 * h + 30 * m},
    {"10.5s4m", 4 * m + 10 * s + 500 * ms},
    {"-2m3.4s", -(2 * m + 3 * s + 400 * ms)},
    {"1h2m3s4ms5us6ns", 1 * h + 2 * m + 3 * s + 4 * ms + 5 * us + 6 * ns},
    {"39h9m14.425s", 39 * h + 9 * m + 14 * s + 425 * ms},
    // large value
    {"52763797000ns", 52763797000 * ns},
    // more than 9 digits after the decimal point (Go issue 6617)
    {"0.3333333333333333333h", 20 * m},
    // 1<<53 + 1 cannot be stored exactly in a float64
    {"9007199254740993ns", (std::int64_t{1} << 53) + 1},
    // the largest duration in int64 nanoseconds
    {"9223372036854775807ns", max_ns},
    {"9223372036854775.807us", max_ns},
    {"9223372036s854ms775us807ns", max_ns},
    {"-9223372036854775808ns", min_ns},
    {"-9223372036854775.808us", min_ns},
    {"-9223372036s854ms775us808ns", min_ns},
    // the largest negative value
    {"-9223372036854775808ns", min_ns},
    // the largest negative round-trip value (Go issue 48629)
    {"-2562047h47m16.854775808s", min_ns},
    // huge string (Go issue 15011)
    {"0.100000000000000000000h", 6 * m},
    // the first overflow check in leadingFraction
    {"0.830103483285477580700h", 49 * m + 48 * s + 372539827 * ns},
};

struct error_case {
    std::string_view in;
    std::string_view message;  // Go's full error text
};

// Go's parseDurationErrorTests (Go checks that the error contains the
// quoted input; here the whole message is Go's).
constexpr error_case error_cases[] = {
    // invalid
    {"", R"(time: invalid duration "")"},
    {"3", R"(time: missing unit in duration "3")"},
    {"-", R"(time: invalid duration "-")"},
    {"s", R"(time: invalid duration "s")"},
    {".", R"(time: invalid duration ".")"},
    {"-.", R"(time: invalid duration "-.")"},
    {".s", R"(time: invalid duration ".s")"},
    {"+.s", R"(time: invalid duration "+.s")"},
    {"1d", R"(time: unknown unit "d" in duration "1d")"},
    {"\x85\x85", R"(time: invalid duration "\x85\x85")"},
    {"\xff" "ff", R"(time: invalid duration "\xffff")"},
    {"hello \xff" "ff world", R"(time: invalid duration "hello \xffff world")"},
    {"\uFFFD", R"(time: invalid duration "\xef\xbf\xbd")"},  // utf8.RuneError
    {"\uFFFD hello \uFFFD world", R"(time: invalid duration "\xef\xbf\xbd hello \xef\xbf\xbd world")"},
    // overflow
    {"9223372036854775810ns", R"(time: invalid duration "9223372036854775810ns")"},
    {"9223372036854775808ns", R"(time: invalid duration "9223372036854775808ns")"},
    {"-9223372036854775809ns", R"(time: invalid duration "-9223372036854775809ns")"},
    {"9223372036854776us", R"(time: invalid duration "9223372036854776us")"},
    {"3000000h", R"(time: invalid duration "3000000h")"},
    {"9223372036854775.808us", R"(time: invalid duration "9223372036854775.808us")"},
    {"9223372036854ms775us808ns", R"(time: invalid duration "9223372036854ms775us808ns")"},
};

struct format_case {
    std::string_view str;
    std::int64_t d;
};

// Go's durationTests (Duration.String).
constexpr format_case format_cases[] = {
    {"0s", 0},
    {"1ns", 1 * ns},
    {"1.1\u00b5s", 1100 * ns},
    {"2.2ms", 2200 * us},
    {"3.3s", 3300 * ms},
    {"4m5s", 4 * m + 5 * s},
    {"4m5.001s", 4 * m + 5001 * ms},
    {"5h6m7.001s", 5 * h + 6 * m + 7001 * ms},
    {"8m0.000000001s", 8 * m + 1 * ns},
    {"2562047h47m16.854775807s", max_ns},
    {"-2562047h47m16.854775808s", min_ns},
};

// A deterministic 64-bit generator (splitmix64).
std::uint64_t next_random(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

void check_round_trip(std::int64_t n) {
    std::string text = ringo::format_duration(nanoseconds(n));
    std::optional<nanoseconds> back = ringo::parse_duration(text);
    REQUIRE_MESSAGE(back.has_value(), n, " => ", text);
    CHECK_MESSAGE(back->count() == n, n, " => ", text, " => ", back->count());
}

}  // namespace

TEST_SUITE("duration") {

TEST_CASE("parse_duration gives Go's value for every case of Go's parseDurationTests") {
    for (const parse_case& c : parse_cases) {
        CAPTURE(c.in);
        std::optional<nanoseconds> d = ringo::parse_duration(c.in);
        REQUIRE(d.has_value());
        CHECK(d->count() == c.want);
        std::string error = "untouched";
        d = ringo::parse_duration(c.in, error);
        REQUIRE(d.has_value());
        CHECK(d->count() == c.want);
        CHECK(error == "untouched");  // success leaves the error alone
    }
}

TEST_CASE("parse_duration fails with Go's message for every case of Go's parseDurationErrorTests") {
    for (const error_case& c : error_cases) {
        CAPTURE(c.in);
        CHECK_FALSE(ringo::parse_duration(c.in).has_value());
        std::string error;
        CHECK_FALSE(ringo::parse_duration(c.in, error).has_value());
        CHECK(error == c.message);
    }
}

TEST_CASE("each of Go's three messages, and Go's quoting of the text") {
    std::string error;
    CHECK_FALSE(ringo::parse_duration("x", error));
    CHECK(error == R"(time: invalid duration "x")");
    CHECK_FALSE(ringo::parse_duration("1", error));
    CHECK(error == R"(time: missing unit in duration "1")");
    CHECK_FALSE(ringo::parse_duration("1x", error));
    CHECK(error == R"(time: unknown unit "x" in duration "1x")");
    CHECK_FALSE(ringo::parse_duration("1h3", error));  // a unit is missing after the first number too
    CHECK(error == R"(time: missing unit in duration "1h3")");
    CHECK_FALSE(ringo::parse_duration("2\u00b5x", error));  // non-ASCII units are escaped byte by byte
    CHECK(error == R"(time: unknown unit "\xc2\xb5x" in duration "2\xc2\xb5x")");
    CHECK_FALSE(ringo::parse_duration("1\"\\", error));  // quote and backslash get a backslash
    CHECK(error == R"(time: unknown unit "\"\\" in duration "1\"\\")");
    CHECK_FALSE(ringo::parse_duration("1 s", error));  // no spaces: " s" is the unit
    CHECK(error == R"(time: unknown unit " s" in duration "1 s")");
    CHECK_FALSE(ringo::parse_duration("1s\n", error));  // control bytes as \xNN
    CHECK(error == R"(time: unknown unit "s\x0a" in duration "1s\x0a")");
    CHECK_FALSE(ringo::parse_duration(std::string_view("1\0s", 3), error));
    CHECK(error == R"(time: unknown unit "\x00s" in duration "1\x00s")");
}

TEST_CASE("parse_duration edges: signs, zero, fractions and the int64 limits") {
    CHECK_FALSE(ringo::parse_duration("--5s"));
    CHECK_FALSE(ringo::parse_duration("+-5s"));
    CHECK_FALSE(ringo::parse_duration("00"));   // only "0" alone goes without a unit
    CHECK_FALSE(ringo::parse_duration("0.0"));
    CHECK(ringo::parse_duration("00s") == nanoseconds(0));
    CHECK(ringo::parse_duration("-0s") == nanoseconds(0));
    CHECK(ringo::parse_duration("1.5h") == nanoseconds(90 * m));
    CHECK(ringo::parse_duration("1h30m") == nanoseconds(90 * m));
    CHECK(ringo::parse_duration("1.000000001s") == nanoseconds(s + 1));
    CHECK(ringo::parse_duration("1.0000000009s") == nanoseconds(s));  // below a nanosecond: truncated
    CHECK(ringo::parse_duration("0.000000001s") == nanoseconds(1));
    CHECK(ringo::parse_duration("1s1s") == nanoseconds(2 * s));       // a unit may repeat, as in Go
    CHECK(ringo::parse_duration("2562047h47m16.854775807s") == nanoseconds(max_ns));
    CHECK_FALSE(ringo::parse_duration("2562047h47m16.854775808s"));   // one past max
    CHECK_FALSE(ringo::parse_duration("-2562047h47m16.854775809s"));  // one past min
    CHECK_FALSE(ringo::parse_duration("2562048h"));
    CHECK(ringo::parse_duration("-2562047h") == nanoseconds(-2562047 * h));
    CHECK_FALSE(ringo::parse_duration("99999999999999999999ns"));     // overflows while reading digits
}

TEST_CASE("format_duration gives Go's text for every case of Go's durationTests, and its negation") {
    for (const format_case& c : format_cases) {
        CAPTURE(c.str);
        CHECK(ringo::format_duration(nanoseconds(c.d)) == c.str);
        if (c.d > 0)
            CHECK(ringo::format_duration(nanoseconds(-c.d)) == "-" + std::string(c.str));
    }
}

TEST_CASE("format_duration: Go's forms for each unit") {
    using namespace std::chrono_literals;
    CHECK(ringo::format_duration(1500ms) == "1.5s");
    CHECK(ringo::format_duration(100ms) == "100ms");
    CHECK(ringo::format_duration(2h) == "2h0m0s");
    CHECK(ringo::format_duration(2min) == "2m0s");
    CHECK(ringo::format_duration(1us) == "1\u00b5s");
    CHECK(ringo::format_duration(-1500ms) == "-1.5s");
    CHECK(ringo::format_duration(999ns) == "999ns");
    CHECK(ringo::format_duration(1001us) == "1.001ms");
    CHECK(ringo::format_duration(999999999ns) == "999.999999ms");
    CHECK(ringo::format_duration(1s) == "1s");
    CHECK(ringo::format_duration(61s) == "1m1s");
    CHECK(ringo::format_duration(3601s) == "1h0m1s");
    CHECK(ringo::format_duration(-1ns) == "-1ns");
}

TEST_CASE("parse_duration(format_duration(d)) == d, at nanosecond resolution, over the whole range") {
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, max_ns, min_ns, max_ns - 1, min_ns + 1,
                           us - 1, us, ms - 1, ms, s - 1, s, s + 1, m - 1, m, h - 1, h, 24 * h})
        check_round_trip(n);
    std::uint64_t state = 16;
    for (int i = 0; i < 20000; ++i) {
        std::uint64_t r = next_random(state);
        int bits = static_cast<int>(r % 64);  // every magnitude from 1 ns to the whole int64 range
        auto n = static_cast<std::int64_t>(next_random(state) >> (63 - bits) >> 1);
        check_round_trip(r & 1 ? n : -n);
    }
    for (std::int64_t n = -2 * s; n <= 2 * s; n += 999'983)  // sub-second units and their boundaries
        check_round_trip(n);
}

}  // TEST_SUITE
