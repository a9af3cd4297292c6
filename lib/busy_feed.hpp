// --coalesce auto: whether a feed receives messages fast enough for its
// reads to be coalesced. Below about 10,000 messages a second, reading each
// message as it comes costs little and a wait would only add latency; above
// it, a feed of small messages read one by one costs a system call and a
// wake-up per message on both ends (docs/performance.md, "Coalescing reads").
//
// Judged once per window of 64 messages from their receive times, which the
// read loop has anyway: no clock read of its own, and 16 bytes per feed.
// A feed becomes busy at 10,000 messages a second and calm again below
// 8,000, so that one near the line does not switch at every window.
#pragma once

#include <chrono>
#include <cstdint>

namespace wsgather {

class BusyFeed {
public:
    static constexpr std::uint32_t window = 64;  // intervals between messages
    static constexpr std::chrono::microseconds busy_window{6'400};
    static constexpr std::chrono::microseconds calm_window{8'000};

    bool busy() const { return busy_; }

    // Called for every message, in order. True when this message changed busy().
    bool update(std::chrono::system_clock::time_point received) {
        if (count_++ == 0) {
            window_start_ = received;
            return false;
        }
        if (count_ <= window) return false;
        auto elapsed = received - window_start_;
        window_start_ = received;  // and this message starts the next window
        count_ = 1;
        bool was_busy = busy_;
        busy_ = elapsed <= (busy_ ? calm_window : busy_window);
        return busy_ != was_busy;
    }

    // A new connection starts calm.
    void reset() { *this = BusyFeed(); }

private:
    std::chrono::system_clock::time_point window_start_{};
    std::uint32_t count_ = 0;
    bool busy_ = false;
};

}  // namespace wsgather
