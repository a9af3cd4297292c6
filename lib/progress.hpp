// The progress line: when stderr is a terminal and the lines go elsewhere,
// the rate of each feed, redrawn in place every second (docs/cli.md,
// *Progress*). The supervisor asks for a line; log shows it.
#pragma once

#include "stats.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wsgather {

inline constexpr auto progress_interval = std::chrono::seconds(1);

class ProgressMeter {
public:
    explicit ProgressMeter(std::chrono::steady_clock::time_point start) : last_time_(start) {}

    // "1234 msg/s: a 1200/s  b 34/s", rates since the previous call, cut to
    // `width` columns: the feeds that do not fit become "+N more".
    std::string line(std::span<const FeedStats> feeds, std::chrono::steady_clock::time_point now, std::size_t width);

private:
    std::vector<std::uint64_t> last_messages_;  // per feed, at last_time_
    std::uint64_t last_drops_ = 0;
    std::chrono::steady_clock::time_point last_time_;
};

// The columns a status line may fill on the terminal that stderr is: one
// less than its width, since a character in the last column leaves the
// cursor there, where erasing the rest of the line would erase it too.
std::size_t terminal_width();

// "950", "12.3k", "4.56M": a rate that stays short as it grows.
std::string format_rate(double per_second);

}  // namespace wsgather
