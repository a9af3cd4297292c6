// ReadAheadSocket over a real loopback TCP connection: one recvmsg takes
// more than was asked for, later reads are served from it in order, an idle
// socket holds no buffer, completions never run inside the call, and
// coalescing holds a busy socket's next read back for its time.
#include "read_ahead.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <poll.h>

#include <chrono>
#include <string>
#include <vector>

using namespace wsgather;
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// A ReadAheadSocket connected to a plain socket on 127.0.0.1; with
// `receive_buffer`, the reader's SO_RCVBUF is set before it connects.
struct Connection {
    asio::io_context io;
    ReadAheadSocket reader{FeedExecutor(io.get_executor())};
    tcp::socket peer{io};

    explicit Connection(int receive_buffer = 0) {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        if (receive_buffer > 0) {
            reader.next_layer().open(tcp::v4());
            reader.next_layer().set_option(asio::socket_base::receive_buffer_size(receive_buffer));
        }
        reader.next_layer().connect(acceptor.local_endpoint());
        acceptor.accept(peer);
    }

    void send(const std::string& bytes) { asio::write(peer, asio::buffer(bytes)); }

    // One async_read_some of at most `size` bytes, run to completion.
    std::pair<error_code, std::string> read(std::size_t size) {
        std::string out(size, '\0');
        error_code result;
        std::size_t got = 0;
        bool done = false;
        reader.async_read_some(asio::buffer(out), [&](error_code ec, std::size_t n) {
            result = ec;
            got = n;
            done = true;
        });
        CHECK_FALSE(done);  // never completed inside the call
        io.restart();
        // Bounded, longer than any wait here: a read that never completes
        // fails the test instead of hanging it.
        io.run_for(std::chrono::seconds(30));
        REQUIRE(done);
        out.resize(got);
        return {result, out};
    }

    // Coalescing on, and a read that found data: the next read will wait.
    void coalesce_after_a_read(std::chrono::milliseconds wait) {
        reader.coalesce(wait);
        send("a");
        CHECK(read(16).second == "a");
    }
};

}  // namespace

TEST_CASE("read-ahead takes what has arrived in one read and serves later reads from it") {
    Connection c;
    std::string sent;
    for (int i = 0; i < 1000; ++i) sent += std::to_string(i) + ",";
    c.send(sent);
    // Wait until the bytes are there, so the first read can take them all.
    c.peer.shutdown(tcp::socket::shutdown_send);
    while (c.reader.next_layer().available() < sent.size()) c.io.poll();

    auto [ec, first] = c.read(10);
    CHECK_FALSE(ec);
    CHECK(first == sent.substr(0, 10));
    CHECK(c.reader.buffered() == sent.size() - 10);
    CHECK(c.reader.next_layer().available() == 0);  // all of it came in that one read

    std::string received = first;
    while (c.reader.buffered() > 0) {
        auto [more_ec, more] = c.read(7);
        CHECK_FALSE(more_ec);
        CHECK_FALSE(more.empty());
        received += more;
    }
    CHECK(received == sent);
    CHECK_FALSE(c.reader.holds_buffer());  // drained: the buffer went back

    auto [end_ec, nothing] = c.read(10);
    CHECK(end_ec == asio::error::eof);
    CHECK(nothing.empty());
}

TEST_CASE("read-ahead: a read that fits what was asked for keeps no buffer") {
    Connection c;
    c.send("hello");
    auto [ec, got] = c.read(64);
    CHECK_FALSE(ec);
    CHECK(got == "hello");
    CHECK(c.reader.buffered() == 0);
    CHECK_FALSE(c.reader.holds_buffer());
}

TEST_CASE("read-ahead: an idle socket waits without a buffer, then reads what arrives") {
    Connection c;
    std::string out(16, '\0');
    error_code result;
    std::size_t got = 0;
    bool done = false;
    c.reader.async_read_some(asio::buffer(out), [&](error_code ec, std::size_t n) {
        result = ec;
        got = n;
        done = true;
    });
    c.io.poll();
    CHECK_FALSE(done);
    CHECK_FALSE(c.reader.holds_buffer());  // nothing to read: nothing held

    c.send("late bytes");
    c.io.run();
    REQUIRE(done);
    CHECK_FALSE(result);
    CHECK(out.substr(0, got) == "late bytes");
}

TEST_CASE("read-ahead: bytes that came after a read emptied the socket are read by the next one") {
    // Such a read waits for the socket to be readable instead of trying it
    // first; the bytes arrived while no wait was pending, and must not be
    // missed.
    Connection c;
    c.send("first");
    CHECK(c.read(64).second == "first");
    c.send("second");
    while (c.reader.next_layer().available() < 6) c.io.poll();

    auto [ec, got] = c.read(64);
    CHECK_FALSE(ec);
    CHECK(got == "second");
}

TEST_CASE("read-ahead: closing the socket ends a waiting read with operation_aborted") {
    Connection c;
    std::string out(16, '\0');
    error_code result;
    bool done = false;
    c.reader.async_read_some(asio::buffer(out), [&](error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    c.io.poll();
    REQUIRE_FALSE(done);
    c.reader.next_layer().close();
    c.io.run();
    REQUIRE(done);
    CHECK(result == asio::error::operation_aborted);
}

TEST_CASE("read-ahead: an empty buffer completes at once with no bytes") {
    Connection c;
    auto [ec, got] = c.read(0);
    CHECK_FALSE(ec);
    CHECK(got.empty());
}

TEST_CASE("read-ahead: more than one read-ahead buffer's worth arrives whole and in order") {
    Connection c;
    std::string sent;
    for (int i = 0; sent.size() < 3 * ReadAheadSocket::read_ahead_bytes; ++i) sent += std::to_string(i) + ";";
    c.send(sent);
    c.peer.shutdown(tcp::socket::shutdown_send);
    std::string received;
    for (;;) {
        auto [ec, got] = c.read(1536);
        if (ec == asio::error::eof) break;
        REQUIRE_FALSE(ec);
        received += got;
    }
    CHECK(received == sent);
}

namespace {

std::size_t low_watermark(ReadAheadSocket& reader) {
    asio::socket_base::receive_low_watermark option;
    reader.next_layer().get_option(option);
    return static_cast<std::size_t>(option.value());
}

}  // namespace

TEST_CASE("coalescing: after a read that found data, the next one waits, and arrivals do not wake it") {
    using namespace std::chrono_literals;
    Connection c;
    c.coalesce_after_a_read(300ms);
    CHECK(low_watermark(c.reader) == ReadAheadSocket::read_ahead_bytes);

    std::string out(16, '\0');
    std::size_t got = 0;
    bool done = false;
    auto started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration took{};
    c.reader.async_read_some(asio::buffer(out), [&](error_code ec, std::size_t n) {
        CHECK_FALSE(ec);
        got = n;
        done = true;
        took = std::chrono::steady_clock::now() - started;
    });
    c.send("b");
    c.send("c");
    c.io.restart();
    while (c.reader.next_layer().available() < 2) c.io.poll();
    CHECK_FALSE(done);
    // Two bytes are there, but the socket does not count as readable.
    pollfd readable{c.reader.next_layer().native_handle(), POLLIN, 0};
    CHECK(::poll(&readable, 1, 0) == 0);

    c.io.run();
    REQUIRE(done);
    CHECK(out.substr(0, got) == "bc");  // both, in the one read the timer allowed
    CHECK(took >= 300ms);
}

TEST_CASE("coalescing: a read that finds nothing ends it, and the socket waits for data as usual") {
    using namespace std::chrono_literals;
    Connection c;
    c.coalesce_after_a_read(100ms);

    std::string out(16, '\0');
    std::size_t got = 0;
    bool done = false;
    c.reader.async_read_some(asio::buffer(out), [&](error_code, std::size_t n) {
        got = n;
        done = true;
    });
    c.io.restart();
    c.io.run_one();  // the timer: nothing came, so the read now waits for readability
    CHECK_FALSE(done);
    CHECK(low_watermark(c.reader) == 1);

    c.send("d");
    c.io.run();
    REQUIRE(done);
    CHECK(out.substr(0, got) == "d");
    CHECK(low_watermark(c.reader) == ReadAheadSocket::read_ahead_bytes);  // found data: coalescing again
}

TEST_CASE("coalescing: a full read's worth arriving ends the wait early") {
    using namespace std::chrono_literals;
    Connection c(1 << 20);
    c.coalesce_after_a_read(10s);  // were the read to wait the time out, the test would take this long

    std::string out(16, '\0');
    std::size_t got = 0;
    bool done = false;
    c.reader.async_read_some(asio::buffer(out), [&](error_code ec, std::size_t n) {
        CHECK_FALSE(ec);
        got = n;
        done = true;
    });
    c.io.restart();
    c.io.poll();
    CHECK_FALSE(done);  // waiting: nothing has come yet

    auto started = std::chrono::steady_clock::now();
    c.send(std::string(ReadAheadSocket::read_ahead_bytes, 'y'));
    while (!done) c.io.run_one();
    CHECK(got == out.size());
    CHECK(out == std::string(16, 'y'));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("coalescing: turned off between reads, the next read does not wait") {
    // What --coalesce auto does when a busy feed turns calm.
    using namespace std::chrono_literals;
    Connection c;
    c.coalesce_after_a_read(1s);
    REQUIRE(low_watermark(c.reader) == ReadAheadSocket::read_ahead_bytes);
    c.reader.coalesce(0ms);
    CHECK(low_watermark(c.reader) == 1);
    auto started = std::chrono::steady_clock::now();
    c.send("e");
    CHECK(c.read(16).second == "e");
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(low_watermark(c.reader) == 1);  // found data, but coalescing stays off
}

TEST_CASE("coalescing: a read that filled every buffer is followed by one that does not wait") {
    using namespace std::chrono_literals;
    Connection c(1 << 20);  // room for more than one read's worth before anything is read
    c.reader.coalesce(10s);  // were the second read to wait, the test would take this long

    std::string sent(10 + ReadAheadSocket::read_ahead_bytes + 100, 'x');
    c.send(sent);
    while (c.reader.next_layer().available() < sent.size()) c.io.poll();

    auto started = std::chrono::steady_clock::now();
    std::string received;
    while (received.size() < sent.size()) {
        auto [ec, got] = c.read(10);
        REQUIRE_FALSE(ec);
        received += got;
    }
    CHECK(received == sent);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}
