// ringo/detail/backend_kind.hpp - which I/O backend an executor runs on
// (named here so that executor.hpp can use it; documented in runtime.hpp).
#pragma once

namespace ringo {

// runtime_options::backend. automatic: io_uring, or epoll when the kernel
// refuses io_uring; the RINGO_BACKEND environment variable
// (auto|io_uring|epoll) overrides automatic.
enum class backend_kind { automatic, io_uring, epoll };

}  // namespace ringo
