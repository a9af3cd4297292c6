#include "progress.hpp"

#include "log.hpp"

#include <fmt/format.h>

#include <string_view>
#include <sys/ioctl.h>
#include <unistd.h>

namespace wsgather {

std::size_t terminal_width() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col < 2) return 79;
    return size.ws_col - 1u;
}

std::string format_rate(double per_second) {
    if (per_second < 9999.5) return fmt::format("{:.0f}", per_second);
    if (per_second < 999'950) return fmt::format("{:.1f}k", per_second / 1e3);
    return fmt::format("{:.2f}M", per_second / 1e6);
}

std::string ProgressMeter::line(std::span<const FeedStats> feeds, std::chrono::steady_clock::time_point now,
                                std::size_t width) {
    double seconds = std::chrono::duration<double>(now - last_time_).count();
    last_time_ = now;
    if (seconds <= 0) seconds = 1;  // two calls within one clock tick: report counts, not infinity
    last_messages_.resize(feeds.size(), 0);

    std::vector<std::string> items;
    std::uint64_t total = 0;
    std::uint64_t drops = 0;
    for (std::size_t i = 0; i < feeds.size(); ++i) {
        std::uint64_t messages = feeds[i].counters->messages();
        std::uint64_t delta = messages - last_messages_[i];
        last_messages_[i] = messages;
        total += delta;
        drops += feeds[i].counters->drops();
        items.push_back(fmt::format("{} {}/s", log::one_line(feeds[i].name), format_rate(delta / seconds)));
    }
    std::string line = fmt::format("{} msg/s", format_rate(total / seconds));
    if (drops != last_drops_) line += fmt::format(" ({} dropped/s)", format_rate((drops - last_drops_) / seconds));
    last_drops_ = drops;
    line += ':';

    // Feeds in order, each only if "+N more" about those after it would
    // still fit: so when one does not, the room for that note is there.
    auto more = [](std::size_t n) { return fmt::format("+{} more", n); };
    std::string_view gap = " ";  // after the colon; two spaces between feeds
    std::size_t shown = 0;
    for (; shown < items.size(); ++shown) {
        std::size_t after = items.size() - shown - 1;
        std::size_t note = after > 0 ? 2 + more(after).size() : 0;
        if (line.size() + gap.size() + items[shown].size() + note > width) break;
        line += gap;
        line += items[shown];
        gap = "  ";
    }
    if (shown < items.size()) {
        line += gap;
        line += more(items.size() - shown);
    }
    if (line.size() > width) line.resize(width);  // a terminal too narrow even for the total
    return line;
}

}  // namespace wsgather
