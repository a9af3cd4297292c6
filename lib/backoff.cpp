#include "backoff.hpp"

#include "units.hpp"

#include <ctime>
#include <string>

namespace wsgather {

Backoff::Backoff(Duration min, Duration max, std::uint64_t seed) : min_(min), max_(std::max(min, max)), rng_{seed} {}

Duration Backoff::next() {
    if (attempt_ < 63) ++attempt_;
    // Doubling min until it passes max, instead of shifting, cannot overflow.
    Duration ceiling = min_;
    for (unsigned i = 0; i < attempt_ && ceiling < max_; ++i) ceiling = std::min(max_, ceiling * 2);
    std::uniform_int_distribution<Duration::rep> pick(min_.count(), ceiling.count());
    return Duration(pick(rng_));
}

std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (auto seconds = parse_count(value)) {
        if (*seconds > 365ull * 24 * 3600) return std::nullopt;
        return std::chrono::seconds(*seconds);
    }
    std::tm tm{};
    std::string text(value);
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    if (when <= now) return Duration(0);
    return std::chrono::duration_cast<Duration>(when - now);
}

}  // namespace wsgather
