// The line channel's backpressure, and the writer that drains it into a sink.
#include "channel.hpp"
#include "sink.hpp"
#include "temp_file.hpp"
#include "writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace wsgather;
using wsgather::test::read_file;
using wsgather::test::TempPath;
namespace asio = boost::asio;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Sends `lines` in order, as a feed does, counting the sends that completed.
asio::awaitable<void> produce(LineChannel& channel, std::vector<std::string> lines, int& completed,
                              bool& finished) {
    for (std::string& line : lines) {
        auto [ec] = co_await channel.async_send(boost::system::error_code{}, std::move(line), use_tuple);
        REQUIRE_FALSE(ec);
        ++completed;
    }
    finished = true;
}

std::optional<std::string> try_receive(LineChannel& channel) {
    std::optional<std::string> received;
    channel.try_receive([&](boost::system::error_code ec, std::string line) {
        REQUIRE_FALSE(ec);
        received = std::move(line);
    });
    return received;
}

// Runs write_lines on `io` with a one-thread pool for the blocking writes,
// next to a producer that sends `lines` and then the end-of-lines marker.
WriteResult write_all(std::size_t capacity, const std::vector<std::string>& lines, Sink& sink) {
    asio::io_context io;
    asio::thread_pool pool(1);
    LineChannel channel(io, capacity);
    std::vector<std::string> with_end = lines;
    with_end.emplace_back();  // end of lines
    int completed = 0;
    bool finished = false;
    std::optional<WriteResult> result;
    asio::co_spawn(io, produce(channel, with_end, completed, finished), asio::detached);
    asio::co_spawn(io, write_lines(channel, sink, pool.get_executor()),
                   [&](std::exception_ptr error, WriteResult r) {
                       REQUIRE_FALSE(error);
                       result = r;
                   });
    io.run();
    pool.join();
    CHECK(finished);
    CHECK(completed == static_cast<int>(with_end.size()));
    REQUIRE(result.has_value());
    return *result;
}

}  // namespace

TEST_CASE("a full line channel suspends the sender until a line is taken") {
    asio::io_context io;
    LineChannel channel(io, 2);
    int completed = 0;
    bool finished = false;
    asio::co_spawn(io, produce(channel, {"l0\n", "l1\n", "l2\n", "l3\n", "l4\n"}, completed, finished),
                   asio::detached);

    io.poll();
    // Two sends find room in the buffer and complete; the third finds it
    // full and waits. Nothing else can run, so the producer stays there.
    CHECK(completed == 2);
    CHECK_FALSE(finished);
    CHECK(channel.ready());
    io.poll();
    CHECK(completed == 2);

    // Taking a line frees a place: the waiting send's line moves into the
    // buffer at once, and the producer resumes on the next poll, sends its
    // fourth line and waits again on a full buffer.
    CHECK(try_receive(channel) == "l0\n");
    CHECK(completed == 2);  // the resumption is posted, not run inline
    io.poll();
    CHECK(completed == 3);
    CHECK_FALSE(finished);

    CHECK(try_receive(channel) == "l1\n");
    io.poll();
    CHECK(completed == 4);

    CHECK(try_receive(channel) == "l2\n");
    io.poll();
    CHECK(completed == 5);
    CHECK(finished);

    CHECK(try_receive(channel) == "l3\n");
    CHECK(try_receive(channel) == "l4\n");
    CHECK_FALSE(try_receive(channel).has_value());
    CHECK_FALSE(channel.ready());
}

TEST_CASE("a line channel hands every line over once, in order") {
    asio::io_context io;
    LineChannel channel(io, 3);
    std::vector<std::string> sent;
    for (int i = 0; i < 100; ++i) sent.push_back("line " + std::to_string(i) + "\n");
    int completed = 0;
    bool finished = false;
    asio::co_spawn(io, produce(channel, sent, completed, finished), asio::detached);

    std::vector<std::string> received;
    for (int round = 0; round < 1000 && received.size() < sent.size(); ++round) {
        io.poll();
        // Take at most two per round, so the buffer is sometimes full.
        for (int i = 0; i < 2; ++i)
            if (auto line = try_receive(channel)) received.push_back(*line);
    }
    io.poll();
    CHECK(finished);
    CHECK(completed == 100);
    CHECK(received == sent);
}

TEST_CASE("the writer writes every line to the file in order, then stops at the end marker") {
    TempPath temp;
    OutputOptions output;
    output.path = temp.path;
    Sink sink(output);
    WriteResult result = write_all(4, {"{\"a\":1}\n", "second\n", "third line\n"}, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 3);
    CHECK(read_file(temp.path) == "{\"a\":1}\nsecond\nthird line\n");
}

TEST_CASE("the writer with nothing but the end marker writes nothing") {
    TempPath temp;
    OutputOptions output;
    output.path = temp.path;
    Sink sink(output);
    WriteResult result = write_all(1, {}, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 0);
    CHECK(read_file(temp.path).empty());
}

TEST_CASE("the writer loses no line through a channel of capacity 1") {
    TempPath temp;
    OutputOptions output;
    output.path = temp.path;
    Sink sink(output);
    std::vector<std::string> lines;
    std::string expected;
    for (int i = 0; i < 10'000; ++i) {
        lines.push_back(std::to_string(i) + "\n");
        expected += lines.back();
    }
    WriteResult result = write_all(1, lines, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 10'000);
    CHECK(read_file(temp.path) == expected);
}

TEST_CASE("the writer gathers lines past its 1 MiB batch into more writes without loss") {
    TempPath temp;
    OutputOptions output;
    output.path = temp.path;
    Sink sink(output);
    std::vector<std::string> lines;
    std::string expected;
    for (int i = 0; i < 40; ++i) {
        lines.push_back(std::string(100'000, static_cast<char>('a' + i % 26)) + "\n");
        expected += lines.back();
    }
    WriteResult result = write_all(64, lines, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 40);
    CHECK(read_file(temp.path) == expected);
}

TEST_CASE("the writer stops with EPIPE when the reader of its pipe is gone") {
    ::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    OutputOptions output;
    output.path = "/dev/fd/" + std::to_string(fds[1]);  // a second descriptor for the write end
    Sink sink(output);
    ::close(fds[0]);
    ::close(fds[1]);

    asio::io_context io;
    asio::thread_pool pool(1);
    LineChannel channel(io, 4);
    int completed = 0;
    bool finished = false;
    std::optional<WriteResult> result;
    // No end marker: the writer must return on the error by itself.
    asio::co_spawn(io, produce(channel, {"a\n", "b\n"}, completed, finished), asio::detached);
    asio::co_spawn(io, write_lines(channel, sink, pool.get_executor()), [&](std::exception_ptr error, WriteResult r) {
        REQUIRE_FALSE(error);
        result = r;
    });
    io.run();
    pool.join();
    REQUIRE(result.has_value());
    CHECK(result->error == std::errc::broken_pipe);
    CHECK(result->lines == 0);
}
