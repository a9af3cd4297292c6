// --count: the run admits exactly N lines into the channel, whichever feeds
// they come from; the one that takes the last place ends the run.
#pragma once

#include <cstdint>
#include <functional>

namespace wsgather {

class Quota {
public:
    Quota(std::uint64_t limit, std::function<void()> on_reached) : limit_(limit), on_reached_(std::move(on_reached)) {}

    // False once the limit has been reached: the line must not be written.
    bool take() {
        if (limit_ == 0) return true;
        if (taken_ >= limit_) return false;
        if (++taken_ == limit_) on_reached_();
        return true;
    }

private:
    std::uint64_t limit_;  // zero: unlimited
    std::uint64_t taken_ = 0;
    std::function<void()> on_reached_;
};

}  // namespace wsgather
