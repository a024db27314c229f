// The executor loop and its io_uring ring (see detail/executor.hpp).
#include <ringo/detail/executor.hpp>

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>

#include "runtime_impl.hpp"

namespace ringo::detail {

thread_local constinit executor* this_executor = nullptr;
thread_local constinit goroutine* this_goroutine = nullptr;

namespace {

// user_data tags that are not io_op pointers.
constexpr std::uint64_t tag_ignore = 0;  // cancel requests: their CQE carries nothing
constexpr std::uint64_t tag_wake = 1;    // the read on the wake-up eventfd
constexpr std::uint64_t tag_msg = 2;     // a wake-up sent by another executor with IORING_OP_MSG_RING

// How many tasks run between two looks at the ring and the remote queue.
constexpr unsigned poll_interval = 64;
// How many times in a row the run-next slot may jump the queue.
constexpr unsigned runnext_limit = 64;
// How long an idle executor polls for work from other threads before it
// sleeps (iterations of a pause instruction: tens of microseconds).
constexpr int spin_limit = 4000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// IORING_OP_MSG_RING into a DEFER_TASKRUN ring needs Linux 6.2.
bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (::uname(&u) != 0)
        return false;
    int ma = 0, mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

[[noreturn]] void ring_refused(int err) {
    std::string msg = "ringo: io_uring is not available: io_uring_setup failed: ";
    msg += std::strerror(err);
    if (err == EPERM || err == ENOSYS || err == EACCES)
        msg += " (the kernel or a seccomp filter refuses io_uring: in Docker, run with --security-opt seccomp="
               "PROFILE.json allowing io_uring_setup, io_uring_enter and io_uring_register; on the host, "
               "sysctl kernel.io_uring_disabled must be 0; ringo needs Linux >= 5.19)";
    throw backend_unavailable(err, std::move(msg));
}

}  // namespace

struct executor::ring {
    io_uring uring{};
    int wake_fd = -1;
    std::uint64_t wake_buf = 0;
    bool wake_armed = false;
    bool tearing_down = false;
    bool msg_ring = false;  // this ring can send and receive IORING_OP_MSG_RING wake-ups

    int old_timer_slack = -1;
    pid_t creator = ::gettid();

    explicit ring(unsigned entries) {
        // Cheapest first; each flag the kernel rejects (EINVAL) is dropped.
        const unsigned flag_sets[] = {
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
            IORING_SETUP_COOP_TASKRUN,
            0,
        };
        int rc = -EINVAL;
        unsigned used = 0;
        for (unsigned flags : flag_sets) {
            io_uring_params p{};
            p.flags = flags;
            rc = io_uring_queue_init_params(entries, &uring, &p);
            used = flags;
            if (rc != -EINVAL)
                break;
        }
        if (rc < 0)
            ring_refused(-rc);
        if (io_uring_probe* probe = io_uring_get_probe_ring(&uring)) {
            msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING) &&
                       ((used & IORING_SETUP_DEFER_TASKRUN) == 0 || kernel_at_least(6, 2));
            io_uring_free_probe(probe);
        }
        wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd < 0) {
            int err = errno;
            io_uring_queue_exit(&uring);
            throw std::system_error(err, std::system_category(), "ringo: eventfd");
        }
        // Timers have nanosecond resolution: do not let the kernel add its
        // default 50 us of slack to the ring's wait (restored at the end).
        old_timer_slack = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
        ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
    ~ring() {
        io_uring_queue_exit(&uring);
        ::close(wake_fd);
        if (old_timer_slack > 0 && ::gettid() == creator)
            ::prctl(PR_SET_TIMERSLACK, old_timer_slack, 0, 0, 0);
    }

    io_uring_sqe* sqe() {
        io_uring_sqe* s = io_uring_get_sqe(&uring);
        while (s == nullptr) {  // queue full: hand what we have to the kernel
            io_uring_submit(&uring);
            s = io_uring_get_sqe(&uring);
        }
        return s;
    }

    void arm_wake() {
        io_uring_sqe* s = sqe();
        io_uring_prep_read(s, wake_fd, &wake_buf, sizeof wake_buf, 0);
        io_uring_sqe_set_data64(s, tag_wake);
        wake_armed = true;
    }
};

executor::executor(runtime& rt, unsigned index, unsigned ring_entries)
    : rt_(rt), index_(index), ring_(new ring(ring_entries)) {
    ring_->arm_wake();
}

executor::~executor() { delete ring_; }

void executor::add_task(goroutine* g) noexcept {
    registry_guard lock(*this);
    g->all_prev = nullptr;
    g->all_next = all_;
    if (all_ != nullptr)
        all_->all_prev = g;
    all_ = g;
    live_.store(live_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // under the lock
}

void executor::remove_task(goroutine* g) noexcept {
    registry_guard lock(*this);
    if (g->all_prev != nullptr)
        g->all_prev->all_next = g->all_next;
    else
        all_ = g->all_next;
    if (g->all_next != nullptr)
        g->all_next->all_prev = g->all_prev;
    live_.store(live_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void executor::ready_remote(goroutine* g) noexcept {
    goroutine* head = remote_.load(std::memory_order_relaxed);
    do {
        g->next = head;
    } while (!remote_.compare_exchange_weak(head, g, std::memory_order_seq_cst, std::memory_order_relaxed));
    notify();
}

void executor::notify() noexcept {
    // Pairs with the sleep handshake in wait(): either the executor sees our
    // push before it sleeps, or we see it asleep and wake it: from another
    // executor with a message on the ring (IORING_OP_MSG_RING), from any
    // other thread through the eventfd.
    if (!sleeping_.exchange(false, std::memory_order_seq_cst))
        return;
    executor* from = this_executor;
    if (from != nullptr && from != this && ring_->msg_ring && from->ring_->msg_ring && !from->ring_->tearing_down) {
        io_uring_sqe* s = from->ring_->sqe();
        io_uring_prep_msg_ring(s, ring_->uring.ring_fd, 0, tag_msg, 0);
        io_uring_sqe_set_data64(s, tag_ignore);  // the sender's own completion
        io_uring_submit(&from->ring_->uring);
        return;
    }
    (void)::eventfd_write(ring_->wake_fd, 1);
}

int executor::wake_fd() const noexcept { return ring_->wake_fd; }

void executor::post_timer_sync(timer_node* n) noexcept {
    if (n->sync_posted.exchange(true, std::memory_order_acq_rel))
        return;  // already queued: the executor will see the latest state
    timer_node* head = timer_syncs_.load(std::memory_order_relaxed);
    do {
        n->sync_next = head;
    } while (!timer_syncs_.compare_exchange_weak(head, n, std::memory_order_seq_cst, std::memory_order_relaxed));
    notify();
}

void executor::submit(io_op* op, const io_request& r) {
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_rw(r.opcode, s, r.fd, reinterpret_cast<const void*>(r.addr), r.len, r.off);
    s->rw_flags = static_cast<__kernel_rwf_t>(r.op_flags);
    io_uring_sqe_set_data(s, op);
    ++pending_io_;
}

void executor::cancel(io_op* op) {
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_cancel(s, op, 0);
    io_uring_sqe_set_data64(s, tag_ignore);
}

void executor::cancel_fd(int fd) {
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, tag_ignore);
    io_uring_submit(&ring_->uring);  // now: the caller closes fd right after
}

// The loop's private helpers, kept out of the public header.
class executor_loop {
public:
    explicit executor_loop(executor& e) : e_(e), r_(*e.ring_) {}

    goroutine* next_runnable() noexcept {
        if (e_.runnext_ != nullptr) {
            if (++e_.runnext_streak_ <= runnext_limit || e_.local_.empty())
                return std::exchange(e_.runnext_, nullptr);
            e_.local_.push_back(std::exchange(e_.runnext_, nullptr));
        }
        e_.runnext_streak_ = 0;
        return e_.local_.pop_front();
    }

    // Moves wake-ups pushed by other threads to the local queue, in push order.
    bool take_remote() noexcept {
        goroutine* list = e_.remote_.exchange(nullptr, std::memory_order_acquire);
        if (list == nullptr)
            return false;
        goroutine* reversed = nullptr;
        while (list != nullptr) {
            goroutine* next = list->next;
            list->next = reversed;
            reversed = list;
            list = next;
        }
        while (reversed != nullptr) {
            goroutine* next = reversed->next;
            e_.local_.push_back(reversed);
            reversed = next;
        }
        return true;
    }

    // Delivers the sync requests other threads posted.
    bool take_timer_syncs() noexcept {
        timer_node* list = e_.timer_syncs_.exchange(nullptr, std::memory_order_acquire);
        if (list == nullptr)
            return false;
        auto now = clock::now();
        while (list != nullptr) {
            timer_node* next = list->sync_next;
            list->sync_posted.store(false, std::memory_order_release);
            list->on_event(list, timer_event::sync, now);
            list = next;
        }
        return true;
    }

    // Fires every timer whose deadline has passed.
    void run_timers() noexcept {
        if (e_.timers_.empty())
            return;
        auto now = clock::now();
        while (!e_.timers_.empty() && e_.timers_.top()->when <= now) {
            timer_node* n = e_.timers_.pop();
            n->on_event(n, timer_event::fire, now);
        }
    }

    // Dispatches every completion the ring holds. Returns how many.
    unsigned reap() noexcept {
        unsigned head = 0, n = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&r_.uring, head, cqe) {
            ++n;
            std::uint64_t tag = cqe->user_data;
            int res = cqe->res;
            std::uint32_t flags = cqe->flags;
            if (tag == tag_ignore || tag == tag_msg)
                continue;  // a cancel's or a MSG_RING's completion: it woke us, nothing more
            if (tag == tag_wake) {
                r_.wake_armed = false;
                if (!r_.tearing_down)
                    r_.arm_wake();
                continue;
            }
            if ((flags & IORING_CQE_F_MORE) == 0)
                --e_.pending_io_;
            auto* op = reinterpret_cast<io_op*>(tag);
            op->complete(op, res, flags);
        }
        io_uring_cq_advance(&r_.uring, n);
        return n;
    }

    // Submits queued operations and collects finished ones without blocking.
    void poll() noexcept {
        if (e_.pending_io_ == 0 && io_uring_sq_ready(&r_.uring) == 0)
            return;
        io_uring_submit_and_get_events(&r_.uring);
        reap();
    }

    // Nothing is runnable: sleeps until a completion, a wake-up from another
    // thread or the nearest timer. Returns false when nothing can ever wake
    // this executor again (deadlock).
    bool wait() noexcept {
        // pending_blocking_ is read before remote_: a helper thread pushes its
        // wake-up before it stops counting, so one of the two shows it.
        bool may_wake = e_.pending_io_ != 0 || !e_.timers_.empty() ||
                        e_.pending_blocking_.load(std::memory_order_seq_cst) != 0;
        bool quiescent = false;
        if (!may_wake && nothing_posted()) {
            // Only another executor can still wake this one. Deadlock is
            // declared when every executor is in this state and nothing is
            // posted to any of them (runtime::enter_quiescent).
            if (e_.rt_.enter_quiescent())
                return false;
            quiescent = true;
        }
        // With other executors about, spin a moment first: a wake-up from
        // one of them often follows within microseconds, and sleeping costs
        // a system call on both sides.
        if (e_.rt_.executors() > 1)
            for (int spin = 0; spin < spin_limit && nothing_posted() && !e_.rt_.stopping(); ++spin)
                cpu_relax();
        e_.sleeping_.store(true, std::memory_order_seq_cst);
        if (nothing_posted() && !e_.rt_.stopping()) {
            io_uring_cqe* cqe = nullptr;
            if (e_.timers_.empty()) {
                io_uring_submit_and_wait_timeout(&r_.uring, &cqe, 1, nullptr, nullptr);
            } else {
                auto left = e_.timers_.top()->when - clock::now();
                if (left > clock::duration::zero()) {
                    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
                    __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
                    io_uring_submit_and_wait_timeout(&r_.uring, &cqe, 1, &ts, nullptr);
                }
            }
        }
        e_.sleeping_.store(false, std::memory_order_relaxed);
        if (quiescent)
            e_.rt_.leave_quiescent();  // before anything posted is taken
        reap();
        return !e_.rt_.deadlocked();
    }

private:
    bool nothing_posted() const noexcept { return !e_.has_posted(); }

    executor& e_;
    executor::ring& r_;
};

bool executor::run_until(const bool* main_done) {
    executor_loop loop(*this);
    unsigned ticks = 0;
    for (;;) {
        if ((main_done != nullptr && *main_done) || rt_.stopping())
            return !rt_.deadlocked();
        if (goroutine* g = loop.next_runnable()) {
            this_goroutine = g;
            g->state = task_state::running;
            g->resume_point.resume();
            this_goroutine = nullptr;
            if (++ticks % poll_interval == 0) {
                if (sigquit_pending.load(std::memory_order_relaxed)) [[unlikely]]
                    handle_sigquit(rt_);
                loop.poll();
                loop.take_remote();
                loop.take_timer_syncs();
                loop.run_timers();
            }
            continue;
        }
        loop.poll();
        loop.take_remote();
        loop.take_timer_syncs();
        loop.run_timers();
        if (!local_.empty() || runnext_ != nullptr)
            continue;
        if (!loop.wait())
            return false;
        if (sigquit_pending.load(std::memory_order_relaxed)) [[unlikely]]
            handle_sigquit(rt_);
        loop.take_remote();
        loop.take_timer_syncs();
    }
}

void executor::drain_ring() noexcept {
    executor_loop loop(*this);
    ring_->tearing_down = true;
    // Cancel everything in flight (the wake-up read included), then wait for
    // each operation's own completion: only then may frames be freed.
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(s, tag_ignore);
    while (pending_io_ != 0 || ring_->wake_armed) {
        io_uring_submit_and_wait(&ring_->uring, 1);
        loop.reap();
    }
}

void executor::destroy_tasks() noexcept {
    // Destroy the tasks still alive. Their destructors may wake others; those
    // wake-ups are dropped with the queues.
    executor_loop loop(*this);
    goroutine* saved = std::exchange(this_goroutine, nullptr);
    for (;;) {
        loop.take_remote();
        local_.clear();
        runnext_ = nullptr;
        goroutine* g;
        {
            registry_guard lock(*this);
            g = all_;
        }
        if (g == nullptr)
            break;
        g->root_frame.destroy();
    }
    this_goroutine = saved;
}

void executor::detach_timers() noexcept {
    // Timers still armed (their owners are handles that may outlive the
    // runtime) leave the heap; requests posted meanwhile are moot.
    executor_loop loop(*this);
    loop.take_timer_syncs();
    auto now = clock::now();
    for (timer_node* n : timers_.take_all())
        n->on_event(n, timer_event::detach, now);
    timer_syncs_.store(nullptr, std::memory_order_relaxed);
    local_.clear();
    runnext_ = nullptr;
    remote_.store(nullptr, std::memory_order_relaxed);
}

}  // namespace ringo::detail
