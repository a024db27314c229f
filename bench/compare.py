#!/usr/bin/env python3
"""Run ringo-bench and the peer programs of bench/peers/ side by side.

    bench/compare.py --ringo PATH [--out DIR] [--repeat N] [--peers a,b] [WORKLOAD...]

`./dev bench --compare` is the way to call it: it builds ringo-bench
(release) first. This script builds each peer into DIR (default
build/peers): Go with Debian's golang-go, the Rust peers with cargo offline
against /usr/share/cargo/registry, Asio with the system C++ compiler. A
peer that cannot be built, or that fails on a workload, is reported and
left out; the table shows the others.

Every program prints `NAME VALUE UNIT` lines, VALUE the median of N runs.
The workloads run one at a time, every program on the same workload before
the next workload starts, so slow drift on the machine (another build, the
host) spreads over all columns alike. Every unit is lower-is-better; "ahead
by" is the best peer's value divided by ringo's.

Output: a Markdown table on stdout (bench/RESULTS.md's "Side by side" is
pasted from it), progress on stderr.
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The workloads of a default --compare: the headline ones (WORKLOADS.md) and
# the _t2 ones the peers have too. About 4 minutes on a 2-core machine with
# --repeat 3; name workloads to run others (`ringo-bench --list`).
DEFAULT_WORKLOADS = [
    "pingpong_roundtrip", "spsc_cap128", "mpmc_4x4_cap64", "select4_recv",
    "select_with_after", "spawn_join", "spawn_join_10k", "cancel_tree", "sleep_many_wall",
    "idle_tasks_1m", "mpmc_4x4_cap64_t2", "spawn_join_t2", "hol_latency_t2",
]


class Peer:
    """One column: a program of a toolchain ("go", "rust", "asio": built
    once, shared by its flavors) run with args."""

    def __init__(self, name, label, toolchain, binary, args=()):
        self.name, self.label, self.toolchain = name, label, toolchain
        self.binary, self.args = binary, list(args)
        self.error = None      # why it is left out, once known
        self.workloads = {}    # NAME -> UNIT it implements
        self.failures = []     # (workload, message)


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


def run(cmd, cwd=ROOT, env=None, timeout=None):
    """Runs cmd; returns (ok, stdout, a short error text)."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=timeout)
    except FileNotFoundError as e:
        return False, "", f"{e.filename}: not found"
    except subprocess.TimeoutExpired:
        return False, "", f"timed out after {timeout} s"
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return False, p.stdout, f"exit {p.returncode}: " + " / ".join(tail)
    return True, p.stdout, ""


def tool_version(cmd):
    ok, out, _ = run(cmd)
    return out.strip().splitlines()[0] if ok and out.strip() else "?"


def build_go(out):
    d = os.path.join(out, "go")
    os.makedirs(d, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(d, "cache"),
               GOPATH=os.path.join(d, "gopath"), GOFLAGS="")
    ok, _, err = run(["go", "build", "-o", os.path.join(d, "go-bench"), "."],
                     cwd=os.path.join(ROOT, "bench/peers/go"), env=env)
    return None if ok else "go build: " + err


def build_rust(out):
    # From its own directory: cargo reads .cargo/config.toml (Debian's crates,
    # offline) only from the current directory and its parents.
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    ok, _, err = run([cargo, "build", "--release", "--offline", "--quiet",
                      "--target-dir", os.path.join(out, "rust")],
                     cwd=os.path.join(ROOT, "bench/peers/rust"))
    return None if ok else "cargo build: " + err


def build_asio(out):
    d = os.path.join(out, "asio")
    os.makedirs(d, exist_ok=True)
    cxx = os.environ.get("CXX", "c++")
    ok, _, err = run([cxx, "-std=c++20", "-O3", "-DNDEBUG", "-o",
                      os.path.join(d, "asio-bench"),
                      "bench/peers/asio/main.cpp", "-pthread"])
    return None if ok else "asio build: " + err


BUILDERS = {"go": build_go, "rust": build_rust, "asio": build_asio}


def peers(out):
    rust = os.path.join(out, "rust/release/rust-bench")
    return [
        Peer("go", "Go", "go", os.path.join(out, "go/go-bench")),
        Peer("tokio", "tokio", "rust", rust, ["--flavor", "tokio"]),
        Peer("flume", "flume", "rust", rust, ["--flavor", "flume"]),
        Peer("async-channel", "async-channel", "rust", rust,
             ["--flavor", "async-channel"]),
        Peer("crossbeam", "crossbeam (threads)", "rust", rust,
             ["--flavor", "crossbeam"]),
        Peer("asio", "Asio", "asio", os.path.join(out, "asio/asio-bench")),
    ]


def listing(text):
    """{NAME: UNIT} from `--list` output."""
    return dict(line.split()[:2] for line in text.splitlines()
                if len(line.split()) >= 2)


def measure(cmd, workload):
    """The VALUE of one `NAME VALUE UNIT` line, or an error text."""
    ok, out, err = run(cmd, timeout=900)
    if not ok:
        return None, err
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == workload:
            try:
                return float(f[1]), None
            except ValueError:
                break
    return None, f"no '{workload} VALUE UNIT' line in its output"


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def versions():
    """What each column was built with: {peer name or "ringo": text}."""
    ok, rev, _ = run(["git", "describe", "--always", "--dirty"])
    ringo = (f"ringo {rev.strip()}" if ok else "ringo") + ", " + \
        tool_version([os.environ.get("CXX", "g++"), "--version"]) + ", -O3"
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    rust = tool_version([rustc, "--version"]) + \
        " with Debian's crates: tokio 1.24, flume 0.10, async-channel 1.8, crossbeam-channel 0.5"
    boost = "?"
    try:
        with open("/usr/include/boost/version.hpp") as f:
            for line in f:
                if line.startswith("#define BOOST_LIB_VERSION"):
                    boost = line.split('"')[1].replace("_", ".")
    except OSError:
        pass
    return {"ringo": ringo, "go": tool_version(["go", "version"]),
            "rust": rust, "asio": f"Boost.Asio {boost} (C++20 coroutines, experimental::channel)"}


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
            f"load average {load:.2f} at the start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ringo", required=True, help="path to ringo-bench")
    ap.add_argument("--out", default=os.path.join(ROOT, "build/peers"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peers", default="",
                    help="comma-separated subset of: go, tokio, flume, "
                         "async-channel, crossbeam, asio")
    ap.add_argument("workloads", nargs="*")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat wants a positive count")

    ok, out, err = run([a.ringo, "--list"])
    if not ok:
        sys.exit(f"compare: {a.ringo} --list: {err}")
    ringo_units = listing(out)
    wanted = a.workloads or DEFAULT_WORKLOADS
    unknown = [w for w in wanted if w not in ringo_units]
    if unknown:
        sys.exit("compare: unknown workload(s) " + ", ".join(unknown) +
                 f" (`{a.ringo} --list` lists them)")

    columns = peers(os.path.abspath(a.out))
    if a.peers:
        chosen = set(a.peers.split(","))
        bad = chosen - {p.name for p in columns}
        if bad:
            sys.exit("compare: unknown peer(s) " + ", ".join(sorted(bad)))
        columns = [p for p in columns if p.name in chosen]

    built = {}  # toolchain -> error (None: built)
    for p in columns:
        if p.toolchain not in built:
            log(f"building the {p.toolchain} peer")
            built[p.toolchain] = BUILDERS[p.toolchain](os.path.abspath(a.out))
        p.error = built[p.toolchain]
        if p.error is None:
            ok, out, err = run([p.binary] + p.args + ["--list"])
            if ok:
                p.workloads = listing(out)
            else:
                p.error = "--list: " + err
        if p.error:
            log(f"{p.label}: left out: {p.error}")
    live = [p for p in columns if p.error is None]

    started = datetime.datetime.now().astimezone()
    built_with = versions()
    rows = []
    for w in wanted:
        unit = ringo_units[w]
        log(f"{w}: ringo")
        ringo, err = measure([a.ringo, "--repeat", str(a.repeat), w], w)
        if err:
            log(f"{w}: ringo failed: {err}")
        cells = {}
        for p in live:
            if w not in p.workloads:
                continue
            log(f"{w}: {p.label}")
            v, err = measure([p.binary] + p.args + ["--repeat", str(a.repeat), w], w)
            if err:
                p.failures.append((w, err))
            cells[p.name] = v
        rows.append((w, unit, ringo, cells))

    shown = [p for p in live if any(p.name in r[3] for r in rows)]
    print(f"Measured {started:%Y-%m-%d %H:%M %Z} by `./dev bench --compare`, "
          f"medians of {a.repeat} runs; lower is better.")
    print()
    print(f"- {machine()}")
    print(f"- {built_with['ringo']}")
    for key in ("go", "rust", "asio"):
        if any(p.toolchain == key for p in shown):
            print(f"- {built_with[key]}")
    print()
    print("| workload | unit | ringo | " + " | ".join(p.label for p in shown) +
          " | best peer | ringo ahead by |")
    print("|---" * (len(shown) + 5) + "|")
    for w, unit, ringo, cells in rows:
        values = [(cells.get(p.name), p.label) for p in shown]
        present = [(v, label) for v, label in values if v is not None]
        best = min(present) if present else None
        if best and ringo:
            ratio = best[0] / ringo
            ahead = f"{ratio:.1f}x" + ("" if ratio >= 1 else " (behind)")
            best_text = f"{fmt(best[0])} ({best[1]})"
        else:
            ahead, best_text = "-", "-"
        print(f"| {w} | {unit} | {fmt(ringo)} | " +
              " | ".join(fmt(v) for v, _ in values) +
              f" | {best_text} | {ahead} |")
    notes = [f"{p.label}: not built ({p.error})" for p in columns if p.error]
    for p in live:
        notes += [f"{p.label} failed on {w}: {e}" for w, e in p.failures]
    if notes:
        print()
        for n in notes:
            print(f"- {n}")
    print()
    print("`-`: the program has no version of that workload (bench/WORKLOADS.md says why).")


if __name__ == "__main__":
    main()
