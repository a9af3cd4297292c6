// --stats: per-feed counters, kept by each feed on its own I/O thread and
// read from the first one, and the JSON line they are reported in.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsgather {

// Written by one feed only, so each update is a plain load and store
// (relaxed atomics: no locked instruction per message); read by the stats
// timer from any thread. Drops are the exception: with --overflow
// drop-oldest, a feed on another thread may drop this feed's message.
class FeedCounters {
public:
    void count_message(std::size_t bytes, std::chrono::system_clock::time_point received) {
        bump(messages_, 1);
        bump(bytes_, bytes);
        last_message_.store(received.time_since_epoch().count(), std::memory_order_relaxed);
    }
    void count_reconnect() { bump(reconnects_, 1); }
    void count_drop() { drops_.fetch_add(1, std::memory_order_relaxed); }

    std::uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
    std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    std::uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
    std::uint64_t drops() const { return drops_.load(std::memory_order_relaxed); }
    // The time of the last message; the epoch when there was none.
    std::chrono::system_clock::time_point last_message() const {
        return std::chrono::system_clock::time_point(
            std::chrono::system_clock::duration(last_message_.load(std::memory_order_relaxed)));
    }

private:
    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by) {
        counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }

    std::atomic<std::uint64_t> messages_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::uint64_t> drops_{0};
    std::atomic<std::chrono::system_clock::rep> last_message_{0};
};

struct FeedStats {
    std::string_view name;
    const FeedCounters* counters;
};

// {"type":"<type>","ts":"...","queue":N,"feeds":{"<name>":{"messages":N,
// "bytes":N,"reconnects":N,"drops":N,"last_message_age_ms":N or null}}}
// `queue` is the number of messages waiting for the writer.
std::string stats_line(std::string_view type, std::chrono::system_clock::time_point now, std::size_t queue,
                       std::span<const FeedStats> feeds);

}  // namespace wsgather
