// Diagnostics on standard error, one line per event, each written with a
// single write(2) so lines from different feeds never interleave; and, on a
// terminal, the progress line below them.
// Feed lines read "[name] text"; lines about the whole run "wsgather: text".
#pragma once

#include "options.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace wsgather::log {

enum class Level { error, warning, info, debug };

// `text` with control characters written as escapes (\n, \r, \t, \x01),
// so a value quoted in a message cannot break the message's line.
std::string one_line(std::string_view text);

void set_verbosity(Verbosity v);
bool enabled(Level level);
void write(Level level, std::string_view feed, std::string_view text);
// `line` as it is, newline added, at any verbosity (--stats).
void write_line(std::string_view line);

// The progress line (lib/progress.hpp): shown on the terminal's last line,
// replaced by the next one, and redrawn under each line written meanwhile.
void show_status(std::string_view line);
// Erases it, for good: before the summary, and before the process exits.
void clear_status();

template <class... Args>
void error(std::string_view feed, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::error)) write(Level::error, feed, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warning(std::string_view feed, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::warning)) write(Level::warning, feed, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(std::string_view feed, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::info)) write(Level::info, feed, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(std::string_view feed, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::debug)) write(Level::debug, feed, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace wsgather::log
