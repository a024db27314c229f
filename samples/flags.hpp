// samples/flags.hpp - the samples' tiny command-line parser: --name VALUE
// for integers and durations (e.g. 80ms, 2s, 500us), and --help.
#pragma once

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
    double ns = unit == "ns" ? 1 : unit == "us" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9 : -1;
    if (end == s || ns < 0)
        return false;
    out = std::chrono::nanoseconds(static_cast<long long>(v * ns));
    return true;
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
                *f.number = std::strtol(v, &end, 10);
                ok = *end == '\0';
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
