// lib/this_thread.hpp - the thread_locals behind current_executor() and
// current_goroutine() (detail/goroutine.hpp). Private to lib/: only the
// executor loop and run() set them, in functions that are not coroutines;
// everything else reads them through the out-of-line accessors.
#pragma once

#include <ringo/detail/goroutine.hpp>

namespace ringo::detail {

extern thread_local constinit executor* this_executor;
extern thread_local constinit goroutine* this_goroutine;

}  // namespace ringo::detail
