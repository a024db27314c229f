// samples/flags.hpp - Go's flag package in small, for the samples.
//
//   long workers = 8;
//   std::chrono::nanoseconds timeout = 2s;
//   flags::set fs("chanlock: a mutex made of a channel");
//   fs.int_var("workers", workers, "workers incrementing the counter");
//   fs.duration_var("timeout", timeout, "lock_for timeout", flags::range::positive);
//   fs.parse_or_exit(argc, argv);
//
// Syntax, as Go's flag package: -name value, -name=value, --name value,
// --name=value; a bool flag is -v or -v=false (it never takes the next
// argument); "--" ends the flags, and so does the first argument that is not
// a flag. -h, -help, --h and --help print the usage to stdout and exit 0
// (unless a flag of that name is defined). An error (unknown flag, missing
// value, bad value, and here also an argument after the flags, which no
// sample takes) prints "PROG: MESSAGE" with Go's message, then the usage, to
// stderr and exits 2, e.g.
//   server: invalid value "1x" for flag -grace: time: unknown unit "x" in duration "1x"
// The usage is Go's PrintDefaults format, flags sorted by name:
//   Usage of PROG:
//     -name type
//       	help (default X)
// followed by the set's description. A `word` in backquotes in a help text
// names the value in the usage ("  -app address"). Durations use Go's syntax
// (ringo::parse_duration; defaults shown by ringo::format_duration).
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/duration.hpp>

namespace flags {

// Which durations a duration flag accepts.
enum class range { any, non_negative, positive };

// What parse() made of the arguments.
struct outcome {
    enum class kind { ok, help, error };
    kind what = kind::ok;
    std::string error;              // for kind::error: Go's message, without the program name
    std::vector<std::string> args;  // the arguments after the flags (Go's flag.Args())
};

// How a command line ends when parse_or_exit does not return: the exit
// status and what goes to stdout and stderr.
struct ending {
    int status = 0;
    std::string out, err;
};

// Go's strconv.Quote for the ASCII the samples see: `"` and `\` escaped,
// control bytes as \n, \t, \r or \xNN; other bytes as they are.
inline std::string quote(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string q = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            q += '\\';
            q += ch;
        } else if (c == '\n') {
            q += "\\n";
        } else if (c == '\t') {
            q += "\\t";
        } else if (c == '\r') {
            q += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            q += "\\x";
            q += hex[c >> 4];
            q += hex[c & 0xf];
        } else {
            q += ch;
        }
    }
    return q + '"';
}

// The program's name as messages show it: argv[0] without its directory.
inline std::string program_name(const char* argv0) {
    std::string_view p = argv0 != nullptr ? argv0 : "";
    std::size_t slash = p.rfind('/');
    return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

// Go's strconv.ParseInt(s, 0, 64): optional sign, then 0x/0o/0b prefixes
// or a leading 0 for octal. Error text as Go's flag package prints it.
inline std::optional<long long> parse_int(std::string_view s, long long min, long long max, std::string& error) {
    std::string_view digits = s;
    bool neg = false;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        neg = digits[0] == '-';
        digits.remove_prefix(1);
    }
    int base = 10;
    if (digits.size() > 1 && digits[0] == '0') {
        char p = static_cast<char>(digits[1] | 0x20);
        base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 8;
        digits.remove_prefix(p == 'x' || p == 'o' || p == 'b' ? 2 : 1);
    }
    unsigned long long magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    if (digits.empty() || end != digits.data() + digits.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        error = "parse error";
        return std::nullopt;
    }
    auto limit = neg ? static_cast<unsigned long long>(-(min + 1)) + 1 : static_cast<unsigned long long>(max);
    if (ec == std::errc::result_out_of_range || magnitude > limit) {
        error = "value out of range";
        return std::nullopt;
    }
    return neg ? static_cast<long long>(0 - magnitude) : static_cast<long long>(magnitude);
}

// Go's strconv.ParseBool.
inline std::optional<bool> parse_bool(std::string_view s) {
    for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
        if (s == t)
            return true;
    for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
        if (s == f)
            return false;
    return std::nullopt;
}

// A set of flags (Go's flag.FlagSet). Each flag writes into the variable it
// was defined with, whose value at definition time is its default. The
// variables must outlive the parse.
class set {
public:
    explicit set(std::string about = {}) : about_(std::move(about)) {}

    void int_var(std::string name, long& v, std::string help) { define(std::move(name), &v, std::move(help), "int", std::to_string(v)); }
    void int_var(std::string name, int& v, std::string help) { define(std::move(name), &v, std::move(help), "int", std::to_string(v)); }
    void string_var(std::string name, std::string& v, std::string help) { define(std::move(name), &v, std::move(help), "string", v); }
    void bool_var(std::string name, bool& v, std::string help) { define(std::move(name), &v, std::move(help), "", v ? "true" : "false"); }
    // `r` refuses negative (non_negative) or also zero (positive) durations.
    void duration_var(std::string name, std::chrono::nanoseconds& v, std::string help, range r = range::any) {
        define(std::move(name), &v, std::move(help), "duration", ringo::format_duration(v));
        flags_.back().accepts = r;
    }

    // Parses the arguments that follow the program name, setting the flags'
    // variables; stops at the first error.
    outcome parse(const std::vector<std::string>& args) {
        outcome o;
        std::size_t i = 0;
        while (i < args.size()) {
            std::string_view s = args[i];
            if (s.size() < 2 || s[0] != '-')
                break;  // the first non-flag argument
            std::size_t minuses = s[1] == '-' ? 2 : 1;
            ++i;
            if (minuses == 2 && s.size() == 2)
                break;  // "--"
            std::string_view name = s.substr(minuses);
            if (name.empty() || name[0] == '-' || name[0] == '=')
                return failed(o, "bad flag syntax: " + std::string(s));
            std::optional<std::string_view> value;
            if (std::size_t eq = name.find('='); eq != std::string_view::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            flag* f = find(name);
            if (f == nullptr) {
                if (name == "help" || name == "h") {
                    o.what = outcome::kind::help;
                    return o;
                }
                return failed(o, "flag provided but not defined: -" + std::string(name));
            }
            if (std::holds_alternative<bool*>(f->target)) {
                std::optional<bool> b = true;
                if (value)
                    b = parse_bool(*value);
                if (!b)
                    return failed(o, "invalid boolean value " + quote(*value) + " for -" + f->name + ": parse error");
                *std::get<bool*>(f->target) = *b;
                continue;
            }
            if (!value && i < args.size())
                value = args[i++];
            if (!value)
                return failed(o, "flag needs an argument: -" + f->name);
            if (std::string why = set_value(*f, *value); !why.empty())
                return failed(o, "invalid value " + quote(*value) + " for flag -" + f->name + ": " + why);
        }
        o.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
        return o;
    }

    // Go's usage text: "Usage of PROG:", the flags, then the description.
    std::string usage(std::string_view program) const {
        std::string u = "Usage of " + std::string(program) + ":\n";
        std::vector<const flag*> sorted;
        for (const flag& f : flags_)
            sorted.push_back(&f);
        std::sort(sorted.begin(), sorted.end(), [](const flag* a, const flag* b) { return a->name < b->name; });
        for (const flag* f : sorted) {
            std::string line = "  -" + f->name;
            std::string type = f->type, help = f->help;
            if (std::size_t open = help.find('`'); open != std::string::npos) {
                if (std::size_t close = help.find('`', open + 1); close != std::string::npos) {
                    type = help.substr(open + 1, close - open - 1);
                    help.erase(close, 1);
                    help.erase(open, 1);
                }
            }
            if (!type.empty())
                line += " " + type;
            line += line.size() <= 4 ? "\t" : "\n    \t";  // a one-letter bool stays on its line
            for (char c : help)
                line += c == '\n' ? std::string("\n    \t") : std::string(1, c);
            if (f->default_text != f->zero_text)
                line += " (default " + (f->type == "string" ? quote(f->default_text) : f->default_text) + ")";
            u += line + "\n";
        }
        if (!about_.empty())
            u += "\n" + about_ + "\n";
        return u;
    }

    // What parse_or_exit(argc, argv) does: nullopt when the program goes on
    // (the flags are set), else how it ends: help (status 0, the usage on
    // stdout) or an error (status 2, "PROG: MESSAGE" and the usage on stderr).
    std::optional<ending> ending_for(int argc, const char* const* argv) {
        std::string program = program_name(argc > 0 ? argv[0] : nullptr);
        std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
        outcome o = parse(args);
        if (o.what == outcome::kind::ok && !o.args.empty()) {
            o.what = outcome::kind::error;
            o.error = "unexpected argument " + quote(o.args.front()) + " (this program takes flags only)";
        }
        switch (o.what) {
        case outcome::kind::ok:
            return std::nullopt;
        case outcome::kind::help:
            return ending{0, usage(program), {}};
        case outcome::kind::error:
            break;
        }
        return ending{2, {}, program + ": " + o.error + "\n" + usage(program)};
    }

    // Parses argv; on help or an error prints and exits (see ending_for).
    void parse_or_exit(int argc, char** argv) {
        if (std::optional<ending> e = ending_for(argc, argv)) {
            std::fputs(e->out.c_str(), stdout);
            std::fputs(e->err.c_str(), stderr);
            std::exit(e->status);
        }
    }

private:
    struct flag {
        std::string name, help;
        std::variant<long*, int*, std::string*, bool*, std::chrono::nanoseconds*> target;
        std::string type;          // the usage's value name ("" for bool)
        std::string default_text;  // the value at definition, as the usage shows it
        std::string zero_text;     // the type's zero value: no "(default ...)" then
        range accepts = range::any;
    };

    template <class T>
    void define(std::string name, T* v, std::string help, std::string type, std::string default_text) {
        if (name.empty() || name[0] == '-' || name.find('=') != std::string::npos || find(name) != nullptr)
            throw std::invalid_argument("flags: bad or repeated flag name \"" + name + "\"");
        std::string zero = std::is_same_v<T, bool> ? "false" : std::is_same_v<T, std::string> ? "" : type == "duration" ? "0s" : "0";
        flags_.push_back(flag{std::move(name), std::move(help), v, std::move(type), std::move(default_text), std::move(zero)});
    }

    flag* find(std::string_view name) {
        for (flag& f : flags_)
            if (f.name == name)
                return &f;
        return nullptr;
    }

    static outcome& failed(outcome& o, std::string message) {
        o.what = outcome::kind::error;
        o.error = std::move(message);
        return o;
    }

    // Sets a non-bool flag from its text: "" on success, else why not (Go's words).
    static std::string set_value(flag& f, std::string_view text) {
        std::string why;
        if (auto* l = std::get_if<long*>(&f.target)) {
            if (std::optional<long long> n = parse_int(text, LONG_MIN, LONG_MAX, why))
                **l = static_cast<long>(*n);
        } else if (auto* i = std::get_if<int*>(&f.target)) {
            if (std::optional<long long> n = parse_int(text, INT_MIN, INT_MAX, why))
                **i = static_cast<int>(*n);
        } else if (auto* s = std::get_if<std::string*>(&f.target)) {
            **s = std::string(text);
        } else if (auto* d = std::get_if<std::chrono::nanoseconds*>(&f.target)) {
            std::optional<std::chrono::nanoseconds> v = ringo::parse_duration(text, why);
            if (v && f.accepts == range::non_negative && v->count() < 0)
                why = "must not be negative";
            else if (v && f.accepts == range::positive && v->count() <= 0)
                why = "must be positive";
            else if (v)
                **d = *v;
        }
        return why;
    }

    std::string about_;
    std::vector<flag> flags_;
};

// A duration in milliseconds, for printing.
inline double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace flags
