// Quota: --count admits exactly N lines across all feeds.
#include "quota.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace wsgather;

TEST_CASE("quota with limit 3 admits exactly 3 and reports the limit once, at the third") {
    int admitted = 0;
    std::vector<int> reached_after;  // how many were admitted when on_reached ran
    Quota quota(3, [&] { reached_after.push_back(admitted); });
    for (int i = 0; i < 10; ++i)
        if (quota.take()) ++admitted;
    CHECK(admitted == 3);
    // It runs inside the third take(), before that take() returns.
    CHECK(reached_after == std::vector<int>{2});
}

TEST_CASE("quota admits the first lines and refuses every later one") {
    int reached = 0;
    Quota quota(3, [&] { ++reached; });
    CHECK(quota.take());
    CHECK(quota.take());
    CHECK(reached == 0);
    CHECK(quota.take());
    CHECK(reached == 1);
    CHECK_FALSE(quota.take());
    CHECK_FALSE(quota.take());
    CHECK(reached == 1);
}

TEST_CASE("quota with limit 1 ends at the first line") {
    int reached = 0;
    Quota quota(1, [&] { ++reached; });
    CHECK(quota.take());
    CHECK(reached == 1);
    CHECK_FALSE(quota.take());
    CHECK(reached == 1);
}

TEST_CASE("quota with limit 0 admits every line and never reports") {
    int reached = 0;
    Quota quota(0, [&] { ++reached; });
    for (int i = 0; i < 100'000; ++i) REQUIRE(quota.take());
    CHECK(reached == 0);
}

TEST_CASE("quota may be taken from inside its own callback without a second report") {
    // The run's stop() can make a feed's last take() re-enter; it must be refused.
    int reached = 0;
    bool inner = true;
    Quota* self = nullptr;
    Quota quota(2, [&] {
        ++reached;
        inner = self->take();
    });
    self = &quota;
    CHECK(quota.take());
    CHECK(quota.take());
    CHECK(reached == 1);
    CHECK_FALSE(inner);
}

TEST_CASE("quota admits exactly the limit when four threads take at once") {
    std::atomic<int> reached{0};
    Quota quota(10'000, [&] { ++reached; });
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 5'000; ++i)
                if (quota.take()) ++admitted;
        });
    for (std::thread& thread : threads) thread.join();
    CHECK(admitted == 10'000);
    CHECK(reached == 1);
}
