// Small pieces shared by the project's own WebSocket peers: the test server
// (tests/server), and the load server and ceiling client of bench/. The demo
// server in examples/ stays self-contained, as an example should.
#pragma once

#include <sys/resource.h>

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace wsgather::peer {

// One line on stdout, flushed at once: tests and the benchmark driver block
// on these lines.
inline void emit(std::string const& line)
{
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// The whole of `text` as a number, or nothing.
template <class T>
std::optional<T> parse_number(std::string_view text)
{
    T value{};
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// Thousands of connections need far more descriptors than the usual soft
// limit of 1024: take the hard limit.
inline void raise_fd_limit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            std::perror("setrlimit");
    }
}

} // namespace wsgather::peer
