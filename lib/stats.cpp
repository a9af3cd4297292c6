#include "stats.hpp"

#include "envelope.hpp"

#include <fmt/format.h>

namespace wsgather {

std::string stats_line(std::string_view type, std::chrono::system_clock::time_point now, std::size_t queue,
                       std::span<const FeedStats> feeds) {
    std::string line = fmt::format("{{\"type\":\"{}\",\"ts\":\"", type);
    append_timestamp(now, line);
    line += fmt::format("\",\"queue\":{},\"feeds\":{{", queue);
    bool first = true;
    for (const FeedStats& feed : feeds) {
        if (!first) line += ',';
        first = false;
        append_json_string(feed.name, line);
        const FeedCounters& c = *feed.counters;
        std::string age = "null";
        if (c.last_message().time_since_epoch().count() != 0)
            age = fmt::format("{}", std::max<std::int64_t>(
                                        0, std::chrono::duration_cast<std::chrono::milliseconds>(now - c.last_message())
                                               .count()));
        line += fmt::format(
            ":{{\"messages\":{},\"bytes\":{},\"reconnects\":{},\"drops\":{},\"last_message_age_ms\":{}}}",
            c.messages(), c.bytes(), c.reconnects(), c.drops(), age);
    }
    line += "}}";
    return line;
}

}  // namespace wsgather
