// How long a feed waits before its next connection attempt.
#pragma once

#include "options.hpp"

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

namespace wsgather {

// Exponential backoff with full jitter above a floor: the n-th delay since the
// last reset is drawn uniformly from [min, min(max, min * 2^n)]. The floor
// keeps a server that accepts and at once closes from becoming a busy loop.
class Backoff {
public:
    Backoff(Duration min, Duration max, std::uint64_t seed = std::random_device{}());

    Duration next();
    void reset() { attempt_ = 0; }

private:
    Duration min_, max_;
    unsigned attempt_ = 0;
    std::mt19937_64 rng_;
};

// The value of an HTTP Retry-After header: delay-seconds, or an HTTP date
// (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") taken relative to `now`.
std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace wsgather
