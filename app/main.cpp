#include "cli.hpp"
#include "log.hpp"
#include "sink.hpp"
#include "supervisor.hpp"

#include <csignal>
#include <cstdio>
#include <exception>
#include <unistd.h>

int main(int argc, char** argv) {
    // A closed stdout must come back as EPIPE from write(), which ends the
    // run quietly, not as a signal that kills it mid-line.
    std::signal(SIGPIPE, SIG_IGN);

    wsgather::CommandLine command = wsgather::parse_command_line(argc, argv);
    if (!command.options) {
        if (!command.out.empty()) std::fputs(command.out.c_str(), stdout);
        if (!command.error.empty()) std::fprintf(stderr, "wsgather: %s\n", command.error.c_str());
        return command.exit_status;
    }
    wsgather::Options& options = *command.options;
    // Someone watches stderr, and the lines go elsewhere: a progress line
    // (docs/cli.md, Progress). Under cron or systemd stderr is no terminal.
    options.run.progress = ::isatty(STDERR_FILENO) && options.verbosity != wsgather::Verbosity::quiet &&
                           !(wsgather::writes_standard_output(options.output) && ::isatty(STDOUT_FILENO));
    try {
        return wsgather::run(options);
    } catch (const std::exception& e) {
        wsgather::log::error("", "internal error: {}", e.what());
        return wsgather::exit_failure;
    }
}
