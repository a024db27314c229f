// Go's time.ParseDuration and Duration.String() (see duration.hpp). The
// parser is Go's src/time/format.go algorithm step by step, so every input
// gives Go's value or Go's error.
#include <ringo/duration.hpp>

#include <cstdint>

namespace ringo {
namespace {

constexpr std::uint64_t limit = std::uint64_t{1} << 63;  // |min int64|, the largest magnitude

enum class parse_error { none, invalid, missing_unit, unknown_unit };

struct parse_outcome {
    parse_error error = parse_error::none;
    std::int64_t value = 0;
    std::string_view unit;  // the unknown unit, for unknown_unit
};

parse_outcome failure(parse_error e, std::string_view unit = {}) { return {e, 0, unit}; }
parse_outcome success(std::int64_t value) { return {parse_error::none, value, {}}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Consumes the leading [0-9]* of s into x; false on overflow past 1<<63.
bool leading_int(std::string_view& s, std::uint64_t& x) {
    x = 0;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        if (x > limit / 10)
            return false;
        x = x * 10 + static_cast<std::uint64_t>(s[i] - '0');
        if (x > limit)
            return false;
    }
    s.remove_prefix(i);
    return true;
}

// Consumes the leading [0-9]* of s as a fraction x / scale; digits that
// would overflow are consumed but no longer add precision (never an error).
void leading_fraction(std::string_view& s, std::uint64_t& x, double& scale) {
    x = 0;
    scale = 1;
    bool overflow = false;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        if (overflow)
            continue;
        if (x > (limit - 1) / 10) {
            overflow = true;
            continue;
        }
        std::uint64_t y = x * 10 + static_cast<std::uint64_t>(s[i] - '0');
        if (y > limit) {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10;
    }
    s.remove_prefix(i);
}

// Nanoseconds per unit, 0 for an unknown unit.
std::uint64_t unit_ns(std::string_view u) {
    if (u == "ns")
        return 1;
    if (u == "us" || u == "\u00b5s" || u == "\u03bcs")
        return 1'000;
    if (u == "ms")
        return 1'000'000;
    if (u == "s")
        return 1'000'000'000;
    if (u == "m")
        return 60'000'000'000;
    if (u == "h")
        return 3'600'000'000'000;
    return 0;
}

// [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or [-+]?0
parse_outcome parse(std::string_view s) noexcept {
    std::uint64_t d = 0;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0")
        return success(0);
    if (s.empty())
        return failure(parse_error::invalid);
    while (!s.empty()) {
        if (!(s[0] == '.' || is_digit(s[0])))
            return failure(parse_error::invalid);
        std::size_t before = s.size();
        std::uint64_t v = 0, f = 0;  // integer part, fraction digits
        double scale = 1;            // value = v + f / scale
        if (!leading_int(s, v))
            return failure(parse_error::invalid);
        bool pre = before != s.size();
        bool post = false;
        if (!s.empty() && s[0] == '.') {
            s.remove_prefix(1);
            std::size_t at = s.size();
            leading_fraction(s, f, scale);
            post = at != s.size();
        }
        if (!pre && !post)
            return failure(parse_error::invalid);  // no digits: ".s", "-.s"
        std::size_t i = 0;
        while (i < s.size() && s[i] != '.' && !is_digit(s[i]))
            ++i;
        if (i == 0)
            return failure(parse_error::missing_unit);
        std::string_view u = s.substr(0, i);
        s.remove_prefix(i);
        std::uint64_t unit = unit_ns(u);
        if (unit == 0)
            return failure(parse_error::unknown_unit, u);
        if (v > limit / unit)
            return failure(parse_error::invalid);
        v *= unit;
        if (f > 0) {
            // Go's float64 step: f * (unit / scale) <= 3.6e12 (ns per hour), truncated.
            v += static_cast<std::uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
            if (v > limit)
                return failure(parse_error::invalid);
        }
        d += v;
        if (d > limit)
            return failure(parse_error::invalid);
    }
    if (neg)
        return success(static_cast<std::int64_t>(0 - d));  // d == 1<<63 gives min int64
    if (d > limit - 1)
        return failure(parse_error::invalid);
    return success(static_cast<std::int64_t>(d));
}

// Go's time.quote: "s" with `"` and `\` escaped and every byte outside
// 0x20..0x7f as \xNN.
void append_quoted(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80 || c < 0x20) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            if (c == '"' || c == '\\')
                out += '\\';
            out += ch;
        }
    }
    out += '"';
}

// Writes the fraction v / 10^prec (".12345", no trailing zeros, nothing
// when it is 0) so that it ends at buf[w]; returns v / 10^prec.
std::uint64_t put_fraction(char* buf, std::size_t& w, std::uint64_t v, int prec) {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
        auto digit = static_cast<char>(v % 10);
        print = print || digit != 0;
        if (print)
            buf[--w] = static_cast<char>('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return v;
}

void put_int(char* buf, std::size_t& w, std::uint64_t v) {
    do {
        buf[--w] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0);
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) noexcept {
    parse_outcome r = parse(s);
    if (r.error != parse_error::none)
        return std::nullopt;
    return std::chrono::nanoseconds(r.value);
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s, std::string& error) {
    parse_outcome r = parse(s);
    switch (r.error) {
    case parse_error::none:
        return std::chrono::nanoseconds(r.value);
    case parse_error::invalid:
        error = "time: invalid duration ";
        break;
    case parse_error::missing_unit:
        error = "time: missing unit in duration ";
        break;
    case parse_error::unknown_unit:
        error = "time: unknown unit ";
        append_quoted(error, r.unit);
        error += " in duration ";
        break;
    }
    append_quoted(error, s);
    return std::nullopt;
}

std::string format_duration(std::chrono::nanoseconds d) {
    // The longest is "-2562047h47m16.854775808s" (25 bytes).
    char buf[32];
    std::size_t w = sizeof buf;
    std::int64_t n = d.count();
    bool neg = n < 0;
    std::uint64_t u = static_cast<std::uint64_t>(n);
    if (neg)
        u = 0 - u;
    if (u < 1'000'000'000) {
        // Under a second: one smaller unit with a fraction, e.g. 1.2ms.
        int prec = 0;
        buf[--w] = 's';
        if (u == 0)
            return "0s";
        if (u < 1'000) {
            buf[--w] = 'n';
        } else if (u < 1'000'000) {
            prec = 3;
            buf[--w] = '\xb5';  // U+00B5 MICRO SIGN in UTF-8: C2 B5
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        u = put_fraction(buf, w, u, prec);
        put_int(buf, w, u);
    } else {
        buf[--w] = 's';
        u = put_fraction(buf, w, u, 9);
        put_int(buf, w, u % 60);  // seconds
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            put_int(buf, w, u % 60);  // minutes
            u /= 60;
            if (u > 0) {  // hours: Go stops there, days differ in length
                buf[--w] = 'h';
                put_int(buf, w, u);
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    return std::string(buf + w, sizeof buf - w);
}

}  // namespace ringo
