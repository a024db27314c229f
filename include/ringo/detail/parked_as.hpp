// ringo/detail/parked_as.hpp - parked_as<C, State>: select case C, but a
// task that parks in the select shows in dump_tasks() as State rather than
// [select]. For ringo's own operations built on a select with ctx.done()
// (a context-taking sleep, read, accept, semaphore acquire, ...), so the
// dump says what the task waits for, as it does without a context.
#pragma once

#include <utility>

#include <ringo/detail/goroutine.hpp>
#include <ringo/select.hpp>

namespace ringo::detail {

template <class C, task_state State>
struct parked_as {
    using result_type = typename C::result_type;
    C c;
};

// C's node, unchanged but for the state it parks the task in.
template <class C, task_state State>
struct case_node<parked_as<C, State>> : case_node<C> {
    explicit case_node(parked_as<C, State> p) : case_node<C>(std::move(p.c)) {}
    // The select has just parked g (as [select]) and holds every case's lock
    // while it enqueues, so no waker can see g yet: relabelling it is the
    // parking task's own write, like park()'s.
    void enqueue(goroutine* g, select_state* sel, int index) noexcept {
        g->state = State;
        case_node<C>::enqueue(g, sel, index);
    }
};

}  // namespace ringo::detail
