// wsgather-bench-latency: the reader at the other end of a tool's stdout in
// W5, the latency workload.
//
//   TOOL ... | wsgather-bench-latency DATA_FILE > LATENCIES
//
// Reads stdin until it ends, taking the time of each read. A line's latency
// is the time of the read that brought its newline minus the send time the
// load server embedded in it ("sent_us", microseconds since the epoch). What
// it reads goes to DATA_FILE as it comes, for the correctness check; at the
// end, one latency per line, in microseconds, goes to stdout.
//
// Why not the bench script itself: a Python reader takes tens of
// microseconds per read, and on a 2-core machine shared with the server and
// the tool, its own scheduling showed up in the tail it was measuring.

#include "latency.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using wsgather::bench::now_us;
using wsgather::bench::sent_us;

bool write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 2) {
        std::fputs("usage: wsgather-bench-latency DATA_FILE < tool-output > latencies\n", stderr);
        return 2;
    }
    int const data_fd = ::open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (data_fd < 0) {
        std::fprintf(stderr, "wsgather-bench-latency: %s: %s\n", argv[1], std::strerror(errno));
        return 1;
    }

    // Each read goes to the data file before the next: holding the whole
    // run in memory would stall this reader on page faults as it grew.
    constexpr std::size_t read_size = 1u << 20;
    std::vector<char> buffer(read_size);
    std::string partial; // the start of a line whose newline has not come yet
    std::vector<std::int64_t> latencies;
    latencies.reserve(1u << 20);
    for (;;) {
        ssize_t n = ::read(0, buffer.data(), buffer.size());
        auto const arrived = static_cast<std::int64_t>(now_us());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            std::fprintf(stderr, "wsgather-bench-latency: read: %s\n", std::strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
        if (!write_all(data_fd, chunk)) {
            std::fprintf(stderr, "wsgather-bench-latency: %s: %s\n", argv[1], std::strerror(errno));
            return 1;
        }
        for (std::size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
            std::string_view line = chunk.substr(0, nl);
            if (!partial.empty()) {
                partial += line;
                line = partial;
            }
            std::int64_t const sent = sent_us(line);
            if (sent >= 0)
                latencies.push_back(arrived - sent);
            partial.clear();
        }
        partial += chunk;
    }

    bool const ok = ::close(data_fd) == 0 && wsgather::bench::write_latencies(stdout, latencies);
    if (!ok) {
        std::fprintf(stderr, "wsgather-bench-latency: writing results: %s\n", std::strerror(errno));
        return 1;
    }
    return 0;
}
