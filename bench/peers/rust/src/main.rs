//! rust-bench: the Rust version of the workloads of bench/WORKLOADS.md.
//!
//!     rust-bench [--repeat N] [--flavor F] [WORKLOAD...]  (no workload: all F has)
//!     rust-bench [--flavor F] --list                      (NAME UNIT of each)
//!
//! Prints "NAME VALUE UNIT" lines as ringo-bench and go-bench do, VALUE the
//! median of N runs, nothing else on stdout. Every run gets a new tokio
//! runtime: current_thread, or multi_thread with 2 workers for the
//! workloads whose name ends in _t2 (rt.rs). Flavors (F):
//!   tokio          (default) tokio::sync::mpsc and every other workload
//!   flume          flume's async API on tokio, channel workloads only
//!                  (pingpong, spsc, mpmc, select4 and their _t2 versions)
//!   async-channel  async-channel on tokio, the same channel workloads
//!   crossbeam      crossbeam-channel between OS threads, blocking; channel
//!                  workloads without _t2 (the threads use every core)
//! pingpong_roundtrip_t2 is left out, as go-bench leaves it out: tokio
//! cannot place a task on a given worker, and two current_thread runtimes
//! on two threads (the way to pin one) park between messages, a futex or
//! eventfd wake-up each way: 7-40 us a round trip here, 1,000,000 of them
//! up to 40 s.

mod chan;
mod channels;
mod compute;
mod crossbeam;
mod locks;
mod memory;
mod rt;
mod tasks;
mod timers;
mod wait_group;

use chan::{AsyncChan, AsyncChannel, Flume, Tokio};
use rt::{current, two};

struct Workload {
    name: &'static str,
    unit: &'static str,
    body: Box<dyn Fn() -> f64>,
}

fn w(name: &'static str, unit: &'static str, body: impl Fn() -> f64 + 'static) -> Workload {
    Workload { name, unit, body: Box::new(body) }
}

/// The channel workloads of a flavor on tokio, in go-bench's order: the
/// single-thread ones, then the _t2 ones.
fn channel_workloads<C: AsyncChan>() -> (Vec<Workload>, Vec<Workload>) {
    let one = vec![
        w("pingpong_roundtrip", "ns/roundtrip", || current(channels::pingpong::<C>())),
        w("spsc_cap128", "ns/msg", || current(channels::spsc::<C>())),
        w("mpmc_4x4_cap64", "ns/msg", || current(channels::mpmc::<C>())),
        w("select4_recv", "ns/select", || current(channels::select4::<C>())),
    ];
    let t2 = vec![
        w("pingpong_spawned_t2", "ns/roundtrip", || two(channels::pingpong::<C>())),
        w("mpmc_4x4_cap64_t2", "ns/msg", || two(channels::mpmc::<C>())),
        w("select4_recv_t2", "ns/select", || two(channels::select4::<C>())),
    ];
    (one, t2)
}

fn workloads(flavor: &str) -> Option<Vec<Workload>> {
    let list = match flavor {
        "tokio" => {
            let (mut one, t2) = channel_workloads::<Tokio>();
            one.extend([
                w("spawn_join", "ns/task", || current(tasks::spawn_join())),
                w("spawn_join_10k", "ns/task", || current(tasks::spawn_join_10k())),
                w("idle_tasks_1m", "bytes/task", || current(memory::idle_tasks())),
                w("select_with_after", "ns/op", || current(timers::select_with_after())),
                w("cancel_tree", "ns/task", || current(tasks::cancel_tree())),
                w("pending_timers_1m", "bytes/timer", || current(memory::pending_timers())),
                w("wait_group_spawn", "ns/task", || current(tasks::wait_group_spawn())),
                w("errgroup_go", "ns/task", || current(tasks::errgroup_go())),
                w("mutex_uncontended", "ns/lock", || current(locks::uncontended())),
                w("mutex_contended_4", "ns/lock", || current(locks::contended())),
                w("sleep_many_wall", "ns/task", || current(timers::sleep_many())),
                w("timer_lateness_p50", "ns/late", || current(timers::lateness(0.50))),
                w("timer_lateness_p99", "ns/late", || current(timers::lateness(0.99))),
                w("cpu_fanout", "ns/task", || current(tasks::cpu_fanout())),
            ]);
            one.extend(t2);
            one.extend([
                w("spawn_join_t2", "ns/task", || two(tasks::spawn_join())),
                w("cpu_fanout_t2", "ns/task", || two(tasks::cpu_fanout())),
                w("hol_latency_t2", "ns/burst", || two(tasks::hol_latency())),
            ]);
            one
        }
        "flume" => {
            let (mut one, t2) = channel_workloads::<Flume>();
            one.extend(t2);
            one
        }
        "async-channel" => {
            let (mut one, t2) = channel_workloads::<AsyncChannel>();
            one.extend(t2);
            one
        }
        "crossbeam" => vec![
            w("pingpong_roundtrip", "ns/roundtrip", crossbeam::pingpong),
            w("spsc_cap128", "ns/msg", crossbeam::spsc),
            w("mpmc_4x4_cap64", "ns/msg", crossbeam::mpmc),
            w("select4_recv", "ns/select", crossbeam::select4),
        ],
        _ => return None,
    };
    Some(list)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn fail(msg: String) -> ! {
    eprintln!("rust-bench: {msg}");
    std::process::exit(2);
}

const USAGE: &str = "usage: rust-bench [--repeat N] [--flavor F] [WORKLOAD...] | [--flavor F] --list";

/// The value of an option given as `--opt VALUE` or `--opt=VALUE`.
fn option_value(args: &[String], i: &mut usize, opt: &str) -> Option<String> {
    let arg = &args[*i];
    if arg == opt {
        *i += 1;
        match args.get(*i) {
            Some(v) => Some(v.clone()),
            None => fail(format!("{opt} needs a value")),
        }
    } else {
        arg.strip_prefix(opt).and_then(|rest| rest.strip_prefix('=')).map(str::to_owned)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = 1usize;
    let mut flavor = "tokio".to_owned();
    let mut list = false;
    let mut wanted = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].clone();
        if arg == "--list" {
            list = true;
        } else if let Some(value) = option_value(&args, &mut i, "--repeat") {
            repeat = match value.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => fail(format!("--repeat wants a count from 1 to 1000, not {value:?}")),
            };
        } else if let Some(value) = option_value(&args, &mut i, "--flavor") {
            flavor = value;
        } else if arg.starts_with('-') {
            fail(format!("unknown option {arg:?} ({USAGE})"));
        } else {
            wanted.push(arg);
        }
        i += 1;
    }
    let all = workloads(&flavor).unwrap_or_else(|| {
        fail(format!("unknown flavor {flavor:?} (tokio, flume, async-channel, crossbeam)"))
    });
    if list {
        for w in &all {
            println!("{} {}", w.name, w.unit);
        }
        return;
    }
    let mut chosen: Vec<&Workload> = all.iter().collect();
    if !wanted.is_empty() {
        chosen = wanted
            .iter()
            .map(|name| {
                all.iter().find(|w| w.name == name).unwrap_or_else(|| {
                    fail(format!("unknown workload {name:?} for flavor {flavor} (--list lists them)"))
                })
            })
            .collect();
    }
    for w in chosen {
        let values: Vec<f64> = (0..repeat).map(|_| (w.body)()).collect();
        println!("{} {:.1} {}", w.name, median(values), w.unit);
    }
}
