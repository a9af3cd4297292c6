#include "log.hpp"

#include "wait_writable.hpp"

#include <cerrno>
#include <string>
#include <unistd.h>

namespace wsgather::log {
namespace {

Level threshold = Level::info;

}  // namespace

std::string one_line(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string line;
    line.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7f) line += c;
        else if (c == '\n') line += "\\n";
        else if (c == '\r') line += "\\r";
        else if (c == '\t') line += "\\t";
        else line += {'\\', 'x', hex[byte >> 4], hex[byte & 15]};
    }
    return line;
}

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
    line += one_line(text);
    write_line(line);
}

void write_line(std::string_view text) {
    std::string line(text);
    line += '\n';
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wait_writable(STDERR_FILENO);
            continue;
        }
        if (n <= 0) return;  // nowhere left to report to
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace wsgather::log
