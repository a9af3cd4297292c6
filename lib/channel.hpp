// The one bounded channel between the feeds (on one I/O thread, or several
// with --threads) and the writer (a thread of its own). Feeds hand over each
// received message, copied into the channel's current batch; the writer
// takes the whole batch at once, formats it and writes it while the feeds
// fill the next one.
//
// The batch being filled is full at `capacity` messages (--buffer) or at
// batch_bytes of messages, whichever comes first; a message larger than
// that still goes into an empty batch. A feed that finds the batch full is
// suspended until the writer takes it: it does not read its socket
// meanwhile, so TCP slows the server down. The writer holds at most one more
// batch, so at most two batches are in memory. With --overflow drop-oldest
// or drop-newest, the feed drops a message instead (lib/feed.cpp).
//
// Why not asio's channel: it moves one message per operation between two
// threads, and a handover per message cost more than everything else
// wsgather does with it (docs/performance.md); its close() also discards
// buffered messages (asio#1236), where this one is drained first.
#pragma once

#include "envelope.hpp"
#include "feed_io.hpp"
#include "stats.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace wsgather {

// A batch holding this many bytes of messages is full. Bigger batches only
// cost page faults and cache misses while the writer is busy (W3, 16 KiB
// messages: 0.09–0.12 s against 0.10–0.15 s with 4 MiB, and a 27.8 MiB peak
// RSS with no byte limit, docs/performance.md); the batch is handed over
// at half this.
inline constexpr std::size_t batch_bytes = 2u << 20;

// A received message and what its output line needs. The payload is only
// borrowed: the channel copies it.
struct Message {
    Envelope* envelope;  // the feed's; used by the writer thread only
    FeedCounters* counters;  // the feed's: a message dropped from the channel is counted there
    std::uint64_t seq;
    std::uint64_t conn;
    std::chrono::system_clock::time_point received;
    MessageKind kind;
    std::string_view payload;
};

// Messages stored back to back in one growing buffer, so that handing one
// over costs a copy and no allocation once the buffer has grown.
class Batch {
public:
    void append(const Message& message);
    void clear();
    std::size_t size() const { return count_; }
    std::size_t bytes() const { return bytes_.size() - front_; }
    std::size_t capacity_bytes() const { return bytes_.capacity(); }  // the memory it holds
    bool empty() const { return count_ == 0; }
    // Removes the oldest message that is not an event and counts it as
    // dropped; false when the batch holds none. Events stay, in order.
    bool drop_oldest();

    // Calls f(const Message&) for each message in order; the payloads point
    // into the batch.
    template <class F> void for_each(F&& f) const;

private:
    struct Header {
        Envelope* envelope;
        FeedCounters* counters;
        std::uint64_t seq;
        std::uint64_t conn;
        std::chrono::system_clock::time_point received;
        std::size_t size;
        MessageKind kind;
    };

    std::vector<char> bytes_;
    // Where the first message starts: bytes_ before it held dropped ones.
    std::size_t front_ = 0;
    std::size_t count_ = 0;
};

class Channel {
public:
    // capacity is --buffer.
    explicit Channel(std::size_t capacity);
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // I/O threads. Copies the message in if there is room; false when full.
    bool try_send(const Message& message);
    // I/O threads (--overflow drop-oldest). Copies the message in, dropping
    // the oldest messages waiting to make room; false when the channel is
    // full of events, which are never dropped.
    bool send_dropping_oldest(const Message& message);
    // I/O threads. Copies the message in, suspending while the channel is
    // full; the coroutine is resumed on its own executor.
    FeedTask<> send(const Message& message);
    // I/O threads, when they have nothing else to do: the messages queued so far
    // are to be written now (at once, or as soon as the writer is free).
    // Waking the writer per message would cost more than the rest of the
    // work on that message; a channel half full, or holding 1 MiB, is
    // flushed by try_send.
    void flush();
    // After the last send: receive() returns false once drained.
    void close();
    // Any thread: the messages waiting for the writer to take them (--stats).
    std::size_t queued();

    // Writer thread. Blocks until an I/O thread hands messages over (a
    // flush, or a half-full channel), then replaces `batch` with all that
    // are queued; false when closed and nothing is left.
    bool receive(Batch& batch);

private:
    // try_send, and with drop_oldest send_dropping_oldest.
    bool append(const Message& message, bool drop_oldest);
    // Under the lock: appends if there is room; true when it did. `wake` is
    // set when the writer must be notified once the lock is released.
    bool append_locked(const Message& message, bool& wake);
    bool request_flush();  // under the lock: true when the writer must be notified

    const std::size_t capacity_;

    std::mutex mutex_;  // guards all that follows
    std::condition_variable ready_;
    Batch filling_;
    bool closed_ = false;
    bool flush_requested_ = false;  // what is queued is to be written now
    bool writer_waiting_ = false;
    bool writer_notified_ = false;
    // The timers that blocked senders wait on. Each is listed under the same
    // lock under which its sender found the channel full, so the writer,
    // which takes the list with the batch, cannot miss one; it cancels each
    // on the timer's own executor, since a timer belongs to its thread.
    std::vector<FeedTimer*> blocked_;
};

// io_context::run() for an I/O thread, except that whenever the handlers
// ready to run are done, the channel is flushed: the writer gets what the
// feeds queued during that busy spell, in one hand-over.
void run_flushing(boost::asio::io_context& io, Channel& channel);

template <class F>
void Batch::for_each(F&& f) const {
    const char* at = bytes_.data() + front_;
    for (std::size_t i = 0; i < count_; ++i) {
        Header h;
        std::memcpy(&h, at, sizeof h);
        at += sizeof h;
        f(Message{h.envelope, h.counters, h.seq, h.conn, h.received, h.kind, std::string_view(at, h.size)});
        at += h.size;
    }
}

}  // namespace wsgather
