// Reconnect delays and Retry-After.
#include "backoff.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

using namespace wsgather;
using namespace std::chrono_literals;

namespace {

// The ceiling of the n-th delay after a reset: min(max, min * 2^n).
Duration ceiling(Duration min, Duration max, unsigned n) {
    Duration c = min;
    for (unsigned i = 0; i < n && c < max; ++i) c = std::min(max, c * 2);
    return c;
}

}  // namespace

TEST_CASE("backoff delays stay within min and the doubling ceiling") {
    const Duration min = 100ms, max = 10s;
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        Backoff backoff(min, max, seed);
        for (unsigned n = 1; n <= 100; ++n) {
            Duration d = backoff.next();
            CAPTURE(seed);
            CAPTURE(n);
            auto d_ms = d.count();
            CAPTURE(d_ms);
            REQUIRE(d >= min);
            REQUIRE(d <= ceiling(min, max, n));
            REQUIRE(d <= max);
        }
    }
    CHECK(ceiling(min, max, 1) == 200ms);
    CHECK(ceiling(min, max, 7) == 10s);  // 12.8 s capped at max
}

TEST_CASE("backoff ceiling grows with each attempt") {
    // Over many seeds, the n-th delays reach past the ceiling of attempt n-1
    // (so the ceiling really grew) and never past their own.
    const Duration min = 100ms, max = 100s;
    for (unsigned n = 1; n <= 8; ++n) {
        Duration largest{0};
        for (std::uint64_t seed = 1; seed <= 200; ++seed) {
            Backoff backoff(min, max, seed);
            Duration d{};
            for (unsigned i = 1; i <= n; ++i) d = backoff.next();
            largest = std::max(largest, d);
        }
        CAPTURE(n);
        auto largest_ms = largest.count();
        CAPTURE(largest_ms);
        CHECK(largest > ceiling(min, max, n - 1));
        CHECK(largest <= ceiling(min, max, n));
    }
}

TEST_CASE("backoff never exceeds max after many attempts") {
    Backoff backoff(1ms, 250ms, 7);
    Duration largest{0};
    for (int i = 0; i < 10'000; ++i) {
        Duration d = backoff.next();
        REQUIRE(d >= 1ms);
        REQUIRE(d <= 250ms);
        largest = std::max(largest, d);
    }
    CHECK(largest > 125ms);  // the ceiling did reach max
}

TEST_CASE("backoff reset brings the ceiling back to twice min") {
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        Backoff backoff(100ms, 60s, seed);
        for (int i = 0; i < 20; ++i) backoff.next();
        backoff.reset();
        Duration d = backoff.next();
        CAPTURE(seed);
        REQUIRE(d >= 100ms);
        REQUIRE(d <= 200ms);
        Duration second = backoff.next();
        REQUIRE(second <= 400ms);
    }
}

TEST_CASE("backoff with min equal to max always waits exactly min") {
    Backoff backoff(750ms, 750ms, 3);
    for (int i = 0; i < 100; ++i) REQUIRE(backoff.next() == 750ms);
}

TEST_CASE("backoff with max below min always waits exactly min") {
    Backoff backoff(2s, 1s, 3);
    for (int i = 0; i < 100; ++i) REQUIRE(backoff.next() == 2s);
}

TEST_CASE("backoff with the same seed draws the same delays") {
    Backoff a(100ms, 30s, 42), b(100ms, 30s, 42);
    for (int i = 0; i < 50; ++i) REQUIRE(a.next() == b.next());
}

TEST_CASE("retry-after reads delay-seconds, spaces around allowed") {
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000'000));
    CHECK(parse_retry_after("120", now) == Duration(120'000));
    CHECK(parse_retry_after(" 5 ", now) == Duration(5'000));
    CHECK(parse_retry_after("0", now) == Duration(0));
    CHECK(parse_retry_after("31536000", now) == Duration(31'536'000'000));  // a year is the most
    CHECK_FALSE(parse_retry_after("31536001", now).has_value());
}

TEST_CASE("retry-after reads an HTTP date relative to now") {
    // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 seconds after the epoch.
    const auto date = std::chrono::system_clock::time_point(std::chrono::seconds(784'111'777));
    const char* value = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(parse_retry_after(value, date - 30s) == Duration(30'000));
    CHECK(parse_retry_after(value, date - 1h) == Duration(3'600'000));
    CHECK(parse_retry_after(value, date - 1500ms) == Duration(1'500));
    CHECK(parse_retry_after(" Sun, 06 Nov 1994 08:49:37 GMT ", date - 2s) == Duration(2'000));
}

TEST_CASE("retry-after date in the past or now means no wait") {
    const auto date = std::chrono::system_clock::time_point(std::chrono::seconds(784'111'777));
    const char* value = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(parse_retry_after(value, date) == Duration(0));
    CHECK(parse_retry_after(value, date + 1s) == Duration(0));
    CHECK(parse_retry_after(value, date + 24h) == Duration(0));
}

TEST_CASE("retry-after refuses anything else") {
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000'000));
    for (const char* bad : {"", " ", "soon", "-5", "+5", "5s", "1.5", "0x10", "Sun, 06 Nov 1994 08:49:37",
                            "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sunday, 06-Nov-94 08:49:37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_retry_after(bad, now).has_value());
    }
}
