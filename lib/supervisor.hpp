// The whole run: one coroutine per feed, the writer, signals and limits.
#pragma once

#include "options.hpp"

namespace wsgather {

// Exit statuses, as documented in docs/cli.md.
inline constexpr int exit_ok = 0;        // clean stop, or every feed ended normally
inline constexpr int exit_failure = 1;   // a feed gave up, or the output failed
inline constexpr int exit_usage = 2;     // bad arguments (reported by the command line)

// Runs until every feed has ended or a stop is requested (signal, --count,
// --duration), writes every accepted line, and returns the exit status.
int run(const Options& options);

}  // namespace wsgather
