// samples/flags.hpp - the samples' tiny command-line parser: --name VALUE
// for integers and durations (e.g. 80ms, 2s, 1.5s, 500us, 2m, 1h; negative
// or overflowing ones are refused), and --help.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace flags {

struct flag {
    const char* name;
    const char* help;
    long* number = nullptr;
    std::chrono::nanoseconds* duration = nullptr;
};

inline bool parse_duration(const char* s, std::chrono::nanoseconds& out) {
    char* end = nullptr;
    double v = std::strtod(s, &end);
    std::string unit = end;
    double ns = unit == "ns"  ? 1
                : unit == "us" ? 1e3
                : unit == "ms" ? 1e6
                : unit == "s"  ? 1e9
                : unit == "m"  ? 60e9
                : unit == "h"  ? 3600e9
                               : -1;
    if (end == s || ns < 0 || !(v >= 0) || v * ns >= 9.2e18)
        return false;  // no number, an unknown unit, negative (or NaN), or past ~292 years
    out = std::chrono::nanoseconds(static_cast<long long>(v * ns));
    return true;
}

// A duration as Go prints short ones: "5s", "1.5s", "250ms", "2m0s".
inline std::string format(std::chrono::nanoseconds d) {
    char buf[64];
    double ns = static_cast<double>(d.count());
    if (ns >= 60e9)
        std::snprintf(buf, sizeof buf, "%lldm%gs", static_cast<long long>(ns / 60e9),
                      (ns - 60e9 * static_cast<double>(static_cast<long long>(ns / 60e9))) / 1e9);
    else if (ns >= 1e9 || ns == 0)
        std::snprintf(buf, sizeof buf, "%gs", ns / 1e9);
    else if (ns >= 1e6)
        std::snprintf(buf, sizeof buf, "%gms", ns / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%gus", ns / 1e3);
    return buf;
}

// Parses argv; on --help prints the usage and exits 0, on a bad flag exits 2.
inline void parse(int argc, char** argv, const char* about, std::vector<flag> fs) {
    auto usage = [&](FILE* to) {
        std::fprintf(to, "%s\n\nflags:\n", about);
        for (const flag& f : fs)
            std::fprintf(to, "  --%-14s %s\n", f.name, f.help);
    };
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            std::exit(0);
        }
        bool ok = false;
        for (const flag& f : fs) {
            if (argv[i][0] != '-' || argv[i][1] != '-' || std::strcmp(argv[i] + 2, f.name) != 0 || i + 1 >= argc)
                continue;
            const char* v = argv[++i];
            if (f.number != nullptr) {
                char* end = nullptr;
                errno = 0;
                *f.number = std::strtol(v, &end, 10);
                ok = end != v && *end == '\0' && errno != ERANGE;
            } else {
                ok = parse_duration(v, *f.duration);
            }
            break;
        }
        if (!ok) {
            std::fprintf(stderr, "bad or unknown flag near '%s'\n\n", argv[i]);
            usage(stderr);
            std::exit(2);
        }
    }
}

inline double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace flags
