// The send time the load server puts in each message, and how W5's readers
// (the latency reader behind a tool's stdout, and the ceiling client) turn it
// into a latency: microseconds on the system clock, which the server and
// its readers share on this machine.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace wsgather::bench {

inline std::uint64_t now_us()
{
    using namespace std::chrono;
    return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

// The field the server writes, and its readers look for.
inline constexpr std::string_view sent_field = "\"sent_us\":";

// The send time in a message or output line; -1 when it has none.
inline std::int64_t sent_us(std::string_view text)
{
    auto at = text.find(sent_field);
    if (at == std::string_view::npos)
        return -1;
    at += sent_field.size();
    while (at < text.size() && text[at] == ' ')
        ++at;
    std::int64_t value = 0;
    bool digits = false;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
        value = value * 10 + (text[at] - '0');
        digits = true;
    }
    return digits ? value : -1;
}

// One latency per line, in microseconds, as bench.py reads them; false on a
// write error.
inline bool write_latencies(std::FILE* out, std::vector<std::int64_t> const& latencies)
{
    std::string text;
    text.reserve(latencies.size() * 8);
    for (auto latency : latencies)
        text += std::to_string(latency) + '\n';
    return std::fwrite(text.data(), 1, text.size(), out) == text.size() && std::fflush(out) == 0;
}

} // namespace wsgather::bench
