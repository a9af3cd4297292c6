#include "channel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace wsgather {
namespace {

// A batch that grew for a burst of large messages gives its memory back
// once the burst is over (it used less than a quarter of it), so a quiet run
// holds little; while the burst lasts, the memory is reused, since every
// new page costs a fault.
constexpr std::size_t kept_batch_bytes = 16u << 20;

// A batch this large is handed over even when it holds few messages: large
// messages would otherwise make batches of many megabytes, each new page of
// which costs a page fault, and which no cache holds by the time the writer
// reads them (W3, 16 KiB messages: 15,047 page faults, against 165 for the
// ceiling client).
constexpr std::size_t flush_batch_bytes = 1u << 20;

}  // namespace

void Batch::append(const Message& message) {
    Header h{message.envelope, message.seq, message.conn, message.received, message.payload.size(), message.kind};
    // insert, not resize: resizing would first zero the bytes it then copies over.
    const char* header = reinterpret_cast<const char*>(&h);
    bytes_.insert(bytes_.end(), header, header + sizeof h);
    bytes_.insert(bytes_.end(), message.payload.begin(), message.payload.end());
    ++count_;
}

void Batch::clear() {
    // Assigning a new vector, not {}: that would keep the capacity.
    if (bytes_.capacity() > kept_batch_bytes && bytes_.size() < bytes_.capacity() / 4) bytes_ = std::vector<char>();
    else bytes_.clear();
    count_ = 0;
}

Channel::Channel(boost::asio::any_io_executor io, std::size_t capacity) : io_(std::move(io)), capacity_(capacity) {}

bool Channel::try_send(const Message& message) {
    std::unique_lock lock(mutex_);
    if (filling_.size() >= capacity_) {
        senders_blocked_ = true;
        return false;
    }
    filling_.append(message);
    // Half full, or large: hand the batch over now, so the feeds need not
    // stop while the writer works on it.
    bool hand_over = filling_.size() >= std::max<std::size_t>(capacity_ / 2, 1) || filling_.bytes() >= flush_batch_bytes;
    bool wake = hand_over && request_flush();
    lock.unlock();
    if (wake) ready_.notify_one();
    return true;
}

boost::asio::awaitable<void> Channel::send(const Message& message) {
    while (!try_send(message)) {
        // The writer posts wake_senders() once it has taken the batch; that
        // runs on this thread, so it cannot run before this timer is listed.
        boost::asio::steady_timer room(io_, boost::asio::steady_timer::time_point::max());
        blocked_.push_back(&room);
        co_await room.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
}

void Channel::flush() {
    std::unique_lock lock(mutex_);
    bool wake = !filling_.empty() && request_flush();
    lock.unlock();
    if (wake) ready_.notify_one();
}

bool Channel::request_flush() {
    flush_requested_ = true;
    if (!writer_waiting_ || writer_notified_) return false;
    writer_notified_ = true;
    return true;
}

void Channel::wake_senders() {
    for (boost::asio::steady_timer* room : std::exchange(blocked_, {})) room->cancel();
}

void Channel::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    ready_.notify_one();
}

bool Channel::receive(Batch& batch) {
    batch.clear();
    std::unique_lock lock(mutex_);
    writer_waiting_ = true;
    ready_.wait(lock, [this] { return (flush_requested_ && !filling_.empty()) || closed_; });
    writer_waiting_ = false;
    writer_notified_ = false;
    if (filling_.empty()) return false;  // closed, and everything was taken
    flush_requested_ = false;
    std::swap(batch, filling_);
    bool room = std::exchange(senders_blocked_, false);
    lock.unlock();
    if (room) boost::asio::post(io_, [this] { wake_senders(); });
    return true;
}

void run_flushing(boost::asio::io_context& io, Channel& channel) {
    while (!io.stopped()) {
        if (io.poll() == 0) {
            channel.flush();
            io.run_one();
        }
    }
}

}  // namespace wsgather
