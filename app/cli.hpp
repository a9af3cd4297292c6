// The command line: argv in, Options (or an exit with a message) out.
// Nothing here connects anywhere; every value is checked before the run.
#pragma once

#include "options.hpp"

#include <optional>
#include <string>

namespace wsgather {

struct CommandLine {
    std::optional<Options> options;  // set when the run should start
    int exit_status = 0;             // otherwise: exit with this status...
    std::string out;                 // ...after printing this on stdout (--help, --version)
    std::string error;               // ...or this one-line message on stderr
};

CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace wsgather
