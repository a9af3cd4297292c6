// A TCP socket that reads ahead, and can wait before reading. Beast reads a
// frame header into its own 1,536-byte buffer, so a busy feed of small
// messages makes a system call per 1,536 bytes, and one of 16 KiB messages
// two per message, each after a non-blocking epoll_wait from Asio's
// scheduler. This layer reads up to 64 KiB more than Beast asked for, in the
// same recvmsg call (scatter read into Beast's buffer, then its own), and
// serves the next reads from what it got, completing them through the
// executor. Under TLS it does the same for OpenSSL's reads.
//
// A read that follows one which emptied the socket does not try the socket
// first: it waits for it to be readable (which re-arms the descriptor in
// epoll, and reports data that came in between). A feed of a few thousand
// messages a second otherwise made two recvmsg calls per message, one of
// them finding nothing (W5, docs/performance.md).
//
// An idle feed holds no read-ahead buffer: it waits for the socket to be
// readable with nothing allocated, and the 64 KiB buffer is the I/O
// thread's, lent to the socket only while it holds bytes the feed has not
// yet read.
//
// Coalescing (--coalesce): after a read that found data, the next one waits
// until a full read's worth (64 KiB) has arrived or the coalescing time has
// passed, whichever is first, and takes it all in one go. SO_RCVLOWAT keeps
// smaller arrivals from waking the thread; the timer lowers it to 1 when the
// time is up, which makes the socket readable at once. A read that then
// finds nothing ends coalescing: the socket waits for data as usual, and the
// next message is read as soon as it comes. No message waits longer than
// the coalescing time in the socket, and a fast feed is not held back
// (docs/performance.md, "Coalescing reads").
#pragma once

#include "feed_io.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace wsgather {

class ReadAheadSocket {
public:
    using executor_type = FeedExecutor;
    using next_layer_type = FeedSocket;
    using lowest_layer_type = FeedSocket::lowest_layer_type;  // asio::ssl::stream asks for it

    // What one read may take beyond what the caller asked for.
    static constexpr std::size_t read_ahead_bytes = 64u << 10;

    explicit ReadAheadSocket(const executor_type& executor) : socket_(executor) {}

    executor_type get_executor() { return socket_.get_executor(); }
    next_layer_type& next_layer() { return socket_; }
    lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

    // How long a read may wait for more data after one that found some;
    // zero (the default) reads as soon as data arrives. Set between reads.
    void coalesce(std::chrono::milliseconds wait) {
        if (wait.count() == 0) set_coalescing(false);
        coalesce_ = wait;
        if (wait.count() > 0 && !coalescer_) coalescer_ = std::make_shared<Coalescer>(socket_.get_executor());
    }

    // Bytes read from the socket that no read has taken yet.
    std::size_t buffered() const { return ahead_end_ - ahead_begin_; }
    // Whether this socket holds a read-ahead buffer now.
    bool holds_buffer() const { return ahead_ != nullptr; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        // No I/O object is named: the caller's handler already keeps the
        // executor's work count, and a second work guard here would cost an
        // idle feed its size in memory.
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            ReadOp<MutableBuffers>{*this, buffers}, token);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return socket_.async_write_some(buffers, std::forward<Token>(token));
    }

private:
    struct Result {
        boost::system::error_code ec;
        std::size_t bytes = 0;
    };

    template <class MutableBuffers>
    struct ReadOp {
        ReadAheadSocket& socket;
        MutableBuffers buffers;
        enum { start, posted, waited } step = start;
        Result result{};

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}) {
            namespace asio = boost::asio;
            switch (step) {
            case start:
                // A completion must not run inside the call that started
                // the read: what is ready now is delivered from a post.
                if (socket.buffered() > 0 || asio::buffer_size(buffers) == 0) {
                    result = {{}, socket.take_buffered(buffers)};
                } else if (!socket.filled_) {
                    // The last read emptied the socket: one now would most
                    // likely find nothing, so wait for data instead. While
                    // coalescing, the raised low watermark holds that back.
                    if (socket.coalescing_) socket.arm_coalescing_timer();
                    break;
                } else {
                    result = socket.read_now(buffers);
                    if (result.ec == asio::error::would_block) break;
                }
                step = posted;
                return asio::post(socket.get_executor(), std::move(self));
            case posted:
                return self.complete(result.ec, result.bytes);
            case waited:
                socket.disarm_coalescing_timer();
                if (ec) return self.complete(ec, 0);
                result = socket.read_now(buffers);
                if (result.ec != asio::error::would_block) return self.complete(result.ec, result.bytes);
                break;
            }
            step = waited;
            socket.socket_.async_wait(asio::socket_base::wait_read, std::move(self));
        }
    };

    template <class MutableBuffers>
    std::size_t take_buffered(const MutableBuffers& buffers) {
        std::size_t n = boost::asio::buffer_copy(
            buffers, boost::asio::buffer(ahead_.get() + ahead_begin_, ahead_end_ - ahead_begin_));
        ahead_begin_ += n;
        if (ahead_begin_ == ahead_end_) return_buffer();
        return n;
    }

    // One non-blocking recvmsg into the caller's buffers, then the read-ahead
    // buffer; would_block when there is nothing to read. What it finds starts
    // or ends coalescing.
    template <class MutableBuffers>
    Result read_now(const MutableBuffers& buffers) {
        constexpr std::size_t max_pieces = 16;
        std::array<boost::asio::mutable_buffer, max_pieces + 1> pieces;
        std::size_t count = 0, wanted = 0;
        for (auto it = boost::asio::buffer_sequence_begin(buffers), end = boost::asio::buffer_sequence_end(buffers);
             it != end && count < max_pieces; ++it) {
            boost::asio::mutable_buffer piece(*it);
            wanted += piece.size();
            pieces[count++] = piece;
        }
        borrow_buffer();
        pieces[count++] = boost::asio::buffer(ahead_.get(), read_ahead_bytes);
        Result result;
        if (!socket_.non_blocking()) socket_.non_blocking(true, result.ec);
        std::size_t n = result.ec ? 0 : socket_.read_some(std::span(pieces.data(), count), result.ec);
        // A read that filled every buffer left more behind: the next one need not wait.
        filled_ = n == wanted + read_ahead_bytes;
        if (n > 0) set_coalescing(true);
        else if (result.ec == boost::asio::error::would_block) set_coalescing(false);
        if (n > wanted) {
            ahead_begin_ = 0;
            ahead_end_ = n - wanted;
            n = wanted;
        } else {
            return_buffer();
        }
        result.bytes = n;
        return result;
    }

    void borrow_buffer();
    void return_buffer();
    void set_coalescing(bool on);
    void arm_coalescing_timer();
    void disarm_coalescing_timer();

    // The coalescing timer, shared with its pending wait: an expiry already
    // queued when the socket goes away still finds the generation, which
    // tells it that no coalescing wait is pending, so it must not touch the
    // socket.
    struct Coalescer {
        explicit Coalescer(const FeedExecutor& executor) : timer(executor) {}
        FeedTimer timer;
        std::uint64_t generation = 0;  // moves on when a coalescing wait ends
    };

    FeedSocket socket_;
    std::chrono::milliseconds coalesce_{0};
    std::shared_ptr<Coalescer> coalescer_;  // only once coalescing is asked for; an idle feed pays a pointer
    bool coalescing_ = false;           // the last read found data, and the next one waits
    bool filled_ = false;               // the last read filled every buffer it had: more is likely waiting
    std::unique_ptr<char[]> ahead_;  // only while it holds unread bytes, or during a read
    std::size_t ahead_begin_ = 0;
    std::size_t ahead_end_ = 0;
};

// Closing a WebSocket tears down the TCP connection under it; bytes read
// ahead are of no use by then.
void teardown(boost::beast::role_type role, ReadAheadSocket& socket, boost::system::error_code& ec);

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, ReadAheadSocket& socket, TeardownHandler&& handler) {
    boost::beast::websocket::async_teardown(role, socket.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace wsgather
