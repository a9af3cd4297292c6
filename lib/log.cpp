#include "log.hpp"

#include "wait_writable.hpp"

#include <cerrno>
#include <mutex>
#include <string>
#include <unistd.h>

namespace wsgather::log {
namespace {

Level threshold = Level::info;

// The status line on screen, empty when there is none. The mutex also keeps
// a line and the status redrawn under it in one write.
std::mutex status_mutex;
std::string status;

// ANSI: back to the start of the line, and erase from the cursor to its end.
constexpr std::string_view line_start = "\r";
constexpr std::string_view erase_rest = "\x1b[K";

void write_all(std::string_view rest) {
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
    std::string line;
    std::lock_guard lock(status_mutex);
    // Over the status line, which then comes back below.
    if (!status.empty()) {
        line += line_start;
        line += erase_rest;
    }
    line += text;
    line += '\n';
    line += status;
    write_all(line);
}

void show_status(std::string_view text) {
    std::string line;
    line += line_start;
    line += text;
    // After the text, not before it: the old line is overwritten, not
    // blanked first, so it does not flicker.
    line += erase_rest;
    std::lock_guard lock(status_mutex);
    status = line;
    write_all(line);
}

void clear_status() {
    std::lock_guard lock(status_mutex);
    if (status.empty()) return;
    status.clear();
    std::string line;
    line += line_start;
    line += erase_rest;
    write_all(line);
}

}  // namespace wsgather::log
