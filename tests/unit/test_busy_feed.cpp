#include "busy_feed.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace std::chrono_literals;
using wsgather::BusyFeed;

namespace {

// A feed's messages on a made-up clock.
struct Messages {
    BusyFeed feed;
    std::chrono::system_clock::time_point at{};

    // `count` more messages, `gap` apart; returns how many of them changed busy().
    int receive(int count, std::chrono::microseconds gap) {
        int changes = 0;
        for (int i = 0; i < count; ++i) {
            at += gap;
            changes += feed.update(at);
        }
        return changes;
    }
};

}  // namespace

TEST_CASE_FIXTURE(Messages, "a feed becomes busy at 10,000 messages a second, judged per 64 intervals") {
    // 64 intervals of 110 µs: 7.04 ms, slower than 10,000/s.
    CHECK(receive(65, 110us) == 0);
    CHECK_FALSE(feed.busy());
    // The first window of 100 µs intervals makes it busy on its last message, not before.
    CHECK(receive(63, 100us) == 0);
    CHECK_FALSE(feed.busy());
    CHECK(receive(1, 100us) == 1);
    CHECK(feed.busy());
}

TEST_CASE_FIXTURE(Messages, "a busy feed stays busy down to 8,000 messages a second") {
    REQUIRE(receive(65, 50us) == 1);
    // 64 × 120 µs = 7.68 ms: under the 8 ms a calm window takes.
    CHECK(receive(64 * 3, 120us) == 0);
    CHECK(feed.busy());
    // 64 × 130 µs = 8.32 ms.
    CHECK(receive(64, 130us) == 1);
    CHECK_FALSE(feed.busy());
}

TEST_CASE_FIXTURE(Messages, "a burst after silence is judged with the silence in its window") {
    REQUIRE(receive(65, 10us) == 1);
    // A second of nothing, then messages as fast as before: the window that
    // spans the silence ends busy mode, the next one starts it again.
    at += 1s;
    CHECK(receive(64, 10us) == 1);
    CHECK_FALSE(feed.busy());
    CHECK(receive(64, 10us) == 1);
    CHECK(feed.busy());
}

TEST_CASE_FIXTURE(Messages, "a new connection starts calm") {
    REQUIRE(receive(65, 10us) == 1);
    feed.reset();
    CHECK_FALSE(feed.busy());
    // The first message after a reset starts a window: 64 more are needed.
    CHECK(receive(64, 10us) == 0);
    CHECK(receive(1, 10us) == 1);
}
