// ringo/ringo.hpp - all of ringo: Go's concurrency model for C++20 on io_uring.
#pragma once

#include <ringo/detail/cxx20.hpp>  // first: one clear error without C++20

#include <ringo/blocking.hpp>
#include <ringo/chan.hpp>
#include <ringo/context.hpp>
#include <ringo/duration.hpp>
#include <ringo/errgroup.hpp>
#include <ringo/errors.hpp>
#include <ringo/net.hpp>
#include <ringo/runtime.hpp>
#include <ringo/select.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/signals.hpp>
#include <ringo/singleflight.hpp>
#include <ringo/sync.hpp>
#include <ringo/task.hpp>
#include <ringo/time.hpp>
