// Signals through a signalfd read on the ring (see signals.hpp).
#include <ringo/signals.hpp>

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/io_request.hpp>

#include "runtime_impl.hpp"

namespace ringo::detail {

// One per runtime. It lives on executor 0 (the thread that called run()),
// the only runtime thread that does not block every asynchronous signal
// (runtime::thread_main), so a process-directed signal that is watched is
// blocked on every runtime thread and waits, pending, for the hub's
// signalfd read on executor 0. Watches may be added and removed from any
// thread; executor 0 applies each change (its signal mask, the read) itself,
// through its mailbox.
class signal_hub : public std::enable_shared_from_this<signal_hub> {
public:
    signal_hub(executor& home, const sigset_t& home_mask)
        : home_(home), original_mask_(home_mask), owns_forwarding_(forwarding_owned_by(home.rt())) {
        sigemptyset(&watched_);
        sigemptyset(&applied_);
        reader_.hub = this;
        reader_.complete = &on_read;
        refresh_.hub = this;
        refresh_.run = &on_refresh;
    }
    ~signal_hub() {  // on executor 0's thread, after the executors are gone
        if (owns_forwarding_)
            for (int s = 1; s < NSIG && s <= 64; ++s)
                if (s != SIGQUIT && sigismember(&watched_, s) == 1)
                    ::sigaction(s, &previous_[s], nullptr);
        for (auto& r : regs_)  // watches never stopped: their channels are ours to release
            if (r.ch != nullptr)
                r.ch->release();
        if (fd_ >= 0)
            ::close(fd_);
        pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
    }

    void add(const std::vector<int>& sigs, chan_state<int>* ch, cancel_func cancel, std::uint64_t id) {
        std::lock_guard l(mu_);
        registration r{{}, ch, std::move(cancel), id};
        sigemptyset(&r.set);
        for (int s : sigs) {
            if (s <= 0 || s >= NSIG || s == SIGKILL || s == SIGSTOP)
                throw panic_error("ringo::signals: cannot watch signal " + std::to_string(s));
            sigaddset(&r.set, s);
        }
        if (ch != nullptr)
            ch->retain();
        regs_.push_back(std::move(r));
        update_locked();
    }

    template <class Pred>
    void remove_if(Pred pred) {
        std::lock_guard l(mu_);
        // A partition, not remove_if: the tail must hold the removed
        // registrations themselves (remove_if leaves moved-from copies of
        // kept ones there, and a removed channel would never be released).
        auto it = std::stable_partition(regs_.begin(), regs_.end(), [&pred](const auto& r) { return !pred(r); });
        for (auto i = it; i != regs_.end(); ++i)
            if (i->ch != nullptr)
                i->ch->release();
        regs_.erase(it, regs_.end());
        update_locked();
    }

    // A fresh watch id. Any thread.
    std::uint64_t next_id() noexcept { return ids_.fetch_add(1, std::memory_order_relaxed) + 1; }

private:
    struct registration {
        sigset_t set;
        chan_state<int>* ch;  // counted; or null for a context watch
        cancel_func cancel;
        std::uint64_t id;
    };
    struct read_op : io_op {
        signal_hub* hub = nullptr;
        signalfd_siginfo info{};
    };

    struct refresh_work : posted_work {
        signal_hub* hub = nullptr;
    };

    // Recomputes the watched set and the signalfd's mask; executor 0 then
    // blocks what is watched, and arms the read (or cancels it) itself.
    void update_locked() {
        sigset_t now;
        sigemptyset(&now);
        for (const auto& r : regs_)
            sigorset(&now, &now, &r.set);
        // Process-wide at once, from any thread: a watched signal that reaches
        // a thread not blocking it (the program's own, or executor 0 before it
        // applies the change) is forwarded to the hub, never fatal.
        if (owns_forwarding_)
            for (int s = 1; s < NSIG && s <= 64; ++s) {
                bool was = sigismember(&watched_, s) == 1, is = sigismember(&now, s) == 1;
                if (s == SIGQUIT || was == is)
                    continue;  // SIGQUIT is forwarded for the whole run (Go's dump)
                if (is)
                    forward_signal(s, &previous_[s]);
                else
                    ::sigaction(s, &previous_[s], nullptr);
            }
        watched_ = now;
        fd_ = ::signalfd(fd_, &watched_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0)
            throw std::system_error(errno, std::system_category(), "ringo::signals: signalfd");
        if (current_executor() == &home_)
            apply_locked();
        else
            home_.post(&refresh_);
    }

    static void on_refresh(posted_work* w) noexcept {
        signal_hub* hub = static_cast<refresh_work*>(w)->hub;
        std::lock_guard l(hub->mu_);
        hub->apply_locked();
    }

    // Executor 0's thread: its mask blocks exactly what is watched (plus what
    // it blocked before ringo touched it); the read is armed while anything
    // is watched, except once the runtime is stopping (teardown drains the
    // ring: nothing may be submitted after that).
    void apply_locked() noexcept {
        for (int s = 1; s < NSIG; ++s) {
            bool was = sigismember(&applied_, s) == 1, is = sigismember(&watched_, s) == 1;
            if (was && !is && sigismember(&original_mask_, s) != 1) {
                sigset_t one;
                sigemptyset(&one);
                sigaddset(&one, s);
                pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
            }
        }
        pthread_sigmask(SIG_BLOCK, &watched_, nullptr);
        applied_ = watched_;
        bool want = !regs_.empty() && !home_.rt().stopping();
        if (want && !armed_)
            arm_locked();
        else if (!want && armed_)
            home_.cancel(&reader_);
    }

    void arm_locked() noexcept {
        armed_ = true;
        io_request r{IORING_OP_READ, fd_, reinterpret_cast<std::uint64_t>(&reader_.info), sizeof reader_.info};
        home_.submit(&reader_, r);
    }

    static void on_read(io_op* op, int res, std::uint32_t) noexcept {
        signal_hub* hub = static_cast<read_op*>(op)->hub;
        hub->dispatch(res);
    }

    void dispatch(int res) noexcept {
        std::vector<cancel_func> to_cancel;
        std::vector<goroutine*> to_wake;
        {
            std::lock_guard l(mu_);
            armed_ = false;
            if (res == static_cast<int>(sizeof(signalfd_siginfo)))
                deliver_locked(static_cast<int>(reader_.info.ssi_signo), to_wake, to_cancel);
            // Read again while anything is watched: after a signal, and after
            // a cancel that a new watch overtook. Not while stopping: a signal
            // during teardown must not re-arm the read the drain just cancelled.
            // (A cancel that meets the read in progress ends it with -EINTR;
            // only an error of the fd itself would repeat forever.)
            bool fd_broken = res == -EBADF || res == -EINVAL || res == -EFAULT;
            if (!fd_broken && !regs_.empty() && !home_.rt().stopping())
                arm_locked();
        }
        finish(to_wake, to_cancel);
    }

public:
    // True if some watch covers signo. Any thread.
    bool watches(int signo) {
        std::lock_guard l(mu_);
        return sigismember(&watched_, signo) == 1;
    }
    // Delivers signo to its watches as if the signalfd had read it (a signal
    // that reached a thread other than the hub's). Any thread.
    void deliver(int signo) noexcept {
        std::vector<cancel_func> to_cancel;
        std::vector<goroutine*> to_wake;
        {
            std::lock_guard l(mu_);
            deliver_locked(signo, to_wake, to_cancel);
        }
        finish(to_wake, to_cancel);
    }

private:
    void deliver_locked(int signo, std::vector<goroutine*>& to_wake, std::vector<cancel_func>& to_cancel) noexcept {
        for (auto& r : regs_) {
            if (sigismember(&r.set, signo) != 1)
                continue;
            if (r.ch != nullptr) {
                std::lock_guard cl(r.ch->lock);
                goroutine* w = nullptr;
                int v = signo;
                if (!r.ch->closed() && r.ch->send_now(v, w) && w != nullptr)
                    to_wake.push_back(w);  // a full channel drops the signal, as Go does
            } else {
                to_cancel.push_back(r.cancel);
            }
        }
    }

    static void finish(const std::vector<goroutine*>& to_wake, const std::vector<cancel_func>& to_cancel) noexcept {
        for (goroutine* g : to_wake)
            wake_now(g);
        for (const auto& c : to_cancel)
            c();  // a notify_context watch stays until its stop (as Go's NotifyContext)
    }

    executor& home_;
    std::mutex mu_;
    // Guarded by mu_.
    std::vector<registration> regs_;
    sigset_t watched_;        // what the watches cover
    sigset_t applied_;        // what executor 0 blocks for them (its thread only)
    sigset_t original_mask_;  // executor 0's mask before ringo touched it
    struct sigaction previous_[NSIG] {};  // each watched signal's action before ringo forwarded it
    const bool owns_forwarding_;          // set once: this runtime's handler forwards signals
    int fd_ = -1;
    bool armed_ = false;
    read_op reader_;
    refresh_work refresh_;
    std::atomic<std::uint64_t> ids_{0};  // the last id handed out (relaxed: only uniqueness matters)
};

namespace {

signal_hub& hub_here(const char* what) {
    executor* ex = current_executor();
    if (ex == nullptr)
        outside_run(what);
    runtime& rt = ex->rt();
    return rt.signal_hub_or_make([&rt] { return std::make_shared<signal_hub>(rt.main_executor(), rt.caller_mask()); });
}

// notify_context's stop: ends the signal watch and cancels the context.
struct unwatch_on_stop final : ctx_callback {
    std::weak_ptr<signal_hub> hub;
    std::uint64_t id = 0;
    cancel_func cancel;
    void on_cancel() noexcept override {
        if (auto h = hub.lock())
            h->remove_if([this](const auto& r) { return r.id == id; });
        cancel();
    }
};

// Signal forwarding (see runtime_impl.hpp). Only the first of several
// concurrent runtimes owns it.
std::mutex forward_mu;
const runtime* forward_owner = nullptr;       // guarded by forward_mu
struct sigaction quit_previous {};            // guarded by forward_mu
bool quit_installed = false;                  // guarded by forward_mu
std::atomic<int> forward_wake_fd{-1};         // executor 0's wake-up eventfd, or -1
std::atomic<int> handlers_running{0};         // handlers between loading forward_wake_fd and their write

extern "C" void on_forwarded_signal(int signo) {
    int saved = errno;
    signals_pending.fetch_or(std::uint64_t(1) << (signo - 1), std::memory_order_seq_cst);
    handlers_running.fetch_add(1, std::memory_order_seq_cst);  // before the load: see uninstall
    int fd = forward_wake_fd.load(std::memory_order_seq_cst);
    if (fd >= 0) {
        std::uint64_t one = 1;
        (void)!::write(fd, &one, sizeof one);  // async-signal-safe
    }
    handlers_running.fetch_sub(1, std::memory_order_seq_cst);
    errno = saved;
}

}  // namespace

void install_signal_forwarding(runtime& rt) noexcept {
    std::lock_guard lock(forward_mu);
    if (forward_owner != nullptr)
        return;  // another runtime has it
    forward_owner = &rt;
    forward_wake_fd.store(rt.main_executor().wake_fd(), std::memory_order_seq_cst);
    struct sigaction now {};
    if (::sigaction(SIGQUIT, nullptr, &now) == 0 && now.sa_handler == SIG_DFL)
        quit_installed = forward_signal(SIGQUIT, &quit_previous);  // Go's default: dump and exit 2
}

void uninstall_signal_forwarding(const runtime& rt) noexcept {
    std::lock_guard lock(forward_mu);
    if (forward_owner != &rt)
        return;
    if (quit_installed)
        ::sigaction(SIGQUIT, &quit_previous, nullptr);
    quit_installed = false;
    forward_wake_fd.store(-1, std::memory_order_seq_cst);
    // A handler that loaded the fd before the store may still be writing to
    // it: wait it out, so that the runtime may close the fd next.
    while (handlers_running.load(std::memory_order_seq_cst) != 0)
        std::this_thread::yield();
    signals_pending.store(0, std::memory_order_seq_cst);
    forward_owner = nullptr;
}

bool forward_signal(int signo, struct sigaction* previous) noexcept {
    struct sigaction sa {};
    sa.sa_handler = &on_forwarded_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return ::sigaction(signo, &sa, previous) == 0;
}

bool forwarding_owned_by(const runtime& rt) noexcept {
    std::lock_guard lock(forward_mu);
    return forward_owner == &rt;
}

void handle_pending_signals(runtime& rt) noexcept {
    std::uint64_t bits = signals_pending.exchange(0, std::memory_order_seq_cst);
    auto hub = rt.signal_hub_or_null();
    for (int signo = 1; bits != 0 && signo <= 64; ++signo) {
        std::uint64_t bit = std::uint64_t(1) << (signo - 1);
        if ((bits & bit) == 0)
            continue;
        bits &= ~bit;
        if (hub && hub->watches(signo)) {
            hub->deliver(signo);  // it reached a thread that does not block it: the program's own, say
        } else if (signo == SIGQUIT) {
            std::string msg = "SIGQUIT: quit\n\n" + dump_tasks();
            std::fputs(msg.c_str(), stderr);
            std::fflush(stderr);
            std::_Exit(2);
        }
    }
}

}  // namespace ringo::detail

namespace ringo::signals {

recv_chan<int> notify(std::initializer_list<int> sigs) {
    detail::signal_hub& hub = detail::hub_here("ringo::signals::notify");
    auto* ch = new detail::chan_state<int>(8);
    recv_chan<int> out{detail::chan_ref<int>(ch)};
    hub.add(std::vector<int>(sigs), ch, {}, hub.next_id());
    return out;
}

void stop(recv_chan<int> ch) {
    detail::executor* ex = detail::current_executor();
    if (ex == nullptr)
        return;
    if (auto hub = ex->rt().signal_hub_or_null()) {
        detail::chan_state<int>* s = detail::state_of(ch);
        hub->remove_if([s](const auto& r) { return r.ch == s; });
    }
}

std::pair<context, cancel_func> notify_context(context parent, std::initializer_list<int> sigs) {
    detail::signal_hub& hub = detail::hub_here("ringo::signals::notify_context");
    // A signal cancels ctx and leaves the watch in place, so a second signal
    // during the shutdown it started is caught too; only stop() (cancelling
    // `stopper`, which nothing else can cancel) ends the watch, as in Go.
    auto [ctx, cancel_ctx] = with_cancel(std::move(parent));
    auto [stopper, stop] = with_cancel(background());
    std::uint64_t id = hub.next_id();
    hub.add(std::vector<int>(sigs), nullptr, cancel_ctx, id);
    auto unwatch = std::make_shared<detail::unwatch_on_stop>();
    unwatch->hub = hub.weak_from_this();
    unwatch->id = id;
    unwatch->cancel = cancel_ctx;
    detail::on_cancel(stopper.node().get()->cancel_ancestor(), std::move(unwatch));
    return {ctx, stop};
}

}  // namespace ringo::signals
