#include "log.hpp"

#include <cerrno>
#include <string>
#include <unistd.h>

namespace wsgather::log {
namespace {

Level threshold = Level::info;

}  // namespace

void set_verbosity(Verbosity v) {
    threshold = v == Verbosity::quiet ? Level::error : v == Verbosity::verbose ? Level::debug : Level::info;
}

bool enabled(Level level) { return level <= threshold; }

void write(Level level, std::string_view feed, std::string_view text) {
    std::string line;
    line.reserve(feed.size() + text.size() + 24);
    if (feed.empty()) {
        line += "wsgather: ";
    } else {
        line += '[';
        line += feed;
        line += "] ";
    }
    if (level == Level::error) line += "error: ";
    else if (level == Level::warning) line += "warning: ";
    for (char c : text) line += (c == '\n' || c == '\r') ? ' ' : c;  // one event, one line
    line += '\n';
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere left to report to
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace wsgather::log
