// run(), go(), the task registry and dump, panics.
#include <ringo/runtime.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <ringo/detail/fastrand.hpp>

#include "runtime_impl.hpp"
#include "this_thread.hpp"

namespace ringo::detail {

namespace {

std::mutex panic_mu;
std::function<void(std::exception_ptr, const task_info&)> panic_handler;  // guarded by panic_mu

unsigned threads_from(const runtime_options& opts) {
    if (opts.threads != 0)
        return opts.threads;
    if (const char* env = std::getenv("RINGO_THREADS")) {
        long n = std::strtol(env, nullptr, 10);
        if (n > 0)
            return static_cast<unsigned>(n);
    }
    return 1;
}

// opts.backend, or RINGO_BACKEND (auto|io_uring|epoll) when that is automatic.
backend_kind backend_from(const runtime_options& opts) {
    if (opts.backend != backend_kind::automatic)
        return opts.backend;
    const char* env = std::getenv("RINGO_BACKEND");
    if (env == nullptr || *env == '\0')
        return backend_kind::automatic;
    std::string_view v = env;
    if (v == "auto")
        return backend_kind::automatic;
    if (v == "io_uring")
        return backend_kind::io_uring;
    if (v == "epoll")
        return backend_kind::epoll;
    throw backend_unavailable(EINVAL, "ringo: RINGO_BACKEND=" + std::string(v) + " is not a backend: use auto, io_uring or epoll");
}

// "../samples/x.cpp" as the build saw it -> "samples/x.cpp".
std::string_view short_path(const char* file) {
    std::string_view f = file;
    while (f.starts_with("../"))
        f.remove_prefix(3);
    return f;
}

void append_site(std::string& out, const std::source_location& site) {
    if (site.file_name() == nullptr || *site.file_name() == '\0') {
        out += '-';
        return;
    }
    out += short_path(site.file_name());
    out += ':';
    out += std::to_string(site.line());
}

std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception (not derived from std::exception)";
    }
}

}  // namespace

const char* to_string(task_state s) noexcept {
    switch (s) {
    case task_state::runnable: return "runnable";
    case task_state::running: return "running";
    case task_state::chan_send: return "chan send";
    case task_state::chan_receive: return "chan receive";
    case task_state::select: return "select";
    case task_state::sleep: return "sleep";
    case task_state::io: return "IO wait";
    case task_state::mutex: return "sync.Mutex.Lock";
    case task_state::rw_mutex_lock: return "sync.RWMutex.Lock";
    case task_state::rw_mutex_rlock: return "sync.RWMutex.RLock";
    case task_state::wait_group: return "sync.WaitGroup.Wait";
    case task_state::semaphore: return "semaphore acquire";
    case task_state::cond: return "sync.Cond.Wait";
    case task_state::once: return "sync.Once.Do";
    case task_state::singleflight: return "singleflight wait";
    case task_state::errgroup: return "errgroup wait";
    case task_state::blocking: return "blocking call";
    case task_state::signal: return "signal wait";
    }
    return "?";
}

namespace {

std::uint64_t fastrand_seed() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    std::uint64_t s = t ^ (counter.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed) +
                           reinterpret_cast<std::uintptr_t>(&counter));
    return s != 0 ? s : 1;
}

thread_local constinit std::uint64_t fastrand_state = 0;  // 0: not seeded yet

}  // namespace

std::uint64_t fastrand() noexcept {  // wyrand
    if (fastrand_state == 0) [[unlikely]]
        fastrand_state = fastrand_seed();
    fastrand_state += 0xa0761d6478bd642fULL;
    __uint128_t m = static_cast<__uint128_t>(fastrand_state) * (fastrand_state ^ 0xe7037ed1a0b428dbULL);
    return static_cast<std::uint64_t>(m >> 64) ^ static_cast<std::uint64_t>(m);
}

[[noreturn]] void outside_run(const char* what) {
    throw panic_error(std::string(what) + " called outside ringo::run (no ringo task is running on this thread)");
}

runtime::runtime(const runtime_options& opts) {
    pthread_sigmask(SIG_BLOCK, nullptr, &caller_mask_);
    unsigned threads = threads_from(opts);
    unsigned entries = opts.ring_entries == 0 ? 256 : opts.ring_entries;
    // The first executor decides; the others take the same backend.
    executors_.push_back(std::make_unique<executor>(*this, 0, entries, backend_from(opts)));
    backend_ = executors_.front()->backend();
    executors_.resize(threads);
    for (unsigned i = 1; i < threads; ++i)
        threads_.emplace_back(&runtime::thread_main, this, i, entries);
    std::unique_lock lock(phase_mu_);
    phase_cv_.wait(lock, [&] { return ready_ == threads - 1; });
    if (!start_error_ && threads > 1)
        for (auto& e : executors_)
            e->share();
    if (start_error_) {  // an executor could not start: stop the others, report
        phase_ = 2;
        stopping_ = true;
        phase_cv_.notify_all();
        lock.unlock();
        for (auto& t : threads_)
            t.join();
        std::rethrow_exception(start_error_);
    }
    install_signal_forwarding(*this);
}

runtime::~runtime() {
    uninstall_signal_forwarding(*this);  // first: the handler must not write to a closed eventfd
    executors_.clear();  // then the executors: their rings still reference the hub's read
    signals_.reset();    // restores the watched signals' actions
}

void runtime::thread_main(unsigned index, unsigned ring_entries) {
    // Asynchronous signals are for executor 0 (the hub, SIGQUIT) or the
    // program's own threads: blocked here from the start, so a watched
    // signal never takes its default action on this thread. Faults stay
    // deliverable (sanitizers and crash reports need them).
    sigset_t async;
    sigfillset(&async);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
        sigdelset(&async, fault);
    pthread_sigmask(SIG_BLOCK, &async, nullptr);
    executor* ex = nullptr;
    try {
        executors_[index] = std::make_unique<executor>(*this, index, ring_entries, backend_);
        ex = executors_[index].get();
    } catch (...) {
        std::lock_guard lock(phase_mu_);
        start_error_ = std::current_exception();
    }
    {
        std::unique_lock lock(phase_mu_);
        ++ready_;
        phase_cv_.notify_all();
        phase_cv_.wait(lock, [&] { return phase_ >= 1; });
        if (ex == nullptr || phase_ >= 2)
            return;
    }
    this_executor = ex;
    ex->run_until(nullptr);
    ex->drain_ring();
    std::unique_lock lock(phase_mu_);
    ++drained_;
    phase_cv_.notify_all();
    phase_cv_.wait(lock, [&] { return phase_ >= 2; });
    this_executor = nullptr;
}

void runtime::offer_work(executor& from) noexcept {
    // After the push (a relaxed store under the queue lock): pairs with the
    // sleeping_ store an idle executor makes before its last look at the
    // queues (executor_loop::wait), so one of the two sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (auto& e : executors_)
        if (e.get() != &from && e->asleep()) {
            e->notify();
            return;
        }
}

void runtime::stop() noexcept {
    stopping_.store(true, std::memory_order_seq_cst);
    for (auto& e : executors_)
        e->notify();
}

bool runtime::enter_quiescent() noexcept {
    std::uint64_t before = activity_.load(std::memory_order_seq_cst);
    int q = quiescent_.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (q < static_cast<int>(executors_.size()))
        return false;
    for (auto& e : executors_)
        if (e->has_posted() || e->pending_blocking_.load(std::memory_order_seq_cst) != 0)
            return false;  // a wake-up is in flight: whoever it is for will leave quiescence
    if (activity_.load(std::memory_order_seq_cst) != before)
        return false;  // someone woke up during the scan: its work may not show in it
    deadlocked_.store(true, std::memory_order_seq_cst);
    stop();
    return true;
}

bool runtime::run(root main, const bool& main_done, const std::source_location& site, std::string& report) {
    executor& ex0 = main_executor();
    spawn_pinned(ex0, std::move(main), site);  // main stays on executor 0: run_until watches main_done there
    {
        std::lock_guard lock(phase_mu_);
        phase_ = 1;
        phase_cv_.notify_all();
    }
    ex0.run_until(&main_done);
    stop();
    bool finished = !deadlocked();
    if (!finished)
        report = dump_tasks();
    ex0.drain_ring();
    {
        std::unique_lock lock(phase_mu_);
        phase_cv_.wait(lock, [&] { return drained_ == threads_.size(); });
    }
    // Nothing runs anywhere now, and no ring has an operation in flight.
    tearing_down_.store(true, std::memory_order_relaxed);
    for (auto& e : executors_)
        e->destroy_tasks();
    for (auto& e : executors_)
        e->detach_timers();
    runtimes_ended.fetch_add(1, std::memory_order_acq_rel);  // every timer's home_ is stale now
    {
        std::lock_guard lock(phase_mu_);
        phase_ = 2;
        phase_cv_.notify_all();
    }
    for (auto& t : threads_)
        t.join();
    return finished;
}

root_promise::~root_promise() {
    if (executor* home = g.where())  // null: never spawned
        home->remove_task(&g);
}

namespace {

// Takes the root's frame and fills in its task record for home ex.
goroutine& adopt(executor& ex, root r, const std::source_location& site) {
    root_handle h = r.release();
    goroutine& g = h.promise().g;
    g.home.store(&ex, std::memory_order_relaxed);
    executor* here = this_executor;
    g.id = here != nullptr && &here->rt() == &ex.rt() ? here->new_task_id() : ex.rt().take_task_ids(1);
    g.spawn_site = site;
    g.root_frame = h;
    g.resume_point = h;
    return g;
}

}  // namespace

void spawn(root r, const std::source_location& site) {
    executor* here = this_executor;
    if (here == nullptr)
        outside_run("ringo::go");
    spawn_on(*here, std::move(r), site);  // Go's newproc: the current P's run-next slot
    if (here->shared())
        here->rt().offer_work(*here);  // and wakep: an idle executor may take it
}

void spawn_on(executor& ex, root r, const std::source_location& site) {
    goroutine& g = adopt(ex, std::move(r), site);
    ex.add_task(&g);  // counted from the moment go() returns, as Go counts at newproc
    ex.ready(&g);     // like Go's newproc: the new task runs next
}

unsigned executor_count() {
    executor* here = this_executor;
    if (here == nullptr)
        outside_run("ringo::detail::executor_count");
    return here->rt().executors();
}

executor& executor_at(unsigned i) {
    executor* here = this_executor;
    if (here == nullptr)
        outside_run("ringo::detail::executor_at");
    return here->rt().executor_at_index(i % here->rt().executors());
}

void spawn_pinned(executor& ex, root r, const std::source_location& site) {
    goroutine& g = adopt(ex, std::move(r), site);
    g.pinned = 1;  // for life: never moves (before it is queued: thieves read it then)
    ex.add_task(&g);
    ex.ready(&g);
}

namespace {

// Go's report of a panic in task g: the message, the task and where it was
// created, then every task.
std::string panic_report(const goroutine& g, const std::exception_ptr& e, const char* created_by) {
    std::string msg = "panic: " + describe(e) + "\n\ntask " + std::to_string(g.id) + " [running], created by ";
    msg += created_by;
    msg += " at ";
    append_site(msg, g.spawn_site);
    msg += "\n\n";
    msg += dump_tasks();
    return msg;
}

void print(const std::string& msg) noexcept {
    std::fputs(msg.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace

void on_panic(goroutine& g, std::exception_ptr e) noexcept {
    std::function<void(std::exception_ptr, const task_info&)> handler;
    {
        std::lock_guard lock(panic_mu);
        handler = panic_handler;
    }
    if (handler) {
        handler(e, task_info{g.id, g.spawn_site});
        return;
    }
    print(panic_report(g, e, "go"));
    std::_Exit(2);
}

void report_main_panic(std::exception_ptr e) noexcept {
    if (const goroutine* g = this_goroutine)
        print(panic_report(*g, e, "run_main"));
}

void run_root(root main, main_result_base& out, const runtime_options& opts, const std::source_location& site) {
    if (this_executor != nullptr)
        throw panic_error("ringo::run called inside a running ringo::run (run is not reentrant; use go)");
    runtime rt(opts);
    this_executor = &rt.main_executor();
    struct reset_tls {
        ~reset_tls() {
            this_executor = nullptr;
            this_goroutine = nullptr;
        }
    } reset;
    std::string dump;
    if (!rt.run(std::move(main), out.done, site, dump))
        throw deadlock_error(std::string(deadlock_header) + "\n\n" + dump);
}

int run_root_go(root main, main_result_base& out, const runtime_options& opts, const std::source_location& site) {
    try {
        run_root(std::move(main), out, opts, site);
    } catch (const deadlock_error& e) {
        std::string_view what = e.what();
        what.remove_prefix(std::min(what.size(), std::string_view(deadlock_header).size()));
        print("fatal error: all goroutines are asleep - deadlock!" + std::string(what));
        return 2;
    } catch (const backend_unavailable& e) {
        print(std::string(e.what()) + "\n");
        return 1;
    }
    return out.failed ? 2 : 0;  // main's panic was reported while its tasks were alive
}

}  // namespace ringo::detail

namespace ringo {

namespace {

// Holds every executor's registry lock, taken in index order (the order
// executor::adopt_tasks takes two in), so that a task a thief is moving
// between registries is seen exactly once.
class all_registries_locked {
public:
    explicit all_registries_locked(const detail::runtime& rt) : rt_(rt) {
        rt_.for_each_executor([](const detail::executor& e) { e.lock_registry(); });
    }
    ~all_registries_locked() {
        rt_.for_each_executor([](const detail::executor& e) { e.unlock_registry(); });
    }
    all_registries_locked(const all_registries_locked&) = delete;
    all_registries_locked& operator=(const all_registries_locked&) = delete;

private:
    const detail::runtime& rt_;
};

}  // namespace

std::size_t num_tasks() {
    detail::executor* ex = detail::this_executor;
    if (ex == nullptr)
        return 0;
    std::size_t n = 0;
    all_registries_locked lock(ex->rt());
    ex->rt().for_each_executor([&](const detail::executor& e) { n += e.live_tasks(); });
    return n;
}

backend_kind current_backend() noexcept {
    detail::executor* ex = detail::this_executor;
    return ex == nullptr ? backend_kind::automatic : ex->rt().backend();
}

namespace {

const char* to_string(backend_kind b) noexcept {
    switch (b) {
    case backend_kind::automatic: return "auto";
    case backend_kind::io_uring: return "io_uring";
    case backend_kind::epoll: return "epoll";
    }
    return "?";
}

}  // namespace

std::string dump_tasks() {
    detail::executor* ex = detail::this_executor;
    if (ex == nullptr)
        return {};
    std::vector<const detail::goroutine*> tasks;
    unsigned executors = 0;
    ex->rt().for_each_executor([&](const detail::executor&) { ++executors; });
    {
        all_registries_locked lock(ex->rt());
        ex->rt().for_each_executor([&](const detail::executor& e) {
            e.for_each_task_locked([&](const detail::goroutine& g) { tasks.push_back(&g); });
        });
    }
    std::sort(tasks.begin(), tasks.end(), [](auto* a, auto* b) { return a->id < b->id; });
    std::string out = "runtime: ";  // the header: the backend and the executors
    out += to_string(ex->rt().backend());
    out += " backend, ";
    out += std::to_string(executors);
    out += executors == 1 ? " executor\n" : " executors\n";
    for (const detail::goroutine* g : tasks) {
        out += "task ";
        out += std::to_string(g->id);
        out += " [";
        detail::task_state state = g->state;
        std::source_location await_site = g->await_site;
        out += detail::to_string(g == detail::this_goroutine ? detail::task_state::running : state);
        out += "] ";
        detail::append_site(out, state == detail::task_state::runnable && await_site.line() == 0 ? g->spawn_site
                                                                                                   : await_site);
        out += " (go at ";
        detail::append_site(out, g->spawn_site);
        out += ")";
        if (executors > 1) {
            out += " on executor ";
            out += std::to_string(g->where()->index());
        }
        out += "\n";
    }
    return out;
}

void set_panic_handler(std::function<void(std::exception_ptr, const task_info&)> h) {
    std::lock_guard lock(detail::panic_mu);
    detail::panic_handler = std::move(h);
}

}  // namespace ringo
