// TaskGroup: spawn coroutines, join waits for all and rethrows the first error.
#include "task_group.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace wsgather;
namespace asio = boost::asio;

namespace {

// Waits `turns` zero-length timers (each a trip through the event loop),
// then records its name.
FeedTask<> worker(std::string name, int turns, std::vector<std::string>& events) {
    auto executor = co_await asio::this_coro::executor;
    for (int i = 0; i < turns; ++i) {
        FeedTimer timer(executor, std::chrono::steady_clock::duration::zero());
        co_await timer.async_wait(asio::use_awaitable_t<FeedExecutor>{});
    }
    events.push_back(name);
}

FeedTask<> failing(std::string message, int turns, std::vector<std::string>& events) {
    co_await worker("fail " + message, turns, events);
    throw std::runtime_error(message);
}

// Joins `group` and records how it ended.
FeedTask<> joiner(TaskGroup& group, std::vector<std::string>& events) {
    try {
        co_await group.join();
        events.push_back("joined");
    } catch (const std::runtime_error& e) {
        events.push_back(std::string("join threw ") + e.what());
    }
}

void spawn_joiner(asio::io_context& io, TaskGroup& group, std::vector<std::string>& events) {
    asio::co_spawn(FeedExecutor(io.get_executor()), joiner(group, events),
                   [](std::exception_ptr error) { REQUIRE_FALSE(error); });
}

}  // namespace

TEST_CASE("task group join waits for every spawned task") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    group.spawn(worker("slow", 20, events));
    group.spawn(worker("instant", 0, events));
    group.spawn(worker("medium", 5, events));
    CHECK(group.running() == 3);
    spawn_joiner(io, group, events);
    io.run();
    CHECK(events == std::vector<std::string>{"instant", "medium", "slow", "joined"});
    CHECK(group.running() == 0);
}

TEST_CASE("task group join with nothing spawned returns at once") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    spawn_joiner(io, group, events);
    io.poll();  // no timers involved: it finishes in the handlers ready now
    CHECK(events == std::vector<std::string>{"joined"});
    CHECK(io.stopped());
}

TEST_CASE("task group join after all tasks finished returns at once") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    group.spawn(worker("a", 1, events));
    group.spawn(worker("b", 0, events));
    io.run();
    CHECK(group.running() == 0);
    io.restart();
    spawn_joiner(io, group, events);
    io.poll();
    CHECK(events == std::vector<std::string>{"b", "a", "joined"});
}

TEST_CASE("task group join rethrows an exception after the other tasks finished") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    group.spawn(failing("boom", 0, events));
    group.spawn(worker("slow", 10, events));
    spawn_joiner(io, group, events);
    io.run();
    CHECK(events == std::vector<std::string>{"fail boom", "slow", "join threw boom"});
}

TEST_CASE("task group join rethrows the first exception only, and only once") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    group.spawn(failing("second", 4, events));
    group.spawn(failing("first", 1, events));
    group.spawn(worker("last", 8, events));
    spawn_joiner(io, group, events);
    io.run();
    CHECK(events == std::vector<std::string>{"fail first", "fail second", "last", "join threw first"});

    io.restart();
    spawn_joiner(io, group, events);
    io.run();
    CHECK(events.back() == "joined");
}

TEST_CASE("task group join also waits for tasks spawned while it waits") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    auto spawner = [&]() -> FeedTask<> {
        co_await worker("parent", 2, events);
        group.spawn(worker("child", 5, events));
    };
    group.spawn(spawner());
    spawn_joiner(io, group, events);
    io.run();
    CHECK(events == std::vector<std::string>{"parent", "child", "joined"});
}

TEST_CASE("task group join waits for a chain of tracked handlers") {
    asio::io_context io;
    TaskGroup group(FeedExecutor(io.get_executor()));
    std::vector<std::string> events;
    FeedTimer timer(FeedExecutor(io.get_executor()));
    int links = 0;
    // Each link re-arms the timer from inside a tracked handler: the group
    // stays busy across the hand-over from one link to the next.
    std::function<void()> next = [&] {
        timer.expires_after(std::chrono::steady_clock::duration::zero());
        timer.async_wait(group.track([&](boost::system::error_code ec) {
            REQUIRE_FALSE(ec);
            if (++links < 3) next();
            else events.push_back("chain done");
        }));
    };
    next();
    CHECK(group.running() == 1);
    spawn_joiner(io, group, events);
    io.run();
    CHECK(links == 3);
    CHECK(events == std::vector<std::string>{"chain done", "joined"});
    CHECK(group.running() == 0);
}
