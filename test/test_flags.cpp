// Flags: samples/flags.hpp parses as Go's flag package does (every syntax
// form, bools, "--", help, Go's error messages and exit statuses), checked
// in process and on a real sample (tracker) run as a child process.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flags.hpp"

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

namespace {

// A set with one flag of each kind, and the variables it writes.
struct demo {
    long n = 3;
    int small = 0;
    std::string name = "x";
    bool verbose = false;
    nanoseconds wait = 1500ms, period = 1s, any = 0s;
    flags::set fs{"demo: one flag of each kind"};

    demo() {
        fs.int_var("n", n, "a number");
        fs.int_var("small", small, "an int");
        fs.string_var("name", name, "a name");
        fs.bool_var("v", verbose, "verbose");
        fs.duration_var("wait", wait, "how long to wait", flags::range::non_negative);
        fs.duration_var("period", period, "a `period`", flags::range::positive);
        fs.duration_var("any", any, "any duration");
    }
};

std::string error_of(const std::vector<std::string>& args) {
    demo d;
    flags::outcome o = d.fs.parse(args);
    CHECK(o.what == flags::outcome::kind::error);
    return o.error;
}

struct run_result {
    int status = -1;
    std::string out, err;
};

std::string read_all(int fd) {
    std::string s;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        s.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return s;
}

// Runs the tracker sample with `args`: its exit status, stdout and stderr.
run_result run_tracker(std::vector<std::string> args) {
    const char* exe = std::getenv("RINGO_TRACKER");
    REQUIRE_MESSAGE(exe != nullptr, "RINGO_TRACKER must name the tracker sample (meson sets it)");
    args.insert(args.begin(), exe);
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2], err[2];
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(err) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::close(out[0]);
        ::close(out[1]);
        ::close(err[0]);
        ::close(err[1]);
        ::alarm(60);  // never hang the test
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    run_result r;
    r.out = read_all(out[0]);  // small outputs: a pipe holds all of stderr meanwhile
    r.err = read_all(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("flags") {

TEST_CASE("-name value, -name=value, --name value and --name=value all set the flag") {
    for (std::vector<std::string> args : {std::vector<std::string>{"-n", "7"}, {"-n=7"}, {"--n", "7"}, {"--n=7"}}) {
        CAPTURE(args.front());
        demo d;
        flags::outcome o = d.fs.parse(args);
        CHECK(o.what == flags::outcome::kind::ok);
        CHECK(d.n == 7);
        CHECK(o.args.empty());
    }
    demo d;
    flags::outcome o = d.fs.parse({"-name", "-y", "--wait=1h30m", "-period", "250ms", "-small=-2", "-any", "-1s"});
    REQUIRE(o.what == flags::outcome::kind::ok);
    CHECK(d.name == "-y");  // a value that looks like a flag is still the value
    CHECK(d.wait == 90min);
    CHECK(d.period == 250ms);
    CHECK(d.small == -2);
    CHECK(d.any == -1s);  // range::any takes negative durations
    CHECK(d.n == 3);      // untouched: keeps its default
}

TEST_CASE("-name= sets an empty value, and the last of repeated flags wins") {
    demo d;
    REQUIRE(d.fs.parse({"-name=", "-n", "1", "-n=2"}).what == flags::outcome::kind::ok);
    CHECK(d.name.empty());
    CHECK(d.n == 2);
}

TEST_CASE("a bool is -v or -v=value and never takes the next argument") {
    {
        demo d;
        REQUIRE(d.fs.parse({"-v"}).what == flags::outcome::kind::ok);
        CHECK(d.verbose);
    }
    {
        demo d;
        d.verbose = true;
        REQUIRE(d.fs.parse({"--v=false"}).what == flags::outcome::kind::ok);
        CHECK_FALSE(d.verbose);
    }
    for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"}) {
        demo d;
        REQUIRE(d.fs.parse({std::string("-v=") + yes}).what == flags::outcome::kind::ok);
        CHECK(d.verbose);
    }
    for (const char* no : {"0", "f", "F", "FALSE", "false", "False"}) {
        demo d;
        d.verbose = true;
        REQUIRE(d.fs.parse({std::string("-v=") + no}).what == flags::outcome::kind::ok);
        CHECK_FALSE(d.verbose);
    }
    demo d;
    flags::outcome o = d.fs.parse({"-v", "false", "-n", "9"});
    REQUIRE(o.what == flags::outcome::kind::ok);
    CHECK(d.verbose);  // "false" is the first argument, not the bool's value
    CHECK(o.args == std::vector<std::string>{"false", "-n", "9"});
    CHECK(d.n == 3);   // flags end at the first argument
}

TEST_CASE("-- ends the flags, and so does the first argument that is not one") {
    demo d;
    flags::outcome o = d.fs.parse({"-n", "1", "--", "-n", "2"});
    REQUIRE(o.what == flags::outcome::kind::ok);
    CHECK(d.n == 1);
    CHECK(o.args == std::vector<std::string>{"-n", "2"});
    o = d.fs.parse({"file", "-n", "5"});
    CHECK(d.n == 1);
    CHECK(o.args == std::vector<std::string>{"file", "-n", "5"});
    o = d.fs.parse({"-"});  // a lone "-" is an argument, as in Go
    CHECK(o.args == std::vector<std::string>{"-"});
}

TEST_CASE("integers: Go's base prefixes, and parse and range errors") {
    demo d;
    REQUIRE(d.fs.parse({"-n=0x10", "-small", "010"}).what == flags::outcome::kind::ok);
    CHECK(d.n == 16);
    CHECK(d.small == 8);  // a leading 0 is octal, as strconv.ParseInt(s, 0, 64)
    REQUIRE(d.fs.parse({"-n=-0b101", "-small=+0o17"}).what == flags::outcome::kind::ok);
    CHECK(d.n == -5);
    CHECK(d.small == 15);
    REQUIRE(d.fs.parse({"-n=-9223372036854775808"}).what == flags::outcome::kind::ok);
    CHECK(d.n == std::numeric_limits<long>::min());
    CHECK(error_of({"-n", "x"}) == R"(invalid value "x" for flag -n: parse error)");
    CHECK(error_of({"-n", "1.5"}) == R"(invalid value "1.5" for flag -n: parse error)");
    CHECK(error_of({"-n", ""}) == R"(invalid value "" for flag -n: parse error)");
    CHECK(error_of({"-n", "08"}) == R"(invalid value "08" for flag -n: parse error)");
    CHECK(error_of({"-n", "0x"}) == R"(invalid value "0x" for flag -n: parse error)");
    CHECK(error_of({"-n", "--1"}) == R"(invalid value "--1" for flag -n: parse error)");
    CHECK(error_of({"-n=9223372036854775808"}) == R"(invalid value "9223372036854775808" for flag -n: value out of range)");
    CHECK(error_of({"-small=3000000000"}) == R"(invalid value "3000000000" for flag -small: value out of range)");
}

TEST_CASE("errors carry Go's messages and name the flag") {
    CHECK(error_of({"-nope"}) == "flag provided but not defined: -nope");
    CHECK(error_of({"--nope=1"}) == "flag provided but not defined: -nope");
    CHECK(error_of({"-n"}) == "flag needs an argument: -n");
    CHECK(error_of({"-v=maybe"}) == R"(invalid boolean value "maybe" for -v: parse error)");
    CHECK(error_of({"-wait", "1x"}) == R"(invalid value "1x" for flag -wait: time: unknown unit "x" in duration "1x")");
    CHECK(error_of({"-wait=1"}) == R"(invalid value "1" for flag -wait: time: missing unit in duration "1")");
    CHECK(error_of({"-wait=-1ms"}) == R"(invalid value "-1ms" for flag -wait: must not be negative)");
    CHECK(error_of({"-period=0s"}) == R"(invalid value "0s" for flag -period: must be positive)");
    CHECK(error_of({"-period=-1h"}) == R"(invalid value "-1h" for flag -period: must be positive)");
    CHECK(error_of({"---n"}) == "bad flag syntax: ---n");
    CHECK(error_of({"-=1"}) == "bad flag syntax: -=1");
    CHECK(error_of({"-n", "1", "-x\"y"}) == "flag provided but not defined: -x\"y");
    demo d;
    REQUIRE(d.fs.parse({"-wait=0s", "-any=-2s"}).what == flags::outcome::kind::ok);  // zero is not negative
    CHECK(d.wait == 0s);
}

TEST_CASE("a flag keeps its value when its text is refused") {
    demo d;
    CHECK(d.fs.parse({"-wait=-1s"}).what == flags::outcome::kind::error);
    CHECK(d.wait == 1500ms);
    CHECK(d.fs.parse({"-n=x"}).what == flags::outcome::kind::error);
    CHECK(d.n == 3);
}

TEST_CASE("-h, -help, --h and --help ask for the usage, unless a flag has that name") {
    for (const char* h : {"-h", "-help", "--h", "--help"}) {
        CAPTURE(h);
        demo d;
        CHECK(d.fs.parse({"-n=1", h, "-nope"}).what == flags::outcome::kind::help);
    }
    bool h = false;
    flags::set fs;
    fs.bool_var("h", h, "a flag named h");
    CHECK(fs.parse({"-h"}).what == flags::outcome::kind::ok);
    CHECK(h);
}

TEST_CASE("the usage is Go's PrintDefaults format, sorted, with defaults that are not zero") {
    demo d;
    CHECK(d.fs.usage("demo") ==
          "Usage of demo:\n"
          "  -any duration\n"
          "    \tany duration\n"
          "  -n int\n"
          "    \ta number (default 3)\n"
          "  -name string\n"
          "    \ta name (default \"x\")\n"
          "  -period period\n"
          "    \ta period (default 1s)\n"
          "  -small int\n"
          "    \tan int\n"
          "  -v\tverbose\n"
          "  -wait duration\n"
          "    \thow long to wait (default 1.5s)\n"
          "\n"
          "demo: one flag of each kind\n");
    bool on = true;
    nanoseconds idle = 2min;
    flags::set fs;
    fs.bool_var("verbose", on, "two\nlines");
    fs.duration_var("idle", idle, "idle");
    CHECK(fs.usage("p") ==
          "Usage of p:\n"
          "  -idle duration\n"
          "    \tidle (default 2m0s)\n"
          "  -verbose\n"
          "    \ttwo\n"
          "    \tlines (default true)\n");
}

TEST_CASE("parse_or_exit's ending: help exits 0 with the usage on stdout, errors exit 2 naming the program") {
    {
        demo d;
        const char* argv[] = {"/some/dir/demo", "--help"};
        std::optional<flags::ending> e = d.fs.ending_for(2, argv);
        REQUIRE(e.has_value());
        CHECK(e->status == 0);
        CHECK(e->out == d.fs.usage("demo"));
        CHECK(e->err.empty());
    }
    {
        demo d;
        const char* argv[] = {"./demo", "-wait", "1x"};
        std::optional<flags::ending> e = d.fs.ending_for(3, argv);
        REQUIRE(e.has_value());
        CHECK(e->status == 2);
        CHECK(e->out.empty());
        CHECK(e->err == "demo: invalid value \"1x\" for flag -wait: time: unknown unit \"x\" in duration \"1x\"\n" +
                            d.fs.usage("demo"));
    }
    {
        demo d;
        const char* argv[] = {"demo", "-n", "4", "extra"};
        std::optional<flags::ending> e = d.fs.ending_for(4, argv);
        REQUIRE(e.has_value());
        CHECK(e->status == 2);
        CHECK(starts_with(e->err, "demo: unexpected argument \"extra\""));
    }
    {
        demo d;
        const char* argv[] = {"demo", "-n=4", "--", "-v"};
        CHECK(d.fs.ending_for(3, argv) == std::nullopt);  // "--" alone: nothing after it
        CHECK(d.n == 4);
        CHECK(d.fs.ending_for(4, argv).has_value());      // "-v" after "--" is an argument
        CHECK_FALSE(d.verbose);
    }
}

TEST_CASE("a flag name is defined once, without '-' or '='") {
    long a = 0, b = 0;
    flags::set fs;
    fs.int_var("a", a, "");
    CHECK_THROWS_AS(fs.int_var("a", b, ""), std::invalid_argument);
    CHECK_THROWS_AS(fs.int_var("-b", b, ""), std::invalid_argument);
    CHECK_THROWS_AS(fs.int_var("b=c", b, ""), std::invalid_argument);
    CHECK_THROWS_AS(fs.int_var("", b, ""), std::invalid_argument);
}

TEST_CASE("the tracker sample: -h, -name=value, and an unknown or a bad flag") {
    run_result help = run_tracker({"-h"});
    CHECK(help.status == 0);
    CHECK(starts_with(help.out, "Usage of tracker:\n"));
    CHECK(contains(help.out, "  -work duration\n    \ttime to handle one event (default 2ms)\n"));
    CHECK(help.err.empty());

    run_result ok = run_tracker({"-events=3", "--work=1ms", "-producers", "2", "--deadline", "1m"});
    CHECK_MESSAGE(ok.status == 0, ok.err);
    CHECK_MESSAGE(contains(ok.out, "events: 3 sent, 3 handled"), ok.out);

    run_result unknown = run_tracker({"-events=3", "-nope"});
    CHECK(unknown.status == 2);
    CHECK(starts_with(unknown.err, "tracker: flag provided but not defined: -nope\nUsage of tracker:\n"));
    CHECK(unknown.out.empty());

    run_result bad = run_tracker({"--work", "-5ms"});
    CHECK(bad.status == 2);
    CHECK(starts_with(bad.err, "tracker: invalid value \"-5ms\" for flag -work: must not be negative\n"));
}

}  // TEST_SUITE
