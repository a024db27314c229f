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
#include <vector>

#include <ringo/detail/executor.hpp>
#include <ringo/detail/io_request.hpp>

#include "runtime_impl.hpp"

namespace ringo::detail {

// One per runtime, on the executor that first watched a signal. The read is
// submitted and completed on that executor's thread.
class signal_hub : public std::enable_shared_from_this<signal_hub> {
public:
    explicit signal_hub(executor& home) : home_(home) {
        sigemptyset(&watched_);
        pthread_sigmask(SIG_BLOCK, nullptr, &original_mask_);
        reader_.hub = this;
        reader_.complete = &on_read;
    }
    ~signal_hub() {
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
        auto it = std::remove_if(regs_.begin(), regs_.end(), pred);
        for (auto i = it; i != regs_.end(); ++i)
            if (i->ch != nullptr)
                i->ch->release();
        regs_.erase(it, regs_.end());
        update_locked();
    }

    std::uint64_t next_id() noexcept { return ++ids_; }

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

    // Recomputes the watched set, the signal mask and the signalfd; arms the
    // read when something is watched (home thread), cancels it when not.
    void update_locked() {
        sigset_t now;
        sigemptyset(&now);
        for (const auto& r : regs_)
            sigorset(&now, &now, &r.set);
        // On home's thread: block what is watched now; unblock what no longer
        // is (unless it was blocked before ringo touched it). Helper threads
        // block every signal (lib/blocking.cpp).
        bool on_home = this_executor == &home_;
        for (int s = 1; on_home && s < NSIG; ++s) {
            bool was = sigismember(&watched_, s) == 1, is = sigismember(&now, s) == 1;
            if (was && !is && sigismember(&original_mask_, s) != 1) {
                sigset_t one;
                sigemptyset(&one);
                sigaddset(&one, s);
                pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
            }
        }
        if (on_home)
            pthread_sigmask(SIG_BLOCK, &now, nullptr);
        watched_ = now;
        fd_ = ::signalfd(fd_, &watched_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0)
            throw std::system_error(errno, std::system_category(), "ringo::signals: signalfd");
        if (!on_home)
            return;  // the next completion on home re-evaluates
        bool want = !regs_.empty();
        if (want && !armed_) {
            armed_ = true;
            io_request r{IORING_OP_READ, fd_, reinterpret_cast<std::uint64_t>(&reader_.info), sizeof reader_.info};
            home_.submit(&reader_, r);
        } else if (!want && armed_) {
            home_.cancel(&reader_);
        }
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
            if (res != -ECANCELED && !regs_.empty() && this_executor == &home_) {
                armed_ = true;
                io_request r{IORING_OP_READ, fd_, reinterpret_cast<std::uint64_t>(&reader_.info), sizeof reader_.info};
                home_.submit(&reader_, r);
            }
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
            wake(g);
        for (const auto& c : to_cancel)
            c();  // a notify_context watch stays until its stop (as Go's NotifyContext)
    }

    executor& home_;
    std::mutex mu_;
    // Guarded by mu_.
    std::vector<registration> regs_;
    sigset_t watched_;
    sigset_t original_mask_;
    int fd_ = -1;
    bool armed_ = false;
    read_op reader_;
    std::uint64_t ids_ = 0;
};

namespace {

signal_hub& hub_here(const char* what) {
    executor* ex = this_executor;
    if (ex == nullptr)
        outside_run(what);
    return ex->rt().signal_hub_or_make([ex] { return std::make_shared<signal_hub>(*ex); });
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

// SIGQUIT's default (see runtime_impl.hpp). Only the first of several
// concurrent runtimes installs the handler.
std::mutex quit_mu;
executor* quit_owner = nullptr;           // guarded by quit_mu
struct sigaction quit_previous {};         // guarded by quit_mu
std::atomic<int> quit_wake_fd{-1};         // executor 0's wake-up eventfd, or -1

extern "C" void on_sigquit(int) {
    int saved = errno;
    sigquit_pending.store(true, std::memory_order_seq_cst);
    int fd = quit_wake_fd.load(std::memory_order_seq_cst);
    if (fd >= 0) {
        std::uint64_t one = 1;
        (void)!::write(fd, &one, sizeof one);  // async-signal-safe
    }
    errno = saved;
}

}  // namespace

void install_sigquit(executor& wake) noexcept {
    std::lock_guard lock(quit_mu);
    struct sigaction now {};
    if (quit_owner != nullptr || ::sigaction(SIGQUIT, nullptr, &now) != 0 || now.sa_handler != SIG_DFL)
        return;  // another runtime has it, or the program handles SIGQUIT itself
    struct sigaction sa {};
    sa.sa_handler = &on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    quit_wake_fd.store(wake.wake_fd(), std::memory_order_seq_cst);
    if (::sigaction(SIGQUIT, &sa, &quit_previous) == 0)
        quit_owner = &wake;
}

void uninstall_sigquit(executor& wake) noexcept {
    std::lock_guard lock(quit_mu);
    if (quit_owner != &wake)
        return;
    ::sigaction(SIGQUIT, &quit_previous, nullptr);
    quit_wake_fd.store(-1, std::memory_order_seq_cst);
    sigquit_pending.store(false, std::memory_order_seq_cst);
    quit_owner = nullptr;
}

void handle_sigquit(runtime& rt) noexcept {
    if (!sigquit_pending.exchange(false, std::memory_order_seq_cst))
        return;
    if (auto hub = rt.signal_hub_or_null(); hub && hub->watches(SIGQUIT)) {
        hub->deliver(SIGQUIT);  // the program watches it: it reached a thread that does not block it
        return;
    }
    std::string msg = "SIGQUIT: quit\n\n" + dump_tasks();
    std::fputs(msg.c_str(), stderr);
    std::fflush(stderr);
    std::_Exit(2);
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
    detail::executor* ex = detail::this_executor;
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
