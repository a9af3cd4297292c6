// The channel between the feeds and the writer: batches, backpressure,
// draining on close, and the writer that turns batches into output.
#include "channel.hpp"
#include "sink.hpp"
#include "temp_file.hpp"
#include "writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <sstream>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace wsgather;
using wsgather::test::read_file;
using wsgather::test::TempPath;
namespace asio = boost::asio;

namespace {

const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

// The counters of messages whose drops no test looks at.
FeedCounters uncounted;

Message message(Envelope& envelope, std::uint64_t seq, std::string_view payload, FeedCounters& counters = uncounted,
                MessageKind kind = MessageKind::text) {
    return Message{&envelope, &counters, seq, 1, t0, kind, payload};
}

std::vector<std::string> payloads(const Batch& batch) {
    std::vector<std::string> out;
    batch.for_each([&](const Message& m) { out.emplace_back(m.payload); });
    return out;
}

// Sends every payload as a feed does, then closes the channel.
FeedTask<> produce(Channel& channel, Envelope& envelope, const std::vector<std::string>& lines) {
    std::uint64_t seq = 0;
    for (const std::string& line : lines) {
        Message m = message(envelope, ++seq, line);
        if (!channel.try_send(m)) co_await channel.send(m);
    }
    channel.close();
}

// A feed on an I/O thread, the writer on this one, as in a run: returns
// what the writer reported.
WriteResult write_all(std::size_t capacity, const std::vector<std::string>& lines, Outputs& outputs) {
    asio::io_context io;
    Channel channel(capacity);
    Envelope envelope(Format::raw, "f");
    asio::co_spawn(FeedExecutor(io.get_executor()), produce(channel, envelope, lines), asio::detached);
    std::thread feeds([&] { run_flushing(io, channel); });
    WriteResult result = write_lines(channel, outputs);
    feeds.join();
    return result;
}

// Outputs that write every line to `path`.
struct FileOutput : Outputs {
    explicit FileOutput(const std::string& path) { every_line.push_back(std::make_unique<Sink>(path)); }
};

}  // namespace

TEST_CASE("a batch hands back every message, fields and payload, in order") {
    Envelope envelope(Format::jsonl, "f");
    Batch batch;
    std::string big(100'000, 'x');
    batch.append(Message{&envelope, &uncounted, 7, 2, t0, MessageKind::binary, std::string_view("\0\xff", 2)});
    batch.append(message(envelope, 8, ""));
    batch.append(message(envelope, 9, big));
    REQUIRE(batch.size() == 3);
    std::vector<Message> seen;
    batch.for_each([&](const Message& m) { seen.push_back(m); });
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].envelope == &envelope);
    CHECK(seen[0].seq == 7);
    CHECK(seen[0].conn == 2);
    CHECK(seen[0].received == t0);
    CHECK(seen[0].kind == MessageKind::binary);
    CHECK(seen[0].payload == std::string_view("\0\xff", 2));
    CHECK(seen[1].seq == 8);
    CHECK(seen[1].payload.empty());
    CHECK(seen[2].payload == big);
    batch.clear();
    CHECK(batch.empty());
}

TEST_CASE("a batch keeps the memory a burst grew it to while the burst lasts, and gives it back after") {
    Envelope envelope(Format::jsonl, "f");
    const std::string mib(1u << 20, 'x');
    Batch batch;
    auto fill = [&](int messages) {
        for (int i = 0; i < messages; ++i) batch.append(message(envelope, 1, mib));
    };
    fill(20);
    std::size_t grown = batch.capacity_bytes();
    REQUIRE(grown > (16u << 20));
    batch.clear();
    CHECK(batch.capacity_bytes() == grown);  // the burst goes on: its pages are reused
    fill(8);                                 // more than a quarter of it
    batch.clear();
    CHECK(batch.capacity_bytes() == grown);
    batch.append(message(envelope, 1, "small"));  // the burst is over
    batch.clear();
    CHECK(batch.capacity_bytes() < (1u << 20));
}

TEST_CASE("a full channel refuses try_send and holds send until the writer takes the batch") {
    asio::io_context io;
    Channel channel(2);
    Envelope envelope(Format::raw, "f");
    CHECK(channel.try_send(message(envelope, 1, "a")));
    CHECK(channel.try_send(message(envelope, 2, "b")));
    CHECK_FALSE(channel.try_send(message(envelope, 3, "c")));

    bool sent = false;
    asio::co_spawn(FeedExecutor(io.get_executor()), [&]() -> FeedTask<> {
        co_await channel.send(message(envelope, 3, "c"));
        sent = true;
    }, asio::detached);
    io.poll();
    CHECK_FALSE(sent);  // nothing has taken the batch: the sender waits

    // The batch is full, so the writer takes it without waiting for a flush.
    Batch batch;
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(sent);  // the wake-up is posted to the feeds' thread, not run here
    io.poll();
    CHECK(sent);

    channel.flush();
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{"c"});
}

TEST_CASE("a batch is full at batch_bytes of messages, and a larger message still gets into an empty one") {
    Channel channel(1000);
    Envelope envelope(Format::raw, "f");
    const std::string mib(1u << 20, 'm');
    CHECK(channel.try_send(message(envelope, 1, mib)));  // 1 MiB: handed over, not full
    CHECK(channel.try_send(message(envelope, 2, mib)));
    CHECK_FALSE(channel.try_send(message(envelope, 3, "x")));  // 2 MiB: full, whatever the count
    Batch batch;
    REQUIRE(channel.receive(batch));  // no flush needed: past half of batch_bytes
    CHECK(batch.size() == 2);

    const std::string huge(3 * batch_bytes, 'h');
    CHECK(channel.try_send(message(envelope, 3, huge)));
    CHECK_FALSE(channel.try_send(message(envelope, 4, "x")));
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{huge});
}

TEST_CASE("send_dropping_oldest makes room by dropping the oldest messages, counted on their own feeds") {
    Channel channel(3);
    Envelope a(Format::raw, "a"), b(Format::raw, "b");
    FeedCounters a_counts, b_counts;
    CHECK(channel.try_send(message(a, 1, "a1", a_counts)));
    CHECK(channel.try_send(message(b, 1, "b1", b_counts)));
    CHECK(channel.try_send(message(a, 2, "a2", a_counts)));
    CHECK(channel.send_dropping_oldest(message(b, 2, "b2", b_counts)));  // drops a1, which is a's
    CHECK(channel.send_dropping_oldest(message(b, 3, "b3", b_counts)));  // drops b1
    CHECK(a_counts.drops() == 1);
    CHECK(b_counts.drops() == 1);
    channel.flush();
    Batch batch;
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{"a2", "b2", "b3"});
}

TEST_CASE("send_dropping_oldest never drops an event, and keeps events in order") {
    Channel channel(3);
    Envelope envelope(Format::jsonl, "f");
    FeedCounters counts;
    CHECK(channel.try_send(message(envelope, 0, "{\"event\":\"one\"}", counts, MessageKind::event)));
    CHECK(channel.try_send(message(envelope, 1, "m1", counts)));
    CHECK(channel.try_send(message(envelope, 0, "{\"event\":\"two\"}", counts, MessageKind::event)));
    CHECK(channel.send_dropping_oldest(message(envelope, 2, "m2", counts)));  // drops m1, behind an event
    CHECK(counts.drops() == 1);
    // Only events are left to drop: the message gets no room.
    CHECK(channel.send_dropping_oldest(message(envelope, 0, "{\"event\":\"three\"}", counts, MessageKind::event)));
    CHECK_FALSE(channel.send_dropping_oldest(message(envelope, 3, "m3", counts)));
    CHECK(counts.drops() == 2);
    channel.flush();
    Batch batch;
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) ==
          std::vector<std::string>{"{\"event\":\"one\"}", "{\"event\":\"two\"}", "{\"event\":\"three\"}"});
}

TEST_CASE("a batch that keeps dropping its oldest messages stays within twice its live bytes") {
    Envelope envelope(Format::raw, "f");
    FeedCounters counts;
    Batch batch;
    const std::string kib(1024, 'k');
    for (std::uint64_t seq = 1; seq <= 8; ++seq) batch.append(message(envelope, seq, kib, counts));
    std::size_t live = batch.bytes();
    for (std::uint64_t seq = 9; seq <= 10'000; ++seq) {
        REQUIRE(batch.drop_oldest());
        batch.append(message(envelope, seq, kib, counts));
        REQUIRE(batch.bytes() == live);
        REQUIRE(batch.capacity_bytes() <= 4 * live);  // 2 x live, and a vector's doubling
    }
    std::vector<Message> left;
    batch.for_each([&](const Message& m) { left.push_back(m); });
    REQUIRE(left.size() == 8);
    CHECK(left.front().seq == 9'993);
    CHECK(left.back().seq == 10'000);
    CHECK(counts.drops() == 9'992);
}

TEST_CASE("a flush hands over what is queued even when the writer comes for it later") {
    asio::io_context io;
    Channel channel(100);
    Envelope envelope(Format::raw, "f");
    CHECK(channel.try_send(message(envelope, 1, "a")));
    channel.flush();  // the writer is not waiting yet: the request must stay
    Batch batch;
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{"a"});
}

TEST_CASE("a flush wakes a writer that waits for messages") {
    asio::io_context io;
    Channel channel(100);
    Envelope envelope(Format::raw, "f");
    auto received = std::async(std::launch::async, [&] {
        Batch batch;
        bool got = channel.receive(batch);
        return got ? payloads(batch) : std::vector<std::string>{};
    });
    CHECK(channel.try_send(message(envelope, 1, "only")));
    channel.flush();
    CHECK(received.get() == std::vector<std::string>{"only"});
}

TEST_CASE("a closed channel is drained before receive reports the end") {
    asio::io_context io;
    Channel channel(10);
    Envelope envelope(Format::raw, "f");
    CHECK(channel.try_send(message(envelope, 1, "a")));
    CHECK(channel.try_send(message(envelope, 2, "b")));
    channel.close();
    Batch batch;
    REQUIRE(channel.receive(batch));
    CHECK(payloads(batch) == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(channel.receive(batch));
    CHECK(batch.empty());
}

TEST_CASE("the writer writes every line to the file in order, then stops when the channel closes") {
    TempPath temp;
    FileOutput sink(temp.path);
    WriteResult result = write_all(4, {"{\"a\":1}", "second", "third line"}, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 3);
    CHECK(read_file(temp.path) == "{\"a\":1}\nsecond\nthird line\n");
}

TEST_CASE("the writer with no message writes nothing") {
    TempPath temp;
    FileOutput sink(temp.path);
    WriteResult result = write_all(1, {}, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 0);
    CHECK(read_file(temp.path).empty());
}

TEST_CASE("the writer loses no line through a channel of capacity 1") {
    TempPath temp;
    FileOutput sink(temp.path);
    std::vector<std::string> lines;
    std::string expected;
    for (int i = 0; i < 10'000; ++i) {
        lines.push_back(std::to_string(i));
        expected += lines.back() + "\n";
    }
    WriteResult result = write_all(1, lines, sink);
    CHECK_FALSE(result.error);
    CHECK(result.lines == 10'000);
    CHECK(read_file(temp.path) == expected);
}

// --threads: feeds on several I/O threads fill one channel. A sender that
// finds it full must be woken on its own thread, and none may be missed.
TEST_CASE("senders on three I/O threads lose no line through a channel of capacity 2") {
    constexpr int threads = 3, per_thread = 5'000;
    TempPath temp;
    FileOutput sink(temp.path);
    Channel channel(2);
    Envelope envelope(Format::raw, "f");
    std::atomic<int> producing{threads};
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<std::thread> feeds;
    for (int t = 0; t < threads; ++t) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
        asio::co_spawn(FeedExecutor(contexts.back()->get_executor()), [&, t]() -> FeedTask<> {
            for (int i = 0; i < per_thread; ++i) {
                std::string line = std::to_string(t) + " " + std::to_string(i);
                Message m = message(envelope, static_cast<std::uint64_t>(i), line);
                if (!channel.try_send(m)) co_await channel.send(m);
            }
            if (--producing == 0) channel.close();
        }, asio::detached);
    }
    for (int t = 0; t < threads; ++t) feeds.emplace_back([&, t] { run_flushing(*contexts[t], channel); });
    WriteResult result = write_lines(channel, sink);
    for (std::thread& feed : feeds) feed.join();
    CHECK_FALSE(result.error);
    CHECK(result.lines == threads * per_thread);

    // Every thread's lines, each once and in its order.
    std::vector<int> next(threads, 0);
    std::istringstream in(read_file(temp.path));
    int t = 0, i = 0;
    while (in >> t >> i) {
        REQUIRE(t >= 0);
        REQUIRE(t < threads);
        CHECK(i == next[t]);
        next[t] = i + 1;
    }
    CHECK(next == std::vector<int>(threads, per_thread));
}

TEST_CASE("the writer splits output past its 1 MiB block into more writes without loss") {
    TempPath temp;
    FileOutput sink(temp.path);
    std::vector<std::string> lines;
    std::string expected;
    for (int i = 0; i < 40; ++i) {
        lines.push_back(std::string(100'000, static_cast<char>('a' + i % 26)));
        expected += lines.back() + "\n";
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
    FileOutput sink("/dev/fd/" + std::to_string(fds[1]));  // a second descriptor for the write end
    ::close(fds[0]);
    ::close(fds[1]);

    asio::io_context io;
    Channel channel(4);
    Envelope envelope(Format::raw, "f");
    CHECK(channel.try_send(message(envelope, 1, "a")));
    channel.flush();
    // Not closed: the writer must return on the error by itself.
    WriteResult result = write_lines(channel, sink);
    CHECK(result.error == std::errc::broken_pipe);
    CHECK(result.lines == 0);
}
