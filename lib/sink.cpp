#include "sink.hpp"

#include "wait_writable.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>
#include <vector>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace wsgather {

bool writes_standard_output(const OutputOptions& output) {
    if (output.files.empty() && output.per_feed_dir.empty()) return true;
    return std::find(output.files.begin(), output.files.end(), standard_output_path) != output.files.end();
}

Sink::Sink(const std::string& path, const RotateOptions& rotate, std::function<void(const std::string&)> rotated)
    : rotate_(rotate), rotated_(std::move(rotated)) {
    if (path == standard_output_path) {
        fd_ = STDOUT_FILENO;
        name_ = "standard output";
        return;
    }
    path_ = path;
    name_ = path;
    if (std::error_code error = open_file())
        throw SinkError(fmt::format("cannot open output file '{}': {}", path, error.message()));
}

Sink::~Sink() {
    if (owned_) ::close(fd_);
}

std::error_code Sink::open_file() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return {errno, std::generic_category()};
    struct stat file;
    size_ = ::fstat(fd, &file) == 0 ? static_cast<std::uint64_t>(file.st_size) : 0;
    if (owned_) ::close(fd_);
    fd_ = fd;
    owned_ = true;
    schedule_rotation();
    return {};
}

void Sink::schedule_rotation() {
    if (rotate_.interval.count() == 0) return;
    // The next multiple of the interval: hourly files start on the hour.
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto step = std::chrono::duration_cast<std::chrono::system_clock::duration>(rotate_.interval);
    next_rotation_ = std::chrono::system_clock::time_point((now / step + 1) * step);
}

std::error_code Sink::reopen() {
    if (!owned_) return {};
    return open_file();
}

std::error_code Sink::sync() {
    if (!owned_ || ::fsync(fd_) == 0) return {};
    // -o /dev/null, a FIFO: there is nothing on disk to sync.
    if (errno == EINVAL || errno == ENOTSUP) return {};
    return {errno, std::generic_category()};
}

std::error_code Sink::rotate(std::chrono::system_clock::time_point now) {
    // Each rotation's time is later than the last one's, even within one
    // microsecond, and a name taken already (by another run, or by a file
    // already compressed) is passed over: no file set aside is replaced.
    auto when = std::max(std::chrono::time_point_cast<std::chrono::microseconds>(now),
                         last_rotation_ + std::chrono::microseconds(1));
    std::string aside = rotated_name(path_, when);
    auto taken = [](const std::string& name) {
        return ::access(name.c_str(), F_OK) == 0 || ::access((name + ".zst").c_str(), F_OK) == 0;
    };
    while (taken(aside)) aside = rotated_name(path_, when += std::chrono::microseconds(1));
    last_rotation_ = when;
    // Synced first: the file set aside is complete on disk before it is renamed.
    if (std::error_code error = sync()) return error;
    if (::rename(path_.c_str(), aside.c_str()) != 0) return {errno, std::generic_category()};
    if (std::error_code error = open_file()) return error;
    if (rotated_) rotated_(aside);
    return {};
}

bool same_file_name(std::string_view a, std::string_view b) {
    // "-" is standard output, and "./-" the file named "-".
    if (a == standard_output_path || b == standard_output_path) return a == b;
    return std::filesystem::path(a).lexically_normal() == std::filesystem::path(b).lexically_normal();
}

std::string per_feed_path(const std::string& dir, std::string_view feed, Format format) {
    std::string file;
    for (char c : feed) {
        bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        file += plain ? c : '_';
    }
    // "." and ".." would name directories.
    if (file.find_first_not_of('.') == std::string::npos) file.insert(0, "_");
    return fmt::format("{}/{}{}", dir, file, format == Format::raw ? ".txt" : ".jsonl");
}

std::string rotated_name(const std::string& path, std::chrono::system_clock::time_point when) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
    std::string time = fmt::format("{}.{:06}Z", stamp, micros % 1'000'000);
    // The extension is what follows the last dot of the file's own name.
    auto slash = path.rfind('/');
    std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
    auto dot = path.rfind('.');
    // A leading dot starts a hidden file's name, not its extension.
    bool has_extension = dot != std::string::npos && dot > name_start;
    if (!has_extension) return fmt::format("{}.{}", path, time);
    return fmt::format("{}.{}{}", path.substr(0, dot), time, path.substr(dot));
}

void Sink::cut_torn_line(std::span<const std::string_view> pieces, std::size_t next, std::size_t offset) {
    // Every write starts at the beginning of a line: the bytes written since
    // the last newline are the torn line.
    std::size_t torn = 0;
    for (std::size_t i = next + 1; i-- > 0;) {
        std::string_view written = i == next ? pieces[i].substr(0, offset) : pieces[i];
        auto newline = written.rfind('\n');
        if (newline != std::string_view::npos) {
            torn += written.size() - newline - 1;
            break;
        }
        torn += written.size();
    }
    struct stat file;
    if (torn == 0 || ::fstat(fd_, &file) != 0 || !S_ISREG(file.st_mode)) return;
    // A pipe or terminal keeps what it got; a file loses the torn line.
    off_t whole = file.st_size - static_cast<off_t>(std::min(torn, static_cast<std::size_t>(file.st_size)));
    [[maybe_unused]] int ignored = ::ftruncate(fd_, whole);
}

namespace {

std::uint64_t total_size(std::span<const std::string_view> pieces) {
    std::uint64_t bytes = 0;
    for (std::string_view piece : pieces) bytes += piece.size();
    return bytes;
}

// Where the last line that ends within the first `limit` bytes ends; zero
// when none does.
std::uint64_t last_line_end(std::span<const std::string_view> pieces, std::uint64_t limit) {
    std::uint64_t before = 0, end = 0;
    for (std::string_view piece : pieces) {
        if (before >= limit) break;
        std::string_view within = piece.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), limit - before)));
        if (auto newline = within.rfind('\n'); newline != std::string_view::npos) end = before + newline + 1;
        before += piece.size();
    }
    return end;
}

std::uint64_t first_line_end(std::span<const std::string_view> pieces) {
    std::uint64_t before = 0;
    for (std::string_view piece : pieces) {
        if (auto newline = piece.find('\n'); newline != std::string_view::npos) return before + newline + 1;
        before += piece.size();
    }
    return before;
}

// The pieces before byte `cut`, and those from it.
std::pair<std::vector<std::string_view>, std::vector<std::string_view>> split_pieces(
    std::span<const std::string_view> pieces, std::uint64_t cut) {
    std::vector<std::string_view> head, tail;
    for (std::string_view piece : pieces) {
        if (cut >= piece.size()) {
            head.push_back(piece);
            cut -= piece.size();
        } else {
            if (cut > 0) head.push_back(piece.substr(0, static_cast<std::size_t>(cut)));
            tail.push_back(piece.substr(static_cast<std::size_t>(cut)));
            cut = 0;
        }
    }
    return {std::move(head), std::move(tail)};
}

}  // namespace

std::error_code Sink::write(std::span<const std::string_view> pieces) {
    if (!owned_ || (rotate_.size == 0 && rotate_.interval.count() == 0)) return write_pieces(pieces);
    auto now = std::chrono::system_clock::now();
    if (now >= next_rotation_) {
        if (size_ == 0) schedule_rotation();  // nothing to set aside
        else if (std::error_code error = rotate(now)) return error;
    }
    // Files are cut between lines: each holds the whole lines that fit, and
    // a line longer than --rotate-size gets a file of its own.
    std::vector<std::string_view> rest(pieces.begin(), pieces.end());
    while (rotate_.size > 0 && size_ + total_size(rest) > rotate_.size) {
        std::uint64_t cut = last_line_end(rest, rotate_.size > size_ ? rotate_.size - size_ : 0);
        if (cut == 0 && size_ == 0) cut = first_line_end(rest);
        if (cut > 0) {
            auto [head, tail] = split_pieces(rest, cut);
            if (std::error_code error = write_pieces(head)) return error;
            rest = std::move(tail);
        }
        if (rest.empty()) return {};
        if (std::error_code error = rotate(now)) return error;
    }
    return write_pieces(rest);
}

std::error_code Sink::write_pieces(std::span<const std::string_view> pieces) {
    size_ += total_size(pieces);
    iovec iov[IOV_MAX];
    std::size_t next = 0;    // first piece not yet handed to the kernel
    std::size_t offset = 0;  // bytes of pieces[next] already written
    while (next < pieces.size()) {
        int count = 0;
        for (std::size_t i = next; i < pieces.size() && count < IOV_MAX; ++i, ++count) {
            std::size_t skip = i == next ? offset : 0;
            iov[count].iov_base = const_cast<char*>(pieces[i].data() + skip);
            iov[count].iov_len = pieces[i].size() - skip;
        }
        ssize_t written = ::writev(fd_, iov, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_writable(fd_);
                continue;
            }
            std::error_code error(errno, std::generic_category());
            cut_torn_line(pieces, next, offset);
            return error;
        }
        auto left = static_cast<std::size_t>(written);
        while (next < pieces.size() && left >= pieces[next].size() - offset) {
            left -= pieces[next].size() - offset;
            offset = 0;
            ++next;
        }
        offset += left;
    }
    return {};
}

}  // namespace wsgather
