// ringo/detail/cxx20.hpp - the first include of every public header: without
// C++20, one clear error instead of hundreds of lines from coroutine code.
#pragma once

#if !defined(__cplusplus) || __cplusplus < 202002L
#error "ringo needs C++20: -std=c++20 / cpp_std=c++20"
// Stop here: the compiler would otherwise go on through every header.
#include <ringo/detail/compilation_stopped_here_ringo_needs_cxx20>
#endif
