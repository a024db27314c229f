// ringo/detail/io_request.hpp - what an I/O operation on an executor's ring
// is: an io_op (the completion callback, living in the awaiting coroutine's
// frame) and an io_request (what to submit). Only I/O code includes this.
#pragma once

#include <cstdint>

namespace ringo::detail {

// An operation on the ring. Lives in the awaiting coroutine's frame, which must
// not be freed before complete() has run (the executor guarantees this at
// shutdown by draining the ring before it destroys any task).
struct io_op {
    void (*complete)(io_op* self, int res, std::uint32_t cqe_flags) noexcept = nullptr;
};

// What to submit: a small, ring-independent description of one SQE.
struct io_request {
    std::uint8_t opcode = 0;     // IORING_OP_*
    int fd = -1;
    std::uint64_t addr = 0;      // buffer or sockaddr pointer
    std::uint32_t len = 0;
    std::uint64_t off = 0;       // offset, or addr2 (e.g. socklen_t* for accept)
    std::uint32_t op_flags = 0;  // msg_flags / accept_flags / ...
};

}  // namespace ringo::detail
