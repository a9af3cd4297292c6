// The progress line: rates per feed since the previous line, cut to the
// terminal's width.
#include "progress.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace wsgather;

namespace {

const auto t0 = std::chrono::steady_clock::time_point(std::chrono::seconds(1000));

void receive(FeedCounters& counters, int messages) {
    for (int i = 0; i < messages; ++i) counters.count_message(10, std::chrono::system_clock::now());
}

}  // namespace

TEST_CASE("rates stay short as they grow") {
    CHECK(format_rate(0) == "0");
    CHECK(format_rate(0.4) == "0");
    CHECK(format_rate(950) == "950");
    CHECK(format_rate(9999) == "9999");
    CHECK(format_rate(12'345) == "12.3k");
    CHECK(format_rate(999'949) == "999.9k");
    CHECK(format_rate(4'560'000) == "4.56M");
}

TEST_CASE("the progress line gives each feed's rate since the previous line, and the total") {
    FeedCounters a, b;
    std::array feeds{FeedStats{"a", &a}, FeedStats{"b", &b}};
    ProgressMeter meter(t0);
    receive(a, 400);
    receive(b, 100);
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(2), 80) == "250 msg/s: a 200/s  b 50/s");
    receive(a, 30);
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(3), 80) == "30 msg/s: a 30/s  b 0/s");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(4), 80) == "0 msg/s: a 0/s  b 0/s");
}

TEST_CASE("the progress line shows drops only while there are some") {
    FeedCounters a;
    std::array feeds{FeedStats{"a", &a}};
    ProgressMeter meter(t0);
    receive(a, 10);
    for (int i = 0; i < 4; ++i) a.count_drop();
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(1), 80) == "10 msg/s (4 dropped/s): a 10/s");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(2), 80) == "0 msg/s: a 0/s");
}

TEST_CASE("feeds that do not fit the width are counted, not cut") {
    FeedCounters counters[4];
    std::array feeds{FeedStats{"alpha", &counters[0]}, FeedStats{"beta", &counters[1]},
                     FeedStats{"gamma", &counters[2]}, FeedStats{"delta", &counters[3]}};
    ProgressMeter meter(t0);
    std::string full = meter.line(feeds, t0 + std::chrono::seconds(1), 200);
    CHECK(full == "0 msg/s: alpha 0/s  beta 0/s  gamma 0/s  delta 0/s");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(2), full.size()) == full);
    // One column less: delta does not fit, and the note about it does.
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(3), full.size() - 1) ==
          "0 msg/s: alpha 0/s  beta 0/s  gamma 0/s  +1 more");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(4), 37) == "0 msg/s: alpha 0/s  beta 0/s  +2 more");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(4), 20) == "0 msg/s: +4 more");
    CHECK(meter.line(feeds, t0 + std::chrono::seconds(5), 5) == "0 msg");
}
