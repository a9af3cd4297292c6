// How long a feed waits before its next connection attempt.
#pragma once

#include "options.hpp"

#include <chrono>
#include <cstdint>
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
    // SplitMix64: jitter needs spread, not secrecy, and this state is 8
    // bytes where std::mt19937_64's is 2.5 KB, once per feed (10,000 idle
    // feeds are a use case).
    struct SplitMix64 {
        using result_type = std::uint64_t;
        static constexpr result_type min() { return 0; }
        static constexpr result_type max() { return ~result_type{0}; }
        result_type operator()() {
            std::uint64_t z = state += 0x9E3779B97F4A7C15u;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
            return z ^ (z >> 31);
        }
        std::uint64_t state;
    };

    Duration min_, max_;
    unsigned attempt_ = 0;
    SplitMix64 rng_;
};

// The value of an HTTP Retry-After header: delay-seconds, or an HTTP date
// (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") taken relative to `now`.
std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace wsgather
