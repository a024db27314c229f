// ringo/signals.hpp - os/signal for tasks: Notify, Stop, NotifyContext.
//
//   auto sigs = ringo::signals::notify({SIGINT, SIGTERM});
//   auto sig = co_await sigs.recv();                    // the signal number
//   auto [ctx, stop] = ringo::signals::notify_context(ringo::background(), {SIGINT, SIGTERM});
//
// Signals are read from a signalfd on the runtime's ring, so a watched
// signal never interrupts anything: ringo blocks it for the runtime's
// threads while it is watched (and restores the signal mask when the
// runtime ends or stop() removes the last watch). A pending watch keeps the
// runtime alive for deadlock detection. Call these from a task, on any
// executor.
//
// With several executors (threads > 1), executor 0 (the thread that called
// run) reads the signals; the other runtime threads block every
// asynchronous signal from their start, and a handler forwards a watched
// signal that reaches any other thread (the program's own), so a watched
// signal sent to the process never takes its default action. A signal sent
// to one thread (raise(), pthread_kill) reaches a watch only if that thread
// is executor 0 or the program's own: send to the process, kill(getpid(), s).
//
// SIGQUIT, as in Go: unless the program watches it, it prints "SIGQUIT: quit"
// and the task dump to stderr and ends the process with status 2.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <initializer_list>
#include <utility>

#include <ringo/chan.hpp>
#include <ringo/context.hpp>

namespace ringo::signals {

// signal.Notify: a channel (capacity 8) that receives each of sigs as it
// arrives; when the channel is full, further signals are dropped, as in Go.
recv_chan<int> notify(std::initializer_list<int> sigs);

// signal.Stop: ch receives no more signals once stop returns.
void stop(recv_chan<int> ch);

// signal.NotifyContext: a child of parent cancelled when one of sigs
// arrives. As in Go, the signals stay watched until the returned stop is
// called, even after the context is done: a second SIGTERM during the
// graceful shutdown that the first one started is caught, not fatal. Call
// stop (it also cancels the context) to restore the default action.
std::pair<context, cancel_func> notify_context(context parent, std::initializer_list<int> sigs);

}  // namespace ringo::signals
