// Where output lines go: standard output, or a file opened for appending.
// Writes are write(2) calls on a descriptor whose flags are never changed,
// so a terminal, pipe or file behaves as it always does; one inherited in
// non-blocking mode is waited on, never failed.
//
// A file can be reopened (after logrotate moved it: SIGHUP), synced to disk
// (a clean stop), and rotated by wsgather itself (--rotate-size,
// --rotate-interval): the file is renamed with the time in its name and a
// new one opened, always between whole lines.
#pragma once

#include "options.hpp"

#include <chrono>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace wsgather {

struct SinkError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The path that stands for standard output.
inline constexpr std::string_view standard_output_path = "-";

// Whether `output` writes lines to standard output: by default, or with -o -.
bool writes_standard_output(const OutputOptions& output);

class Sink {
public:
    // Throws SinkError naming the path. `rotated` is called with the name of
    // each file rotation set aside (to compress it).
    explicit Sink(const std::string& path, const RotateOptions& rotate = {},
                  std::function<void(const std::string&)> rotated = {});
    ~Sink();
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    // Writes every piece in order, in as few system calls as it can,
    // rotating the file where it is due. The pieces hold whole lines. When a
    // write fails part-way, a file is cut back to its last whole line, so
    // that it never ends in a torn one.
    std::error_code write(std::span<const std::string_view> pieces);

    // Opens the file's path again (a file only), for a log rotator that
    // moved it away.
    std::error_code reopen();
    // fsync(2) for a file; nothing for standard output.
    std::error_code sync();

    const std::string& name() const { return name_; }

private:
    std::error_code open_file();
    void schedule_rotation();  // next_rotation_, for --rotate-interval
    // The writes themselves, whatever rotation says.
    std::error_code write_pieces(std::span<const std::string_view> pieces);
    std::error_code rotate(std::chrono::system_clock::time_point now);
    // After a failed write; `next` and `offset` tell how far the pieces got.
    void cut_torn_line(std::span<const std::string_view> pieces, std::size_t next, std::size_t offset);

    int fd_ = -1;
    bool owned_ = false;
    std::string path_;  // empty for standard output
    std::string name_;
    RotateOptions rotate_;
    std::function<void(const std::string&)> rotated_;
    std::uint64_t size_ = 0;  // of the open file, as far as this sink knows
    std::chrono::system_clock::time_point next_rotation_ = std::chrono::system_clock::time_point::max();
    std::chrono::sys_time<std::chrono::microseconds> last_rotation_{};
};

// The name a rotated file gets: the time goes before the extension, so that
// the files of one output sort by time: "trades.jsonl" rotated at
// 2026-12-03 10:07:00.123456 UTC is "trades.20261203T100700.123456Z.jsonl".
std::string rotated_name(const std::string& path, std::chrono::system_clock::time_point when);

// --output-per-feed: DIR/<feed>.jsonl (.txt in raw format). Characters of
// the name other than letters, digits, '.', '-' and '_' become '_', so that
// "127.0.0.1:9000/trades" is "127.0.0.1_9000_trades.jsonl".
std::string per_feed_path(const std::string& dir, std::string_view feed, Format format);

// Whether two output file names name one file as they are written: "f",
// "./f" and "d/../f" do. Links are not followed (docs/cli.md).
bool same_file_name(std::string_view a, std::string_view b);

}  // namespace wsgather
