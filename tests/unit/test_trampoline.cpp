// Trampoline: handlers posted from a handler run right after it, never
// inside the post, in order, at most max_run in a row, and none is lost.
#include "feed_io.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <array>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace wsgather;
namespace asio = boost::asio;

namespace {

// Posts `count` handlers in a chain, each from inside the one before, and
// records them as "<name><i>".
void chain(asio::any_io_executor ex, std::string name, int i, int count, std::vector<std::string>& events) {
    if (i == count) return;
    asio::post(ex, [=, &events] {
        events.push_back(name + std::to_string(i));
        chain(ex, name, i + 1, count, events);
    });
}

}  // namespace

TEST_CASE("a handler posted from a trampoline handler runs before work the scheduler already holds") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    std::vector<std::string> events;
    chain(feeds, "t", 0, 3, events);
    asio::post(io, [&] { events.push_back("plain"); });
    io.run();
    // Through the plain executor the order would be t0, plain, t1, t2.
    CHECK(events == std::vector<std::string>{"t0", "t1", "t2", "plain"});
}

TEST_CASE("handlers too large to be stored in place run once each, in order, and are destroyed") {
    asio::io_context io;
    FeedExecutor feeds(io.get_executor());  // not through any_io_executor, which would box them itself
    std::vector<std::string> events;
    auto alive = std::make_shared<int>(0);
    struct Large {
        std::array<char, 400> bytes{};
    };
    asio::post(feeds, [&events, feeds, alive] {
        for (int i = 0; i < 3; ++i)
            asio::post(feeds, [&events, i, alive, large = Large{}] {
                events.push_back("large" + std::to_string(i) + "/" + std::to_string(large.bytes.size()));
            });
        events.push_back("outer");
    });
    io.run();
    CHECK(events == std::vector<std::string>{"outer", "large0/400", "large1/400", "large2/400"});
    CHECK(alive.use_count() == 1);  // no handler, boxed or not, outlived its run
}

TEST_CASE("a trampoline post never runs the handler inside the post call") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    std::vector<std::string> events;
    asio::post(feeds, [&] {
        asio::post(feeds, [&] { events.push_back("inner"); });
        events.push_back("after post");
    });
    io.run();
    CHECK(events == std::vector<std::string>{"after post", "inner"});
}

TEST_CASE("after max_run handlers in a row the scheduler gets its turn, and the chain goes on") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    std::vector<std::string> events;
    const int length = FeedExecutor::max_run + 10;
    chain(feeds, "t", 0, length, events);
    asio::post(io, [&] { events.push_back("plain"); });
    io.run();
    REQUIRE(events.size() == static_cast<std::size_t>(length + 1));
    CHECK(events[FeedExecutor::max_run - 1] == "t" + std::to_string(FeedExecutor::max_run - 1));
    CHECK(events[FeedExecutor::max_run] == "plain");
    CHECK(events.back() == "t" + std::to_string(length - 1));
}

TEST_CASE("handlers queued behind one that throws still run") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    std::vector<std::string> events;
    asio::post(feeds, [&] {
        asio::post(feeds, [&] { events.push_back("queued"); });
        throw std::runtime_error("boom");
    });
    CHECK_THROWS_WITH_AS(io.run(), "boom", std::runtime_error);
    io.restart();
    io.run();
    CHECK(events == std::vector<std::string>{"queued"});
}

TEST_CASE("a large handler is kept whole") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    std::string seen;
    std::string big(200, 'x');
    asio::post(feeds, [&, big] { asio::post(feeds, [&, big] { seen = big; }); });
    io.run();
    CHECK(seen == big);
}

TEST_CASE("a coroutine runs on the trampoline and its timers complete") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    int woken = 0;
    asio::co_spawn(
        feeds,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timer(co_await asio::this_coro::executor);
            for (int i = 0; i < 3; ++i) {
                timer.expires_after(std::chrono::milliseconds(1));
                co_await timer.async_wait(asio::use_awaitable);
                ++woken;
            }
        },
        [](std::exception_ptr e) { REQUIRE_FALSE(e); });
    io.run();
    CHECK(woken == 3);
}

// --threads: each I/O thread has its own io_context and trampoline. What a
// handler on one posts to another's must run on that other thread, not join
// the queue of the thread that posted it.
TEST_CASE("a handler posted from one trampoline's handler to another io_context runs on that one's thread") {
    asio::io_context first_io, second_io;
    asio::any_io_executor first = FeedExecutor(first_io.get_executor());
    asio::any_io_executor second = FeedExecutor(second_io.get_executor());
    auto work = asio::make_work_guard(second_io);
    std::thread second_thread([&] { second_io.run(); });

    std::thread::id ran_on, first_thread_id;
    std::promise<void> ran;
    asio::post(first, [&] {
        first_thread_id = std::this_thread::get_id();
        asio::post(second, [&] {
            ran_on = std::this_thread::get_id();
            ran.set_value();
        });
    });
    first_io.run();
    ran.get_future().wait();
    std::thread::id second_thread_id = second_thread.get_id();
    work.reset();
    second_thread.join();
    CHECK(ran_on == second_thread_id);
    CHECK(ran_on != first_thread_id);
}

TEST_CASE("a trampoline dispatch from a thread that does not run its io_context is posted, not run there") {
    asio::io_context io;
    asio::any_io_executor feeds = FeedExecutor(io.get_executor());
    bool ran = false;
    asio::dispatch(feeds, [&] { ran = true; });
    CHECK_FALSE(ran);  // this thread is not in io.run()
    io.run();
    CHECK(ran);

    // Inside io.run(), a dispatch from a handler that is not the
    // trampoline's may run at once, as io_context's own executor would.
    std::vector<std::string> events;
    asio::post(io, [&] {
        asio::dispatch(feeds, [&] { events.push_back("dispatched"); });
        events.push_back("after dispatch");
    });
    io.restart();
    io.run();
    CHECK(events == std::vector<std::string>{"dispatched", "after dispatch"});
}
