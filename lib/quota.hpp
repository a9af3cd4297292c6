// --count: the run admits exactly N lines into the channel, whichever feeds
// they come from; the one that takes the last place ends the run. Feeds on
// several I/O threads (--threads) take places at once, hence the atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace wsgather {

class Quota {
public:
    // `on_reached` runs on the thread whose take() admitted the last line.
    Quota(std::uint64_t limit, std::function<void()> on_reached) : limit_(limit), on_reached_(std::move(on_reached)) {}

    // False once the limit has been reached: the line must not be written.
    bool take() {
        if (limit_ == 0) return true;
        // Refused takes still count, so the count may pass the limit; it
        // would take centuries of messages to wrap.
        std::uint64_t place = taken_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (place > limit_) return false;
        if (place == limit_) on_reached_();
        return true;
    }

private:
    const std::uint64_t limit_;  // zero: unlimited
    std::atomic<std::uint64_t> taken_{0};
    std::function<void()> on_reached_;
};

}  // namespace wsgather
